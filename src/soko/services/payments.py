"""Moving money between people: phone-to-phone transfers, cash in and out at agents, float.

Every use case here is one atomic batch of transfers (docs/money-flows.md draws each), checked
against the KYC limits of both sides, priced by the operator's tariff, recorded as a `Payment`,
and idempotent: the caller's key makes a retry return the first result instead of paying twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from soko import limits
from soko.domain import errors
from soko.domain.chart import AccountCode, TransferCode
from soko.domain.fees import FeeKind, fee_table
from soko.domain.kyc import TierLimits, check_incoming, check_outgoing, tier_of
from soko.domain.ledger import Account, TransferRequest, hold, move
from soko.domain.money import Money
from soko.domain.users import User, UserKind, parse_phone
from soko.services import ledger, users
from soko.services.idempotency import run_idempotent
from soko.services.ports import Context, Payment, UnitOfWork, Wallet
from soko.services.transactions import in_transaction
from soko.services.wallets import wallet_for

#: Money leaving a wallet by the customer's own choice: what the daily and monthly limits count
#: (payment kinds; merchant payments and payouts join them as they are built).
OUTGOING_KINDS = frozenset({"p2p", "cash_out"})


def send_money(
    ctx: Context,
    *,
    sender_id: str,
    amount: Money,
    idempotency_key: str | None,
    to_phone: str | None = None,
    to_wallet_id: str | None = None,
    default_region: str | None = None,
    message: str | None = None,
) -> Payment:
    """Send `amount` to a phone number or a wallet, the sender paying the P2P fee.

    A number with no Soko user yet gets the money held for it (sender to suspense, and the fee
    held too) for `ctx.unclaimed_transfer_seconds`: it is paid out when the number registers,
    and expires back to the sender, fee included, if it never does.
    """
    _require_positive(ctx, amount)
    if (to_phone is None) == (to_wallet_id is None):
        raise errors.RecipientRequired()
    phone = parse_phone(to_phone, default_region) if to_phone is not None else None
    if message is not None and len(message) > limits.MESSAGE_LENGTH_MAX:
        raise errors.MessageTooLong(f"a message is at most {limits.MESSAGE_LENGTH_MAX} characters")
    request = {
        "amount": amount.to_decimal_string(),
        "currency": amount.currency.code,
        "to_phone": phone,
        "to_wallet_id": to_wallet_id,
        "message": message,
    }

    def work(uow: UnitOfWork) -> Payment:
        sender = _user(uow, sender_id)
        sender_wallet = _existing_wallet(uow, sender, amount)
        recipient, recipient_wallet = _recipient(uow, ctx, phone, to_wallet_id, amount)
        if recipient_wallet is not None and recipient_wallet.id == sender_wallet.id:
            raise errors.RecipientIsSender()
        locked = _lock(uow, sender_wallet, recipient_wallet)
        _check_outgoing(uow, ctx, sender, sender_wallet, amount)
        if recipient is not None and recipient_wallet is not None:
            _check_incoming(ctx, recipient, locked[recipient_wallet.account_id], amount)
        currency = amount.currency.code
        fee = fee_table(ctx.tariff, currency, FeeKind.P2P).fee_for(amount.amount_minor)
        legs = _Legs(ctx, currency, reference=ctx.ids.new("pay"))
        fees = ledger.system_account_in(uow, ctx, AccountCode.FEES, currency)
        hold_id = fee_hold_id = None
        if recipient_wallet is not None:
            legs.move(sender_wallet.account_id, recipient_wallet.account_id, amount.amount_minor,
                      TransferCode.P2P)  # fmt: skip
            legs.move(sender_wallet.account_id, fees.id, fee, TransferCode.FEE)
        else:
            suspense = ledger.system_account_in(uow, ctx, AccountCode.SUSPENSE, currency)
            hold_id = legs.hold(sender_wallet.account_id, suspense.id, amount.amount_minor,
                                TransferCode.P2P)  # fmt: skip
            fee_hold_id = legs.hold(sender_wallet.account_id, fees.id, fee, TransferCode.FEE)
        ledger.record(uow, ctx, legs.requests)
        return _record(uow, ctx, legs, "p2p", amount, payer=sender_wallet,
                       payee=recipient_wallet, fee=fee, commission=0, payee_phone=phone,
                       message=message, hold_id=hold_id, fee_hold_id=fee_hold_id)  # fmt: skip

    return _idempotent(ctx, f"user:{sender_id}:p2p", idempotency_key, request, work)


def cash_in(
    ctx: Context,
    *,
    agent_id: str,
    customer_phone: str,
    amount: Money,
    idempotency_key: str | None,
    default_region: str | None = None,
) -> Payment:
    """A customer hands the agent cash; the agent's float becomes the customer's e-money.

    The agent earns the tariff's deposit commission, an operator cost (commission_expense).
    """
    _require_positive(ctx, amount)
    phone = parse_phone(customer_phone, default_region)
    request = {"amount": amount.to_decimal_string(), "currency": amount.currency.code,
               "customer_phone": phone}  # fmt: skip

    def work(uow: UnitOfWork) -> Payment:
        agent = _user(uow, agent_id, kind=UserKind.AGENT)
        customer = uow.people.get_user_by_phone(phone)
        if customer is None:
            raise errors.UserNotFound(phone=phone)
        if customer.id == agent.id:
            raise errors.RecipientIsSender()
        currency = amount.currency.code
        float_wallet = _existing_wallet(uow, agent, amount)
        customer_wallet = wallet_for(uow, ctx, customer, currency)
        locked = _lock(uow, float_wallet, customer_wallet)
        _check_incoming(ctx, customer, locked[customer_wallet.account_id], amount)
        commission = fee_table(ctx.tariff, currency, FeeKind.CASH_IN_COMMISSION).fee_for(
            amount.amount_minor
        )
        expense = ledger.system_account_in(uow, ctx, AccountCode.COMMISSION_EXPENSE, currency)
        legs = _Legs(ctx, currency, reference=ctx.ids.new("pay"))
        legs.move(float_wallet.account_id, customer_wallet.account_id, amount.amount_minor,
                  TransferCode.CASH_IN)  # fmt: skip
        legs.move(expense.id, float_wallet.account_id, commission, TransferCode.COMMISSION)
        ledger.record(uow, ctx, legs.requests)
        return _record(uow, ctx, legs, "cash_in", amount, payer=float_wallet,
                       payee=customer_wallet, fee=0, commission=commission)  # fmt: skip

    return _idempotent(ctx, f"user:{agent_id}:cash_in", idempotency_key, request, work)


def cash_out(
    ctx: Context,
    *,
    customer_id: str,
    agent_id: str,
    amount: Money,
    pin: str,
    idempotency_key: str | None,
) -> Payment:
    """A customer takes cash from an agent: e-money to the agent's float, a fee to the operator,
    part of the fee to the agent as commission. The customer confirms with the PIN."""
    _require_positive(ctx, amount)
    request = {"amount": amount.to_decimal_string(), "currency": amount.currency.code,
               "agent_id": agent_id}  # fmt: skip

    def work(uow: UnitOfWork) -> Payment:
        customer = _user(uow, customer_id)
        agent = _user(uow, agent_id, kind=UserKind.AGENT)
        if customer.id == agent.id:
            raise errors.RecipientIsSender()
        currency = amount.currency.code
        customer_wallet = _existing_wallet(uow, customer, amount)
        float_wallet = wallet_for(uow, ctx, agent, currency)
        _lock(uow, customer_wallet, float_wallet)
        _check_outgoing(uow, ctx, customer, customer_wallet, amount)
        fee = fee_table(ctx.tariff, currency, FeeKind.CASH_OUT).fee_for(amount.amount_minor)
        commission = fee_table(ctx.tariff, currency, FeeKind.CASH_OUT_COMMISSION).fee_for(
            amount.amount_minor
        )
        # The agent's share comes out of the fee just paid, so the fees account never dips.
        assert commission <= fee, (commission, fee)
        fees = ledger.system_account_in(uow, ctx, AccountCode.FEES, currency)
        legs = _Legs(ctx, currency, reference=ctx.ids.new("pay"))
        legs.move(customer_wallet.account_id, float_wallet.account_id, amount.amount_minor,
                  TransferCode.CASH_OUT)  # fmt: skip
        legs.move(customer_wallet.account_id, fees.id, fee, TransferCode.FEE)
        legs.move(fees.id, float_wallet.account_id, commission, TransferCode.COMMISSION)
        ledger.record(uow, ctx, legs.requests)
        return _record(uow, ctx, legs, "cash_out", amount, payer=customer_wallet,
                       payee=float_wallet, fee=fee, commission=commission)  # fmt: skip

    # The PIN is checked (and a wrong one counted) in its own transaction, before the money
    # moves; a replay of an already completed cash-out needs the PIN too.
    users.verify_pin(ctx, customer_id, pin)
    return _idempotent(ctx, f"user:{customer_id}:cash_out", idempotency_key, request, work)


def top_up_float(
    ctx: Context, *, agent_id: str, amount: Money, idempotency_key: str | None
) -> Payment:
    """The operator sells an agent e-money float against money received at its bank."""
    _require_positive(ctx, amount)
    request = {"amount": amount.to_decimal_string(), "currency": amount.currency.code,
               "agent_id": agent_id}  # fmt: skip

    def work(uow: UnitOfWork) -> Payment:
        agent = _user(uow, agent_id, kind=UserKind.AGENT)
        currency = amount.currency.code
        float_wallet = wallet_for(uow, ctx, agent, currency)
        settlement = ledger.system_account_in(uow, ctx, AccountCode.SETTLEMENT, currency)
        legs = _Legs(ctx, currency, reference=ctx.ids.new("pay"))
        legs.move(settlement.id, float_wallet.account_id, amount.amount_minor,
                  TransferCode.FLOAT_TOPUP)  # fmt: skip
        ledger.record(uow, ctx, legs.requests)
        return _record(uow, ctx, legs, "float_topup", amount, payer=None, payee=float_wallet,
                       fee=0, commission=0)  # fmt: skip

    return _idempotent(ctx, "operator:float_topup", idempotency_key, request, work)


def get_payment(ctx: Context, payment_id: str) -> Payment:
    found = in_transaction(ctx, lambda uow: uow.people.get_payment(payment_id), read_only=True)
    if found is None:
        raise errors.PaymentNotFound(payment_id=payment_id)
    return found


# --- the pieces -----------------------------------------------------------------------------


def _require_positive(ctx: Context, amount: Money) -> None:
    """The amount rules every movement shares, before any wallet is looked at."""
    if amount.amount_minor <= 0:
        raise errors.AmountMustBePositive()
    if amount.currency.code not in ctx.kyc_limits:
        raise errors.CurrencyNotOffered(f"this operator holds no {amount.currency.code} wallets")


def _user(uow: UnitOfWork, user_id: str, *, kind: UserKind | None = None) -> User:
    user = uow.people.get_user(user_id)
    if user is None:
        raise errors.UserNotFound(user_id=user_id)
    if kind is not None and user.kind is not kind:
        raise errors.UserKindMismatch(f"{user_id} is a {user.kind.value}, not a {kind.value}")
    return user


def _existing_wallet(uow: UnitOfWork, user: User, amount: Money) -> Wallet:
    """The paying side must already hold a wallet in the currency (an empty one pays nothing)."""
    wallet = uow.people.find_wallet(user.id, amount.currency.code)
    if wallet is None:
        raise errors.ExceedsCredits(f"no {amount.currency.code} wallet: 0 available", available=0)
    return wallet


def _recipient(
    uow: UnitOfWork, ctx: Context, phone: str | None, wallet_id: str | None, amount: Money
) -> tuple[User | None, Wallet | None]:
    if wallet_id is not None:
        wallet = uow.people.get_wallet(wallet_id)
        if wallet is None:
            raise errors.WalletNotFound(wallet_id=wallet_id)
        if wallet.currency != amount.currency.code:
            raise errors.CurrencyMismatch(
                f"the wallet holds {wallet.currency}, the amount is {amount.currency.code}"
            )
        return _user(uow, wallet.user_id), wallet
    assert phone is not None
    user = uow.people.get_user_by_phone(phone)
    if user is None:
        return None, None
    return user, wallet_for(uow, ctx, user, amount.currency.code)


def _lock(uow: UnitOfWork, *wallets: Wallet | None) -> dict[str, Account]:
    """Lock both sides' accounts up front, in id order, before reading what limits need."""
    return uow.ledger.lock_accounts([w.account_id for w in wallets if w is not None])


