"""Schemathesis over the OpenAPI document: every response is one the document describes.

The schema is read from the app in-process (`/openapi.json`) and every operation gets a bounded,
derandomized run of schemathesis's default checks (all of them: server errors, status codes,
content types, response schemas and headers, positive and negative data, auth, methods...), once
with an operator key and once with a consumer's session token, then a stateful run along the
links schemathesis infers (POST /v1/users -> GET /v1/users/{user_id} -> its wallets...).

Each test gets a fresh SQLite database holding the demo (agents with float, consumers with money,
merchants). Generated ids are mostly unknown (404); in positive cases some are swapped for real
ones of the right kind, so that the 200s and 201s, and the business rules behind them, are
exercised too.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.specs.openapi.checks import positive_data_acceptance
from starlette.types import ASGIApp, Receive, Scope, Send

from soko import bootstrap, demo
from soko.bootstrap import Runtime
from soko.channels.api.app import create_app
from soko.config import Settings
from soko.db.metadata import metadata
from soko.kernel.money import Money
from soko.payments import service as payments
from soko.people import access, wallets
from soko.people.domain import UserKind

#: Examples per operation and per phase: enough to reach every documented refusal, small enough
#: for CI (the whole file takes about 25 s on two cores). SOKO_FUZZ_SCALE=N multiplies them for
#: a longer run (README, "Longer fuzzing").
FUZZ_SCALE = int(os.environ.get("SOKO_FUZZ_SCALE", "1"))
EXAMPLES_PER_OPERATION = 25 * FUZZ_SCALE
STATEFUL_SCENARIOS = 20 * FUZZ_SCALE
STATEFUL_STEPS = 6


class _World:
    """What schemathesis talks to: the running test's app, its credential and its ids.

    The schema is loaded once, at import, so that pytest shows one test per operation; each test
    then points this at an app of its own.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.secret = ""
        #: Real ids by the field or path parameter that takes them.
        self.ids: dict[str, list[str]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def _document_app() -> FastAPI:
    # Building the app opens no connection: this database file is never created.
    with tempfile.TemporaryDirectory() as directory:
        runtime = bootstrap.build(Settings(database_url=f"sqlite:///{directory}/unused.db"))
        runtime.close()
    return create_app(runtime)


#: `format: phone` is a number that exists: the demo's people, and new Kenyan and Ugandan ones.
DEMO_PHONES = ["+254733100200", "+256772100200", "+254712100200", "+254722100200", "+256782100200"]
schemathesis.openapi.format(
    "phone",
    st.sampled_from(DEMO_PHONES) | st.from_regex(r"\A\+(2547[0-9]{8}|25677[0-9]{7})\Z"),
)

WORLD = _World(_document_app())
# Loaded at import, not with `schemathesis.pytest.from_fixture`: that one sets `Item._nodeid`,
# which pytest 9.2 no longer has (AttributeError with schemathesis 4.32.5).
schema = schemathesis.openapi.from_asgi("/openapi.json", WORLD)
# Text that is not text, in every field: NULs in generated strings (schemathesis's default, said
# here because it is the point: a NUL answered 500 on PostgreSQL), and lone surrogates, which
# schemathesis never generates (no URL or header can carry one), put into body strings by
# `flatmap_case` below. Both must be refused as text_invalid, never a 500.
schema.config.generation.update(allow_x00=True)
NOT_TEXT = ("\ud800", "\udc00", "\udfff", "\x00")

# --- positive_data_acceptance ------------------------------------------------------------------
# schemathesis's `positive_data_acceptance` wants each request the document allows accepted:
# 2xx, or 401, 403, 404, 409. Soko answers 422 when a value or business rule refuses one, and
# some rules are beyond what a JSON Schema can state. ACCEPT_RULE_REFUSALS lets exactly those
# codes through and still fails any other refusal of schema-valid data (request_invalid,
# pin_malformed, amount_too_precise...), so the document and the API's own checks must agree.
# It narrows one of schemathesis's default checks: a 422 for a business rule is the documented
# contract (ARCHITECTURE.md, RFC 9457 problems), and each accepted code is listed here.
ACCEPT_RULE_REFUSALS = True
RULE_REFUSALS = frozenset(
    {
        # Whether a number exists in its country's plan, and the country is one Soko serves.
        "phone_number_invalid",
        "country_unknown",
        "country_not_served",
        # Printable characters (Unicode categories: no JSON Schema pattern says it portably).
        "name_invalid",
        "city_invalid",
        "bank_account_name_invalid",
        # A mobile-money number takes only its own country's currency.
        "mobile_money_currency_mismatch",
        # What an id names: an agent, another person, a wallet in the amount's currency.
        "user_kind_mismatch",
        "recipient_is_sender",
        "currency_mismatch",
        # A NUL or a lone surrogate: a JSON Schema cannot refuse them portably in every string.
        "text_invalid",
        # Amounts: zero, 64 bits of minor units, money held, KYC limits.
        "amount_must_be_positive",
        "amount_overflows",
        "exceeds_credits",
        "no_wallet_in_currency",
        "exceeds_transaction_limit",
        "exceeds_daily_limit",
        "exceeds_monthly_limit",
        "exceeds_balance_limit",
        # The state of things: a wallet's currency by the user's country, a national id on
        # record, a key used before, a cursor this API issued.
        "currency_not_offered",
        "national_id_required",
        "idempotency_key_reused",
        "cursor_invalid",
        # An operator key must name whom it acts for; the document cannot tie a field to a
        # kind of credential.
        "acting_for_required",
        # A webhook URL's host, credentials and fragment (the pattern states the scheme), and
        # the number of endpoints a merchant already has.
        "webhook_url_invalid",
        "webhook_endpoint_limit_reached",
        # QR codes: whether a payload is a well-formed EMVCo code with a matching CRC (any
        # string is a schema-valid payload to decode), and whether a code's amount fits tag 54's
        # 13 characters and the decimals of its currency, which defaults to the merchant's
        # settlement currency: neither is something a JSON Schema can state.
        "qr_malformed",
        "qr_checksum_invalid",
        "qr_field_invalid",
        "amount_too_precise",
        # A tracking event's time: `format: date-time` admits leap seconds, year 0000 and any
        # future or long past date; Soko takes real times, not ahead of its clock, within a year.
        "tracking_event_time_invalid",
        # Escrow orders: item names of printable characters (as for names above), and a ship-by
        # date after now and within 90 days, which no schema can state relative to the clock.
        "order_items_invalid",
        "deadline_invalid",
        # A scanned code and a payment request decide the amount; a static code needs the payer's.
        # FX: a rate's currencies are two different ones Soko knows (the path admits any three
        # letters); a rate file's content; and what rates, corridors and liquidity the operator
        # holds now, which no schema states.
        "fx_rate_invalid",
        "fx_rate_file_invalid",
        "fx_corridor_disabled",
        "fx_rate_stale",
        "fx_amount_outside_corridor",
        "fx_amount_too_small",
        "fx_quote_mismatch",
        "fx_liquidity_insufficient",
        "fx_period_invalid",
        # M-Pesa: whether this operator set the rail up at all (the tests' server has not), and
        # Daraja's own bounds, which no schema of ours states: whole shillings up to 250,000,
        # Safaricom numbers, and what a receipt's state allows.
        "mpesa_not_configured",
        "mpesa_amount_invalid",
        "mpesa_phone_invalid",
        "mpesa_reversal_not_allowed",
        "mpesa_payment_not_in_suspense",
        "amount_differs_from_request",
        "amount_required",
        "qr_not_payable",
        "qr_currency_unknown",
    }
)

if ACCEPT_RULE_REFUSALS:
    schema.config.checks.positive_data_acceptance.enabled = False

    @schemathesis.check
    def positive_data_refused_only_by_rules(
        ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
    ) -> bool | None:
        try:
            return positive_data_acceptance(ctx, response, case)
        except RejectedPositiveData:
            code = response.json().get("code")
            if response.status_code == 422 and code in RULE_REFUSALS:
                return None
            if response.status_code == 400 and code == "text_invalid":  # a NUL in a path or query
                return None
            raise


@schema.auth(refresh_interval=None)
class _Bearer:
    """The running test's credential on every call (schemathesis's own probes take it off)."""

    def get(self, case: schemathesis.Case, ctx: schemathesis.AuthContext) -> str:
        return WORLD.secret

    def set(self, case: schemathesis.Case, data: str, ctx: schemathesis.AuthContext) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@schema.hook
def flatmap_case(context: schemathesis.HookContext, case: schemathesis.Case) -> Any:
    """Real ids in half of the positive cases, then text that is not text in a share of all."""
    return _with_real_ids(case).flatmap(_with_text_that_is_not_text)


def _with_text_that_is_not_text(case: schemathesis.Case) -> Any:
    """The case, or the case with a lone surrogate or a NUL inside one of its body's strings."""
    leaves = _string_leaves(case.body)
    if not leaves:
        return st.just(case)

    def spoil(pick: tuple[int, str, int]) -> schemathesis.Case:
        index, bad, at = pick
        # Sent as the JSON text itself, the surrogate escaped ("\\ud800"): schemathesis checks a
        # body it holds as data against the schema in Rust, which has no lone surrogates. (So
        # it counts the case as negative data: it must be refused, and it is.)
        spoiled = _spoiled(case.body, leaves[index % len(leaves)], bad, at)
        case.body = json.dumps(spoiled).encode()
        return case

    picks = st.tuples(st.integers(0, 99), st.sampled_from(NOT_TEXT), st.integers(0, 8))
    return st.one_of(st.just(case), picks.map(spoil))


def _string_leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, str):
        return [path]
    if isinstance(value, dict):
        return [leaf for key, item in value.items() for leaf in _string_leaves(item, (*path, key))]
    if isinstance(value, list):
        return [leaf for i, item in enumerate(value) for leaf in _string_leaves(item, (*path, i))]
    return []


