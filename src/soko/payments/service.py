"""Moving money between people: phone-to-phone, cash in and out at agents, float, paying a
merchant at its till, and refunds.

Every use case here is one atomic batch of transfers (docs/money-flows.md draws each), checked
against the KYC limits of both sides, priced by the operator's tariff, recorded as a `Payment`,
and idempotent: the caller's key makes a retry return the first result instead of paying twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from soko.context import Context, UnitOfWork
from soko.kernel import limits
from soko.kernel.errors import AmountMustBePositive, CurrencyMismatch
from soko.kernel.idempotency import run_idempotent
from soko.kernel.money import Currency, Money
from soko.kernel.transactions import in_transaction
from soko.ledger import service as ledger
from soko.ledger.chart import AccountCode, TransferCode
from soko.ledger.domain import Account, TransferRequest, hold, move
from soko.notify import service as webhooks
from soko.notify import sms_service as sms
from soko.notify.domain import EventType
from soko.payments.domain import (
    OPERATOR,
    OUTGOING_KINDS,
    Payment,
    PaymentKind,
    Refund,
    fee_to_return,
    held_for_you_text,
    paid_text,
    received_text,
    refunded_text,
    text_name,
)
from soko.payments.errors import (
    ExceedsRefundableAmount,
    MerchantNotFound,
    PaymentNotFound,
    PaymentNotRefundable,
)
from soko.payments.fees import FeeKind, fee_table, merchant_rate
from soko.people import service as users
from soko.people.domain import (
    Merchant,
    User,
    UserKind,
    Wallet,
    agent_subject,
    check_served,
    parse_phone,
)
from soko.people.errors import (
    MessageTooLong,
    NoWalletInCurrency,
    RecipientIsSender,
    RecipientRequired,
    UserKindMismatch,
    UserNotFound,
    WalletNotFound,
)
from soko.people.kyc import TierLimits, check_incoming, check_outgoing, tier_of
from soko.people.wallets import check_amount, check_currency_offered, wallet_for

_Record = TypeVar("_Record", Payment, Refund)

#: Money leaving a wallet by the customer's own choice: what the daily and monthly limits count.
#: The fx_ kinds are cross-currency payments to others (soko.fx records them, counting the
#: amount converted); converting between one's own wallets (fx_conversion) is not counted.


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
    check_amount(ctx, amount)
    if (to_phone is None) == (to_wallet_id is None):
        raise RecipientRequired()
    phone = parse_phone(to_phone, default_region) if to_phone is not None else None
    if phone is not None:
        check_served(phone, ctx.countries)
    _check_message(message)
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
            raise RecipientIsSender()
        locked = _lock(uow, sender_wallet, recipient_wallet)
        check_spending_limits(uow, ctx, sender, sender_wallet.id, amount)
        if recipient is not None and recipient_wallet is not None:
            _check_incoming(ctx, recipient, locked[recipient_wallet.account_id], amount)
        currency = amount.currency.code
        fee = p2p_fee(ctx, amount).amount_minor
        legs = _Legs(ctx, currency, reference=ctx.ids.new("pay"))
        fees_id = ledger.system_account_id_in(uow, ctx, AccountCode.FEES, currency,
                                              spread_by=sender_wallet.account_id)  # fmt: skip
        hold_id = fee_hold_id = None
        if recipient_wallet is not None:
            legs.move(sender_wallet.account_id, recipient_wallet.account_id, amount.amount_minor,
                      TransferCode.P2P)  # fmt: skip
            legs.move(sender_wallet.account_id, fees_id, fee, TransferCode.FEE)
        else:
            suspense_id = ledger.system_account_id_in(uow, ctx, AccountCode.SUSPENSE, currency)
            hold_id = legs.hold(sender_wallet.account_id, suspense_id, amount.amount_minor,
                                TransferCode.P2P)  # fmt: skip
            fee_hold_id = legs.hold(sender_wallet.account_id, fees_id, fee, TransferCode.FEE)
        ledger.record(uow, ctx, legs.requests)
        payment = _record(uow, ctx, legs, PaymentKind.P2P, amount, payer=sender_wallet,
                          payee=recipient_wallet, fee=fee, commission=0, payee_phone=phone,
                          message=message, hold_id=hold_id, fee_hold_id=fee_hold_id)  # fmt: skip
        _text(uow, ctx, payment, payer=(sender, sender_wallet),
              payee=None if recipient is None or recipient_wallet is None
              else (recipient, recipient_wallet))  # fmt: skip
        if recipient is None:
            assert phone is not None
            days = max(1, ctx.unclaimed_transfer_seconds // 86_400)
            text = held_for_you_text(sms.reader_of_phone(phone), amount, sender.name, days)
            sms.queue(uow, ctx, phone=phone, text=text)
        return payment

    return _idempotent(ctx, f"user:{sender_id}:p2p", idempotency_key, request, work)


def p2p_fee(ctx: Context, amount: Money) -> Money:
    """The fee `send_money` charges the sender for `amount`: what a confirmation screen shows."""
    if not amount.is_positive():
        raise AmountMustBePositive()
    fee = fee_table(ctx.tariff, amount.currency.code, FeeKind.P2P).fee_for(amount.amount_minor)
    return Money(fee, amount.currency)


def cash_out_fee(ctx: Context, amount: Money) -> Money:
    """The fee `cash_out` charges the customer for `amount`: what a confirmation screen shows."""
    if not amount.is_positive():
        raise AmountMustBePositive()
    fee = fee_table(ctx.tariff, amount.currency.code, FeeKind.CASH_OUT).fee_for(amount.amount_minor)
    return Money(fee, amount.currency)


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
    check_amount(ctx, amount)
    phone = parse_phone(customer_phone, default_region)
    request = {"amount": amount.to_decimal_string(), "currency": amount.currency.code,
               "customer_phone": phone}  # fmt: skip

    def work(uow: UnitOfWork) -> Payment:
        agent = _user(uow, agent_id, kind=UserKind.AGENT)
        customer = uow.people.get_user_by_phone(phone)
        if customer is None:
            raise UserNotFound(phone=phone)
        if customer.id == agent.id:
            raise RecipientIsSender()
        currency = amount.currency.code
        float_wallet = _existing_wallet(uow, agent, amount)
        customer_wallet = wallet_for(uow, ctx, customer, currency)
        locked = _lock(uow, float_wallet, customer_wallet)
        _check_incoming(ctx, customer, locked[customer_wallet.account_id], amount)
        commission = fee_table(ctx.tariff, currency, FeeKind.CASH_IN_COMMISSION).fee_for(
            amount.amount_minor
        )
        expense_id = ledger.system_account_id_in(uow, ctx, AccountCode.COMMISSION_EXPENSE, currency)
        legs = _Legs(ctx, currency, reference=ctx.ids.new("pay"))
        legs.move(float_wallet.account_id, customer_wallet.account_id, amount.amount_minor,
                  TransferCode.CASH_IN)  # fmt: skip
        legs.move(expense_id, float_wallet.account_id, commission, TransferCode.COMMISSION)
        ledger.record(uow, ctx, legs.requests)
        payment = _record(uow, ctx, legs, PaymentKind.CASH_IN, amount, payer=float_wallet,
                          payee=customer_wallet, fee=0, commission=commission)  # fmt: skip
        _text(uow, ctx, payment, payer=(agent, float_wallet), payee=(customer, customer_wallet))
        return payment

    return _idempotent(ctx, f"user:{agent_id}:cash_in", idempotency_key, request, work)


def cash_out(
    ctx: Context,
    *,
    customer_id: str,
    agent_id: str,
    amount: Money,
    pin: str,
    idempotency_key: str | None,
    pin_typed_at_agent: bool = False,
) -> Payment:
    """A customer takes cash from an agent: e-money to the agent's float, a fee to the operator,
    part of the fee to the agent as commission. The customer confirms with the PIN.

    `pin_typed_at_agent`: the customer typed the PIN on the agent's phone (the web app's agent
    pages), not their own. Wrong PINs then count against the customer's lock as always, and
    also against the agent, as ADR 0019 counts them per address: an agent can try at most
    `limits.PIN_TRIES_PER_ADDRESS_MAX` wrong PINs per window over all its customers."""
    check_amount(ctx, amount)
    request = {"amount": amount.to_decimal_string(), "currency": amount.currency.code,
               "agent_id": agent_id}  # fmt: skip

    def work(uow: UnitOfWork) -> Payment:
        customer = _user(uow, customer_id)
        agent = _user(uow, agent_id, kind=UserKind.AGENT)
        if customer.id == agent.id:
            raise RecipientIsSender()
        currency = amount.currency.code
        customer_wallet = _existing_wallet(uow, customer, amount)
        float_wallet = wallet_for(uow, ctx, agent, currency)
        _lock(uow, customer_wallet, float_wallet)
        check_spending_limits(uow, ctx, customer, customer_wallet.id, amount)
        fee = fee_table(ctx.tariff, currency, FeeKind.CASH_OUT).fee_for(amount.amount_minor)
        commission = fee_table(ctx.tariff, currency, FeeKind.CASH_OUT_COMMISSION).fee_for(
            amount.amount_minor
        )
        # The agent's share comes out of the fee just paid, so the fees account never dips.
        assert commission <= fee, (commission, fee)
        fees_id = ledger.system_account_id_in(uow, ctx, AccountCode.FEES, currency,
                                              spread_by=customer_wallet.account_id)  # fmt: skip
        legs = _Legs(ctx, currency, reference=ctx.ids.new("pay"))
        legs.move(customer_wallet.account_id, float_wallet.account_id, amount.amount_minor,
                  TransferCode.CASH_OUT)  # fmt: skip
        legs.move(customer_wallet.account_id, fees_id, fee, TransferCode.FEE)
        legs.move(fees_id, float_wallet.account_id, commission, TransferCode.COMMISSION)
        ledger.record(uow, ctx, legs.requests)
        payment = _record(uow, ctx, legs, PaymentKind.CASH_OUT, amount, payer=customer_wallet,
                          payee=float_wallet, fee=fee, commission=commission)  # fmt: skip
        _text(uow, ctx, payment, payer=(customer, customer_wallet), payee=(agent, float_wallet))
        return payment

    # The PIN is checked (and a wrong one counted) in its own transaction, before the money
    # moves; a replay of an already completed cash-out needs the PIN too.
    tried_from = agent_subject(agent_id) if pin_typed_at_agent else None
    users.verify_pin(ctx, customer_id, pin, tried_from=tried_from)
    return _idempotent(ctx, f"user:{customer_id}:cash_out", idempotency_key, request, work)


def top_up_float(
    ctx: Context, *, agent_id: str, amount: Money, idempotency_key: str | None
) -> Payment:
    """The operator sells an agent e-money float against money received at its bank."""
    check_amount(ctx, amount)
    request = {"amount": amount.to_decimal_string(), "currency": amount.currency.code,
               "agent_id": agent_id}  # fmt: skip

    def work(uow: UnitOfWork) -> Payment:
        agent = _user(uow, agent_id, kind=UserKind.AGENT)
        currency = amount.currency.code
        float_wallet = wallet_for(uow, ctx, agent, currency)
        settlement_id = ledger.system_account_id_in(uow, ctx, AccountCode.SETTLEMENT, currency)
        legs = _Legs(ctx, currency, reference=ctx.ids.new("pay"))
        legs.move(settlement_id, float_wallet.account_id, amount.amount_minor,
                  TransferCode.FLOAT_TOPUP)  # fmt: skip
        ledger.record(uow, ctx, legs.requests)
        payment = _record(uow, ctx, legs, PaymentKind.FLOAT_TOPUP, amount, payer=None,
                          payee=float_wallet, fee=0, commission=0)  # fmt: skip
        _text(uow, ctx, payment, payer=None, payee=(agent, float_wallet))
        return payment

    return _idempotent(ctx, "operator:float_topup", idempotency_key, request, work)


def pay_merchant(
    ctx: Context,
    *,
    payer_id: str,
    amount: Money,
    idempotency_key: str | None,
    till_number: str | None = None,
    merchant_id: str | None = None,
    message: str | None = None,
) -> Payment:
    """Pay a merchant at its till (or by its id): the amount to the merchant, and the merchant
    discount rate for its category from the merchant to the operator, as its own transfer."""
    check_amount(ctx, amount)
    if (till_number is None) == (merchant_id is None):
        raise RecipientRequired("name the merchant by till_number or merchant_id")
    _check_message(message)
    request = {
        "amount": amount.to_decimal_string(),
        "currency": amount.currency.code,
        "till_number": till_number,
        "merchant_id": merchant_id,
        "message": message,
    }

    def work(uow: UnitOfWork) -> Payment:
        payer = _user(uow, payer_id)
        merchant = _merchant(uow, till_number=till_number, merchant_id=merchant_id)
        return pay_merchant_in(uow, ctx, payer, merchant, amount, message=message)

    return _idempotent(ctx, f"user:{payer_id}:merchant", idempotency_key, request, work)


def pay_merchant_in(
    uow: UnitOfWork,
    ctx: Context,
    payer: User,
    merchant: Merchant,
    amount: Money,
    *,
    message: str | None,
    notify: Mapping[str, Any] | None = None,
) -> Payment:
    """`pay_merchant` inside the caller's transaction (payment requests and QR codes use it).

    `notify` adds fields to the payment.succeeded event (the request a payment settles)."""
    if payer.id == merchant.user_id:
        raise RecipientIsSender()
    if payer.kind is UserKind.AGENT:
        raise UserKindMismatch("an agent's float serves cash in and out, not purchases")
    merchant_user = _user(uow, merchant.user_id)
    currency = amount.currency.code
    payer_wallet = _existing_wallet(uow, payer, amount)
    merchant_wallet = wallet_for(uow, ctx, merchant_user, currency)
    # Only the payer now, for its limits: `record` locks the merchant's row (and the fee
    # bucket) at the end, so a busy merchant is held for as short a time as possible.
    _lock(uow, payer_wallet)
    check_spending_limits(uow, ctx, payer, payer_wallet.id, amount)
    fee = merchant_rate(ctx.merchant_rates, currency, merchant.category_code).fee_for(
        amount.amount_minor
    )
    fees_id = ledger.system_account_id_in(uow, ctx, AccountCode.FEES, currency,
                                          spread_by=merchant_wallet.account_id)  # fmt: skip
    legs = _Legs(ctx, currency, reference=ctx.ids.new("pay"))
    legs.move(payer_wallet.account_id, merchant_wallet.account_id, amount.amount_minor,
              TransferCode.PAYMENT)  # fmt: skip
    # The merchant pays its discount rate out of what it just received: one batch, so the
    # merchant's wallet never shows the gross without the fee.
    legs.move(merchant_wallet.account_id, fees_id, fee, TransferCode.FEE)
    if merchant.open_loan_id is not None:
        # Part of the sale repays the merchant's loan, in this same batch (soko.credit).
        legs.requests.extend(
            ctx.repay_from_sale(uow, ctx, loan_id=merchant.open_loan_id,
                                wallet_account_id=merchant_wallet.account_id,
                                sale_minor=amount.amount_minor, payment_id=legs.reference)
        )  # fmt: skip
    # The records first and the transfers last: from `record` on, the merchant's row is locked
    # until commit, and only the texts (which tell the new balances) come after it.
    payment = _record(uow, ctx, legs, PaymentKind.MERCHANT, amount, payer=payer_wallet,
                      payee=merchant_wallet, fee=fee, commission=0, message=message)  # fmt: skip
    event = payment_event(payment) | dict(notify or {})
    webhooks.emit(uow, ctx, owner_id=merchant.user_id, type=EventType.PAYMENT_SUCCEEDED, data=event)
    ledger.record(uow, ctx, legs.requests)
    _text(uow, ctx, payment, payer=(payer, payer_wallet), payee=(merchant_user, merchant_wallet),
          payee_name=merchant.trading_name)  # fmt: skip
    return payment


def refund(
    ctx: Context,
    *,
    merchant_id: str,
    payment_id: str,
    amount: Money,
    idempotency_key: str | None,
    reason: str | None = None,
) -> Refund:
    """Give back all or part of a merchant payment, as often as needed, never more in total
    than was paid. The merchant gets back the same share of its discount fee (rounded down)."""
    check_amount(ctx, amount)
    _check_message(reason)
    request = {"amount": amount.to_decimal_string(), "currency": amount.currency.code,
               "payment_id": payment_id, "reason": reason}  # fmt: skip

    def work(uow: UnitOfWork) -> Refund:
        # The payment row first, then the accounts: concurrent refunds of one payment queue
        # on the row, and each sees the totals the one before it left.
        payment = uow.merchant_payments.lock_payment(payment_id)
        merchant_wallet = None
        if payment is not None and payment.payee_wallet_id is not None:
            merchant_wallet = uow.people.get_wallet(payment.payee_wallet_id)
        if payment is None or merchant_wallet is None or merchant_wallet.user_id != merchant_id:
            # Another merchant's payment reads as no payment at all.
            raise PaymentNotFound(payment_id=payment_id)
        if payment.kind is not PaymentKind.MERCHANT or payment.payer_wallet_id is None:
            raise PaymentNotRefundable(f"{payment_id} is a {payment.kind} payment")
        if amount.currency.code != payment.currency:
            raise CurrencyMismatch(
                f"the payment was in {payment.currency}, the refund is in {amount.currency.code}"
            )
        remaining = payment.amount - payment.refunded
        if amount.amount_minor > remaining:
            shown = Money(remaining, amount.currency).to_display_string()
            raise ExceedsRefundableAmount(
                f"at most {shown} of this payment can still be refunded", refundable=remaining
            )
        fee_returned = fee_to_return(
            amount=payment.amount,
            fee=payment.fee,
            refunded_before=payment.refunded,
            fee_returned_before=payment.fee_refunded,
            refund=amount.amount_minor,
        )
        payer_wallet = uow.people.get_wallet(payment.payer_wallet_id)
        assert payer_wallet is not None, payment
        _lock(uow, merchant_wallet, payer_wallet)
        # The bucket the payment paid its fee into: the merchant's, found by the same hash.
        fees_id = ledger.system_account_id_in(uow, ctx, AccountCode.FEES, payment.currency,
                                              spread_by=merchant_wallet.account_id)  # fmt: skip
        legs = _Legs(ctx, payment.currency, reference=ctx.ids.new("rfd"))
        # The fee share first: a merchant refunding in full pays back the gross amount, and
        # holds only the net until its fee comes back.
        legs.move(fees_id, merchant_wallet.account_id, fee_returned, TransferCode.REFUND)
        legs.move(merchant_wallet.account_id, payer_wallet.account_id, amount.amount_minor,
                  TransferCode.REFUND)  # fmt: skip
        ledger.record(uow, ctx, legs.requests)
        made = Refund(
            id=legs.reference,
            payment_id=payment.id,
            currency=payment.currency,
            amount=amount.amount_minor,
            fee_returned=fee_returned,
            reason=reason,
            created_at=ctx.clock.now(),
        )
        uow.merchant_payments.add_refund(made)
        webhooks.emit(
            uow, ctx, owner_id=merchant_id, type=EventType.REFUND_SUCCEEDED, data=refund_event(made)
        )
        merchant = uow.people.get_merchant(merchant_id)
        customer = _user(uow, payer_wallet.user_id)
        assert merchant is not None, merchant_id
        text = refunded_text(sms.reader(customer), made.id, amount, merchant.trading_name,
                             _balance(uow, payer_wallet))  # fmt: skip
        sms.queue(uow, ctx, phone=customer.phone, text=text)
        return made

    return run_idempotent(
        ctx,
        scope=f"user:{merchant_id}:refund",
        key=idempotency_key,
        request=request,
        work=work,
        result=Refund,
    ).value


def list_refunds(ctx: Context, payment_id: str) -> list[Refund]:
    return in_transaction(
        ctx, lambda uow: uow.merchant_payments.list_refunds(payment_id), read_only=True
    )


def payment_event(payment: Payment) -> dict[str, Any]:
    """A payment as webhook events carry it: amounts as decimal strings, like the API."""
    currency = Currency.of(payment.currency)
    return {
        "payment_id": payment.id,
        "kind": payment.kind,
        "amount": Money(payment.amount, currency).to_decimal_string(),
        "fee": Money(payment.fee, currency).to_decimal_string(),
        "currency": payment.currency,
        "payer_wallet_id": payment.payer_wallet_id,
        "payee_wallet_id": payment.payee_wallet_id,
        "message": payment.message,
        "created_at": payment.created_at.isoformat(),
    } | _target_event(payment)


def _target_event(payment: Payment) -> dict[str, Any]:
    """A cross-currency payment's other side: what the payee received, in its currency."""
    if payment.target_currency is None or payment.target_amount is None:
        return {}
    target = Money.of(payment.target_amount, payment.target_currency)
    return {"target_amount": target.to_decimal_string(), "target_currency": target.currency.code}