def _limits(ctx: Context, user: User, currency: str) -> TierLimits:
    tiers = ctx.kyc_limits.get(currency)
    if tiers is None:
        raise errors.CurrencyNotOffered(f"this operator holds no {currency} wallets")
    return tiers[tier_of(user.kyc_tier)]


def _check_outgoing(
    uow: UnitOfWork, ctx: Context, user: User, wallet: Wallet, amount: Money
) -> None:
    """The sender's KYC limits. Call with the wallet's account locked: concurrent payments from
    one wallet then see each other's totals."""
    if user.kind is UserKind.AGENT:
        return  # an agent's float is the operator's own instrument, bounded by the float itself
    now = ctx.clock.now().astimezone(ctx.timezone)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    month = day.replace(day=1)
    check_outgoing(
        _limits(ctx, user, amount.currency.code),
        amount=amount.amount_minor,
        spent_today=uow.people.outgoing_since(wallet.id, OUTGOING_KINDS, day),
        spent_this_month=uow.people.outgoing_since(wallet.id, OUTGOING_KINDS, month),
        currency=amount.currency.code,
    )


def _check_incoming(ctx: Context, user: User, account: Account, amount: Money) -> None:
    if user.kind is not UserKind.CONSUMER:
        return  # merchants and agents take their takings; consumer wallets are capped
    check_incoming(
        _limits(ctx, user, amount.currency.code),
        amount=amount.amount_minor,
        balance=account.balance + account.credits_pending,
        currency=amount.currency.code,
    )