def _spoiled(value: Any, path: tuple[Any, ...], bad: str, at: int) -> Any:
    """A copy of `value` with `bad` inside the string at `path`."""
    if not path:
        return value[:at] + bad + value[at:]
    head, *rest = path
    copied = dict(value) if isinstance(value, dict) else list(value)
    copied[head] = _spoiled(value[head], tuple(rest), bad, at)
    return copied


def _with_real_ids(case: schemathesis.Case) -> Any:
    """In half of the positive cases, ids the world holds instead of generated ones."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return st.just(case)
    body = case.body if isinstance(case.body, dict) else {}
    path_names = [name for name in (case.path_parameters or {}) if name in WORLD.ids]
    body_names = [name for name in body if name in WORLD.ids and body[name] is not None]
    if not path_names and not body_names:
        return st.just(case)

    def real(picks: dict[str, int]) -> schemathesis.Case:
        for name in path_names:
            case.path_parameters = {**case.path_parameters, name: _pick(name, picks[name])}
        for name in body_names:
            body[name] = _pick(name, picks[name])
        return case

    picks = st.fixed_dictionaries({name: st.integers(0, 99) for name in path_names + body_names})
    return st.one_of(st.just(case), picks.map(real))


def _pick(name: str, index: int) -> str:
    choices = WORLD.ids[name]
    return choices[index % len(choices)]


def _serve_demo(runtime: Runtime) -> None:
    """Load the demo into the runtime's (empty) database and serve it to schemathesis."""
    ctx = runtime.context
    summary, _ = demo.load_demo(ctx)
    assert summary is not None and summary.offer is not None
    people = {person.phone: person.user_id for person in summary.people}
    by_kind = {
        kind: [p.user_id for p in summary.people if p.kind == kind.value] for kind in UserKind
    }
    wallet_ids = [
        found.wallet.id for p in summary.people for found in wallets.list_wallets(ctx, p.user_id)
    ]
    payment = payments.send_money(
        ctx,
        sender_id=people[AMINA],
        to_phone="+254722100200",
        amount=Money.parse("10.00", "KES"),
        idempotency_key="schemathesis",
    )
    spare = access.create_api_key(ctx, role="operator", name="spare")
    WORLD.ids = {
        "user_id": list(people.values()),
        "wallet_id": wallet_ids,
        "payment_id": [payment.id],
        "key_id": [spare.key.id],
        "agent_id": by_kind[UserKind.AGENT],
        "customer_id": by_kind[UserKind.CONSUMER],
        "sender_id": by_kind[UserKind.CONSUMER],
        "merchant_id": by_kind[UserKind.MERCHANT],
        "to_wallet_id": wallet_ids,
        # The demo grocery's credit offer: taking it is the merchant's alone (403, or
        # user_kind_mismatch for a consumer's session).
        "offer_id": [summary.offer.id],
    }
    WORLD.app = create_app(runtime)