def refund_event(made: Refund) -> dict[str, Any]:
    currency = Currency.of(made.currency)
    return {
        "refund_id": made.id,
        "payment_id": made.payment_id,
        "amount": Money(made.amount, currency).to_decimal_string(),
        "fee_returned": Money(made.fee_returned, currency).to_decimal_string(),
        "currency": made.currency,
        "reason": made.reason,
        "created_at": made.created_at.isoformat(),
    }


def get_payment(ctx: Context, payment_id: str) -> Payment:
    found = in_transaction(ctx, lambda uow: uow.people.get_payment(payment_id), read_only=True)
    if found is None:
        raise PaymentNotFound(payment_id=payment_id)
    return found


# --- the pieces -----------------------------------------------------------------------------


def _user(uow: UnitOfWork, user_id: str, *, kind: UserKind | None = None) -> User:
    user = uow.people.get_user(user_id)
    if user is None:
        raise UserNotFound(user_id=user_id)
    if kind is not None and user.kind is not kind:
        raise UserKindMismatch(f"{user_id} is a {user.kind.value}, not a {kind.value}")
    return user


def _merchant(uow: UnitOfWork, *, till_number: str | None, merchant_id: str | None) -> Merchant:
    if till_number is not None:
        found = uow.people.get_merchant_by_till(till_number)
    else:
        assert merchant_id is not None
        found = uow.people.get_merchant(merchant_id)
    if found is None:
        raise MerchantNotFound(till_number=till_number, merchant_id=merchant_id)
    return found