@dataclass(slots=True)
class _Legs:
    """The transfers of one payment, in order, all referring to it; zero amounts are left out
    (a free band in the tariff), because a transfer moves a positive amount."""

    ctx: Context
    currency: str
    reference: str
    requests: list[TransferRequest] = field(default_factory=list)

    def move(self, debit: str, credit: str, amount: int, code: TransferCode) -> None:
        if amount:
            self.requests.append(
                move(self.ctx.ids.new("tr"), debit_account_id=debit, credit_account_id=credit,
                     amount=amount, currency=self.currency, code=code, reference=self.reference)
            )  # fmt: skip

    def hold(self, debit: str, credit: str, amount: int, code: TransferCode) -> str | None:
        """Hold for an unregistered recipient; returns the hold's id (None for a zero amount)."""
        if not amount:
            return None
        hold_id = self.ctx.ids.new("tr")
        self.requests.append(
            hold(hold_id, debit_account_id=debit, credit_account_id=credit, amount=amount,
                 currency=self.currency, code=code,
                 timeout_seconds=self.ctx.unclaimed_transfer_seconds, reference=self.reference)
        )  # fmt: skip
        return hold_id


def _record(
    uow: UnitOfWork,
    ctx: Context,
    legs: _Legs,
    kind: str,
    amount: Money,
    *,
    payer: Wallet | None,
    payee: Wallet | None,
    fee: int,
    commission: int,
    payee_phone: str | None = None,
    message: str | None = None,
    hold_id: str | None = None,
    fee_hold_id: str | None = None,
) -> Payment:
    """The business record of a payment, written in the transaction of its transfers."""
    payment = Payment(
        id=legs.reference,
        kind=kind,
        currency=amount.currency.code,
        amount=amount.amount_minor,
        fee=fee,
        commission=commission,
        payer_wallet_id=None if payer is None else payer.id,
        payee_wallet_id=None if payee is None else payee.id,
        payee_phone=payee_phone,
        message=message,
        hold_id=hold_id,
        fee_hold_id=fee_hold_id,
        created_at=ctx.clock.now(),
    )
    uow.people.insert_payment(payment)
    return payment


def _idempotent(
    ctx: Context,
    scope: str,
    key: str | None,
    request: dict[str, Any],
    work: Callable[[UnitOfWork], Payment],
) -> Payment:
    return run_idempotent(
        ctx, scope=scope, key=key, request=request, work=work, encode=_encode, decode=_decode
    ).value


def _encode(payment: Payment) -> str:
    values = asdict(payment)
    values["created_at"] = payment.created_at.isoformat()
    return json.dumps(values)


def _decode(text: str) -> Payment:
    values = json.loads(text)
    values["created_at"] = datetime.fromisoformat(values["created_at"])
    return Payment(**values)


__all__ = [
    "OUTGOING_KINDS",
    "cash_in",
    "cash_out",
    "get_payment",
    "send_money",
    "top_up_float",
]