def _as_operator(runtime: Runtime) -> None:
    WORLD.secret = access.create_api_key(runtime.context, role="operator", name="st").secret


def _empty(runtime: Runtime) -> None:
    with runtime.engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(table.delete())


#: A Kenyan consumer with KES 14140.00 and a national id on record (KYC tier 1).
AMINA = "+254712100200"


@pytest.fixture
def world(runtime: Runtime) -> Iterator[Runtime]:
    """The demo on a fresh database, served to schemathesis."""
    _serve_demo(runtime)
    yield runtime
    WORLD.app = _document_app()
    WORLD.secret = ""
    WORLD.ids = {}


@pytest.fixture
def as_operator(world: Runtime) -> None:
    _as_operator(world)


@pytest.fixture
def as_consumer(world: Runtime) -> None:
    WORLD.secret = access.sign_in(world.context, phone=AMINA, pin=demo.DEMO_PIN).token


BOUNDED = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    database=None,
    # The demo world is set up per test, outside Hypothesis: that is the point of it.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@schema.parametrize()
@BOUNDED
def test_as_operator(case: schemathesis.Case, as_operator: None) -> None:
    case.call_and_validate()


@schema.parametrize()
@BOUNDED
def test_as_consumer(case: schemathesis.Case, as_consumer: None) -> None:
    case.call_and_validate()


def test_stateful_as_operator(world: Runtime) -> None:
    class Scenario(schema.as_state_machine()):  # type: ignore[misc]
        """Each scenario starts from the demo alone: Hypothesis replays a scenario to shrink it,
        and a replay must meet the world the first run met."""

        def setup(self) -> None:
            _empty(world)
            _serve_demo(world)
            _as_operator(world)

    Scenario.run(
        settings=settings(
            BOUNDED, max_examples=STATEFUL_SCENARIOS, stateful_step_count=STATEFUL_STEPS
        )
    )