def _check_message(message: str | None) -> None:
    if message is not None and len(message) > limits.MESSAGE_LENGTH_MAX:
        raise MessageTooLong(f"a message is at most {limits.MESSAGE_LENGTH_MAX} characters")


def _existing_wallet(uow: UnitOfWork, user: User, amount: Money) -> Wallet:
    """The paying side must already hold a wallet in the currency (an empty one pays nothing)."""
    wallet = uow.people.find_wallet(user.id, amount.currency.code)
    if wallet is None:
        raise NoWalletInCurrency(
            f"no {amount.currency.code} wallet: 0 available",
            available=0,
            currency=amount.currency.code,
        )
    return wallet


def _recipient(
    uow: UnitOfWork, ctx: Context, phone: str | None, wallet_id: str | None, amount: Money
) -> tuple[User | None, Wallet | None]:
    if wallet_id is not None:
        wallet = uow.people.get_wallet(wallet_id)
        if wallet is None:
            raise WalletNotFound(wallet_id=wallet_id)
        if wallet.currency != amount.currency.code:
            raise CurrencyMismatch(
                f"the wallet holds {wallet.currency}, the amount is {amount.currency.code}"
            )
        return _user(uow, wallet.user_id), wallet
    assert phone is not None
    user = uow.people.get_user_by_phone(phone)
    if user is None:
        return None, None
    return user, wallet_for(uow, ctx, user, amount.currency.code)


