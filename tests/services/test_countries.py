"""The countries an operator serves: money to, and accounts for, numbers of other countries are
refused (`country_not_served`), instead of held a week for a number that can never register."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from fakes import FakeClock
from soko import bootstrap
from soko.bootstrap import Runtime
from soko.config import Settings
from soko.context import Context
from soko.kernel.money import Money
from soko.ledger.reconcile import reconcile
from soko.payments import service as payments
from soko.people import service as users
from soko.people.domain import UserKind, served_countries
from soko.people.errors import CountryNotServed, CountryUnknown

#: The United States (dollars are offered, as a second currency), Guernsey, Britain, South Africa.
ABROAD = ["+14155550100", "+447911123456", "+447400123456", "+27821234567"]


def funded_sender(ctx: Context) -> str:
    amina = users.register(ctx, kind=UserKind.CONSUMER, phone="+254712345678", name="Amina")
    agent = users.register(ctx, kind=UserKind.AGENT, phone="+254733000222", name="Agency")
    payments.top_up_float(ctx, agent_id=agent.id, amount=Money.parse("1000.00", "KES"),
                          idempotency_key="float")  # fmt: skip
    payments.cash_in(ctx, agent_id=agent.id, customer_phone=amina.phone,
                     amount=Money.parse("1000.00", "KES"), idempotency_key="in")  # fmt: skip
    return amina.id


@pytest.mark.parametrize("phone", ABROAD)
def test_money_to_a_number_of_a_country_not_served_is_refused(any_ctx: Context, phone: str) -> None:
    sender = funded_sender(any_ctx)
    before = reconcile(any_ctx).transfers
    with pytest.raises(CountryNotServed) as refused:
        payments.send_money(
            any_ctx,
            sender_id=sender,
            to_phone=phone,
            amount=Money.parse("100.00", "KES"),
            idempotency_key="abroad",
        )
    assert refused.value.code == "country_not_served"
    assert reconcile(any_ctx).transfers == before  # nothing held for it


@pytest.mark.parametrize("phone", ABROAD)
def test_a_number_of_a_country_not_served_cannot_register(ctx: Context, phone: str) -> None:
    with pytest.raises(CountryNotServed):
        users.register(ctx, kind=UserKind.CONSUMER, phone=phone, name="Visitor")


def test_a_country_named_must_be_served_too(ctx: Context) -> None:
    with pytest.raises(CountryNotServed):
        users.register(ctx, kind=UserKind.CONSUMER, phone="+254712345678", name="A", country="US")
    with pytest.raises(CountryUnknown):
        users.register(ctx, kind=UserKind.CONSUMER, phone="+254712345678", name="A", country="XX")


def test_by_default_an_operator_serves_the_countries_of_its_currencies(ctx: Context) -> None:
    assert served_countries(["KES", "UGX", "USD"]) == frozenset({"KE", "UG"})
    assert ctx.countries == frozenset({"KE", "UG", "TZ", "RW", "NG", "GH"})
    assert "US" not in ctx.countries and "GB" not in ctx.countries
    users.register(ctx, kind=UserKind.CONSUMER, phone="+233241234567", name="Kofi")  # GH, GHS


@pytest.fixture
def us_too(sqlite_url: str, clock: FakeClock) -> Iterator[Runtime]:
    runtime = bootstrap.build(
        Settings(
            database_url=sqlite_url, countries="KE,US", pin_hash_time_cost=1, pin_hash_memory_kib=8
        ),
        clock=clock,
    )
    yield runtime
    runtime.close()


def test_an_operator_names_the_countries_it_serves(us_too: Runtime) -> None:
    ctx = us_too.context
    assert ctx.countries == frozenset({"KE", "US"})
    sender = funded_sender(ctx)
    payments.send_money(ctx, sender_id=sender, to_phone="+14155550100",
                        amount=Money.parse("100.00", "KES"), idempotency_key="us")  # fmt: skip
    with pytest.raises(CountryNotServed):
        users.register(ctx, kind=UserKind.CONSUMER, phone="+256772123456", name="Okello")


@pytest.mark.parametrize("countries", ["KE,XX", "ke", "KE;UG", ""])
def test_countries_must_be_known_iso_codes(sqlite_url: str, countries: str) -> None:
    with pytest.raises(ValueError, match="countr"):
        bootstrap.build(Settings(database_url=sqlite_url, countries=countries))


def test_the_rule_leaves_other_contexts_alone(ctx: Context) -> None:
    # A context is a plain value: serving one more country is a replace, as tests do.
    wider = replace(ctx, countries=ctx.countries | {"GB"})
    users.register(wider, kind=UserKind.CONSUMER, phone="+447400123456", name="Visitor")
