"""The world the API tests act in: a client with an operator key, and people with money.

The people and their money are set up through the services: what these tests check is the HTTP
layer (status codes, bodies, who may see what), not registration or cash-in themselves.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient

from fakes import FakeClock
from soko.context import Context
from soko.kernel.money import Money
from soko.kernel.transactions import in_transaction
from soko.payments import service as payments
from soko.people import access
from soko.people import service as users
from soko.people.domain import User, UserKind
from soko.people.service import MerchantDetails

PINS = {"amina": "1234", "okello": "4321", "shop": "2468", "agent": "1357", "other_shop": "9753"}


@dataclass
class Api:
    client: TestClient
    ctx: Context
    clock: FakeClock
    #: Headers with the operator's key.
    operator: dict[str, str]
    _keys: Iterator[int] = field(default_factory=itertools.count)

    def new_key(self) -> str:
        return f"test-key-{next(self._keys)}"

    def moving(self, auth: dict[str, str], key: str | None = None) -> dict[str, str]:
        """Headers for a money-moving POST: the credential and a fresh Idempotency-Key."""
        return {**auth, "Idempotency-Key": key or self.new_key()}

    def sign_in(self, user: User, pin: str) -> dict[str, str]:
        response = self.client.post("/v1/sessions", json={"phone": user.phone, "pin": pin})
        assert response.status_code == 201, response.text
        return bearer(response.json()["token"])

    def merchant_key(self, merchant: User) -> dict[str, str]:
        new = access.create_api_key(self.ctx, role="merchant", name="till", merchant_id=merchant.id)
        return bearer(new.secret)

    def transfers(self) -> int:
        """How many transfers the ledger holds: refusals must leave it unchanged."""
        return in_transaction(self.ctx, lambda uow: uow.reconcile.counts()[1], read_only=True)

    def wallet_id(self, user: User, currency: str = "KES") -> str:
        found = self.client.get(f"/v1/users/{user.id}/wallets", headers=self.operator).json()
        return next(w["id"] for w in found["items"] if w["currency"] == currency)

    def balance(self, user: User, currency: str = "KES") -> str:
        path = f"/v1/wallets/{self.wallet_id(user, currency)}"
        amount: str = self.client.get(path, headers=self.operator).json()["balance"]["amount"]
        return amount


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@dataclass(frozen=True)
class People:
    #: A Kenyan consumer with KES 5000.00.
    amina: User
    #: A Ugandan consumer with UGX 200000.
    okello: User
    #: A Kenyan merchant, with nothing yet.
    shop: User
    #: A Kenyan agent with KES 100000.00 and UGX 5000000 of float, less what it cashed in.
    agent: User
    #: A second merchant, for tenancy tests.
    other_shop: User


def populate(ctx: Context) -> People:
    def register(kind: UserKind, phone: str, name: str, pin: str, **extra: Any) -> User:
        return users.register(ctx, kind=kind, phone=phone, name=name, pin=pin, **extra)

    amina = register(UserKind.CONSUMER, "+254712345678", "Amina Njoroge", PINS["amina"])
    okello = register(UserKind.CONSUMER, "+256772123456", "Okello Ochieng", PINS["okello"])
    shop = register(
        UserKind.MERCHANT,
        "+254722123456",
        "Wanjiru Kamau",
        PINS["shop"],
        merchant=MerchantDetails(trading_name="Wanjiru's kiosk", category_code="5411"),
    )
    other_shop = register(
        UserKind.MERCHANT,
        "+254711223344",
        "Baraka Otieno",
        PINS["other_shop"],
        merchant=MerchantDetails(trading_name="Baraka hardware", category_code="5251"),
    )
    agent = register(UserKind.AGENT, "+254733123456", "Mama Mboga agency", PINS["agent"])
    for amount in (Money.parse("100000.00", "KES"), Money.parse("5000000", "UGX")):
        payments.top_up_float(
            ctx, agent_id=agent.id, amount=amount, idempotency_key=f"float-{amount.currency}"
        )
    for person, amount in ((amina, "5000.00"), (okello, "200000")):
        currency = "KES" if person is amina else "UGX"
        payments.cash_in(
            ctx,
            agent_id=agent.id,
            customer_phone=person.phone,
            amount=Money.parse(amount, currency),
            idempotency_key=f"cash-in-{person.id}",
        )
    return People(amina, okello, shop, agent, other_shop)