def _lock(uow: UnitOfWork, *wallets: Wallet | None) -> dict[str, Account]:
    """Lock the customers' accounts up front, before reading what limits need (the global lock
    order puts them before merchants and system accounts)."""
    return uow.ledger.lock_accounts([w.account_id for w in wallets if w is not None])


def _limits(ctx: Context, user: User, currency: str) -> TierLimits:
    check_currency_offered(ctx, currency)
    return ctx.kyc_limits[currency][tier_of(user.kyc_tier)]


def check_spending_limits(
    uow: UnitOfWork, ctx: Context, user: User, wallet_id: str, amount: Money
) -> None:
    """The sender's KYC limits: per transaction, today and this month (in the operator's time
    zone), over everything that counts as spending. Every movement out of a person's wallet
    (payments here, escrow funding) checks them here, once. Call with the wallet's account
    locked: concurrent payments from one wallet then see each other's totals."""
    if user.kind is UserKind.AGENT:
        return  # an agent's float is the operator's own instrument, bounded by the float itself
    now = ctx.clock.now().astimezone(ctx.timezone)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    month = day.replace(day=1)
    spent_today, spent_this_month = uow.people.outgoing_totals(
        wallet_id, OUTGOING_KINDS, day, month
    )
    check_outgoing(
        _limits(ctx, user, amount.currency.code),
        amount=amount.amount_minor,
        spent_today=spent_today,
        spent_this_month=spent_this_month,
        currency=amount.currency.code,
    )


