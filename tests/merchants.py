"""People and shops for merchant tests: tier-2 consumers with money, merchants, snapshots."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import count

from soko.context import Context
from soko.kernel.money import Money
from soko.ledger import service as ledger
from soko.ledger.chart import AccountCode
from soko.ledger.reconcile import reconcile
from soko.payments import service as payments
from soko.people import service as users
from soko.people import wallets
from soko.people.domain import Merchant, User, UserKind
from soko.people.service import MerchantDetails

_numbers = count(100_000)
_keys = count()


def kes(text: str) -> Money:
    return Money.parse(text, "KES")


def key() -> str:
    return f"key-{next(_keys)}"


def phone() -> str:
    return f"+2547{next(_numbers):08d}"


def consumer(ctx: Context, name: str = "Amina", *, funds: str | None = None) -> User:
    user = users.register(ctx, kind=UserKind.CONSUMER, phone=phone(), name=name, pin="2468")
    # Tier 2: the tests are about merchants, not about the KYC limits of small wallets.
    user = users.set_kyc_tier(ctx, user.id, 2, national_id="12345678")
    if funds is not None:
        fund(ctx, user, kes(funds))
    return user


def shop(ctx: Context, category: str = "5999", name: str = "Wanjiru's Kiosk") -> Merchant:
    user = users.register(
        ctx,
        kind=UserKind.MERCHANT,
        phone=phone(),
        name="Wanjiru",
        merchant=MerchantDetails(trading_name=name, category_code=category),
    )
    return users.get_merchant(ctx, user.id)


def fund(ctx: Context, user: User, amount: Money) -> None:
    """Operator float to an agent, then cash in: money enters as it does in the field."""
    agent = users.register(ctx, kind=UserKind.AGENT, phone=phone(), name="Float agent")
    payments.top_up_float(ctx, agent_id=agent.id, amount=amount, idempotency_key=key())
    payments.cash_in(
        ctx, agent_id=agent.id, customer_phone=user.phone, amount=amount, idempotency_key=key()
    )


def balance(ctx: Context, user_id: str, currency: str = "KES") -> int:
    for view in wallets.list_wallets(ctx, user_id):
        if view.wallet.currency == currency:
            return view.balance.amount_minor
    return 0


def available(ctx: Context, user_id: str, currency: str = "KES") -> int:
    """What the user may still spend: the balance less open holds (escrow, payouts)."""
    for view in wallets.list_wallets(ctx, user_id):
        if view.wallet.currency == currency:
            return view.available.amount_minor
    return 0


def fees(ctx: Context) -> int:
    return ledger.system_total(ctx, AccountCode.FEES, "KES").balance


@dataclass
class Snapshot:
    transfers: int
    fees: int

    @classmethod
    def of(cls, ctx: Context) -> Snapshot:
        return cls(reconcile(ctx).transfers, fees(ctx))