def check_sender_limits(
    uow: UnitOfWork, ctx: Context, user: User, wallet: Wallet, amount: Money
) -> None:
    """The KYC limits of a payer sending `amount` from `wallet` (locked by the caller): for
    features that pay out of wallets in payments of their own kinds (FX)."""
    check_spending_limits(uow, ctx, user, wallet.id, amount)


def check_payee_limits(ctx: Context, user: User, account: Account, amount: Money) -> None:
    """The balance cap of a consumer receiving `amount` into `account` (locked by the caller)."""
    _check_incoming(ctx, user, account, amount)


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
    kind: PaymentKind,
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


def _text(
    uow: UnitOfWork,
    ctx: Context,
    payment: Payment,
    *,
    payer: tuple[User, Wallet] | None,
    payee: tuple[User, Wallet] | None,
    payee_name: str | None = None,
) -> None:
    """The confirmation texts: to the payer (with the fee and what is left) and to the payee,
    in the payment's transaction, so a text goes out if and only if the money moved."""
    amount = Money.of(payment.amount, payment.currency)
    texts = []
    if payer is not None:
        person, wallet = payer
        fee = (
            Money.of(payment.fee, payment.currency)
            if payment.kind is not PaymentKind.MERCHANT
            else None
        )
        to = payee_name or (payee[0].name if payee is not None else payment.payee_phone or "")
        text = paid_text(sms.reader(person), payment.id, amount, to, fee,
                         balance=_balance(uow, wallet))  # fmt: skip
        texts.append((person.phone, text))
    if payee is not None:
        person, wallet = payee
        reader = sms.reader(person)
        sender = payer[0].name if payer is not None else reader._(OPERATOR)
        text = received_text(reader, payment.id, amount, sender, _balance(uow, wallet))
        texts.append((person.phone, text))
    sms.queue_all(uow, ctx, texts)


def _balance(uow: UnitOfWork, wallet: Wallet) -> Money:
    """The wallet's balance as this transaction left it."""
    account = uow.ledger.get_account(wallet.account_id)
    assert account is not None, wallet
    return Money.of(account.balance, wallet.currency)


def _idempotent(
    ctx: Context,
    scope: str,
    key: str | None,
    request: dict[str, Any],
    work: Callable[[UnitOfWork], Payment],
) -> Payment:
    return run_idempotent(
        ctx,
        scope=scope,
        key=key,
        request=request,
        work=work,
        result=Payment,
    ).value


# --- reports: what a person's menus show about their own payments ---------------------------------


@dataclass(frozen=True, slots=True)
class Sales:
    """A merchant's sales at its till (and requests) since a time: how many, and how much."""

    count: int
    total: Money


@dataclass(frozen=True, slots=True)
class Received:
    payment: Payment
    #: Who paid: the payer's name as texts show it.
    payer_name: str


def start_of_day(ctx: Context) -> datetime:
    """Midnight today in the operator's time zone: where "today" starts for reports."""
    now = ctx.clock.now().astimezone(ctx.timezone)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def sales_since(ctx: Context, merchant_id: str, since: datetime) -> Sales:
    """What the merchant sold at its till since `since`, before refunds and fees."""

    def work(uow: UnitOfWork) -> Sales:
        merchant = _merchant(uow, till_number=None, merchant_id=merchant_id)
        currency = Currency.of(merchant.settlement_currency)
        wallet = uow.people.find_wallet(merchant_id, currency.code)
        if wallet is None:
            return Sales(0, Money.zero(currency))
        count, amount, _ = uow.people.payment_totals(
            wallet.id, role="payee", kinds={"merchant"}, since=since
        )
        return Sales(count, Money(amount, currency))

    return in_transaction(ctx, work, read_only=True)


def payments_received(ctx: Context, merchant_id: str, limit: int) -> list[Received]:
    """The merchant's latest payments received, newest first, with who paid."""

    def work(uow: UnitOfWork) -> list[Received]:
        merchant = _merchant(uow, till_number=None, merchant_id=merchant_id)
        wallet = uow.people.find_wallet(merchant_id, merchant.settlement_currency)
        if wallet is None:
            return []
        found = uow.people.payments_of(
            wallet.id,
            role="payee",
            kinds={"merchant"},
            since=datetime.min.replace(tzinfo=UTC),
            limit=limit,
        )
        received = []
        for payment in found:
            payer = None
            if payment.payer_wallet_id is not None:
                payer_wallet = uow.people.get_wallet(payment.payer_wallet_id)
                if payer_wallet is not None:
                    payer = uow.people.get_user(payer_wallet.user_id)
            received.append(Received(payment, text_name(payer.name) if payer else ""))
        return received

    return in_transaction(ctx, work, read_only=True)


def commissions_since(ctx: Context, agent_id: str, currency: Currency, since: datetime) -> Money:
    """What the agent earned in commissions on cash in and out since `since`."""

    def work(uow: UnitOfWork) -> Money:
        agent = _user(uow, agent_id, kind=UserKind.AGENT)
        wallet = uow.people.find_wallet(agent.id, currency.code)
        if wallet is None:
            return Money.zero(currency)
        _, _, commission = uow.people.payment_totals(
            wallet.id, role="either", kinds={"cash_in", "cash_out"}, since=since
        )
        return Money(commission, currency)

    return in_transaction(ctx, work, read_only=True)


@dataclass(frozen=True, slots=True)
class AgentActivity:
    """One cash-in or cash-out at an agent, with the customer as the agent knows them."""

    payment: Payment
    customer_name: str
    customer_phone: str


def agent_activity(ctx: Context, agent_id: str, since: datetime, limit: int) -> list[AgentActivity]:
    """The agent's cash-ins and cash-outs since `since` in every currency, newest first, at
    most `limit`; each with its customer (the other wallet of the payment)."""

    def work(uow: UnitOfWork) -> list[AgentActivity]:
        agent = _user(uow, agent_id, kind=UserKind.AGENT)
        found: list[Payment] = []
        for wallet in uow.people.list_wallets(agent.id):
            found += uow.people.payments_of(
                wallet.id, role="either", kinds={PaymentKind.CASH_IN, PaymentKind.CASH_OUT},
                since=since, limit=limit,
            )  # fmt: skip
        found.sort(key=lambda payment: (payment.created_at, payment.id), reverse=True)
        shown = []
        for payment in found[:limit]:
            other = (
                payment.payee_wallet_id
                if payment.kind is PaymentKind.CASH_IN
                else payment.payer_wallet_id
            )
            theirs = None if other is None else uow.people.get_wallet(other)
            customer = None if theirs is None else uow.people.get_user(theirs.user_id)
            shown.append(AgentActivity(payment, "" if customer is None else customer.name,
                                       "" if customer is None else customer.phone))  # fmt: skip
        return shown

    return in_transaction(ctx, work, read_only=True)


def repeated_payment(
    ctx: Context,
    *,
    payer_id: str,
    kind: PaymentKind,
    amount: Money,
    within_seconds: int,
    payee_phone: str | None = None,
    payee_user_id: str | None = None,
) -> Payment | None:
    """The payer's latest payment of `kind` of this very amount to this party in the last
    `within_seconds`, if any: a channel asks "Send again?" before repeating it (a re-dial
    after a lost reply looks exactly like a new payment)."""
    since = ctx.clock.now() - timedelta(seconds=within_seconds)

    def work(uow: UnitOfWork) -> Payment | None:
        wallet = uow.people.find_wallet(payer_id, amount.currency.code)
        if wallet is None:
            return None
        recent = uow.people.payments_of(wallet.id, role="payer", kinds={kind}, since=since,
                                        limit=limits.PAGE_SIZE_DEFAULT)  # fmt: skip
        for payment in recent:
            if payment.amount != amount.amount_minor:
                continue
            if payee_phone is not None and payment.payee_phone == payee_phone:
                return payment
            if payee_user_id is not None and payment.payee_wallet_id is not None:
                payee = uow.people.get_wallet(payment.payee_wallet_id)
                if payee is not None and payee.user_id == payee_user_id:
                    return payment
        return None

    return in_transaction(ctx, work, read_only=True)


__all__ = [
    "OUTGOING_KINDS",
    "AgentActivity",
    "Received",
    "Sales",
    "agent_activity",
    "cash_in",
    "cash_out",
    "cash_out_fee",
    "check_payee_limits",
    "check_sender_limits",
    "commissions_since",
    "get_payment",
    "list_refunds",
    "p2p_fee",
    "pay_merchant",
    "pay_merchant_in",
    "payment_event",
    "payments_received",
    "refund",
    "refund_event",
    "repeated_payment",
    "sales_since",
    "send_money",
    "start_of_day",
    "top_up_float",
]
