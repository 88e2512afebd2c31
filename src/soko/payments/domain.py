"""Payment arithmetic and wording: a refund's share of the merchant fee, the texts people get.

Texts go out by SMS, in the reader's language (`notify.sms.compose`; the Kiswahili is in
`locale/sw/LC_MESSAGES/sms.po`), so each fits one 160-character message in the GSM 7-bit
alphabet: names keep only characters that cost one septet, and are cut to a fixed width (with a
marker) rather than letting a long name push the amount off the screen.
"""

from __future__ import annotations

import string
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from soko.kernel.errors import AmountMustBePositive
from soko.kernel.money import Money
from soko.notify.sms import N_, Reader, compose
from soko.payments.errors import ExceedsRefundableAmount

#: A name in a text is cut to this width so the amounts always fit one SMS.
TEXT_NAME_WIDTH: Final = 24
#: ASCII that the GSM 7-bit alphabet holds in one septet each (not ^ { } [ ] ~ | \ or `).
_NAME_CHARACTERS: Final = frozenset(
    string.ascii_letters + string.digits + " !\"#$%&'()*+,-./:;<=>?@_"
)


def fee_to_return(*, amount: int, fee: int, refunded_before: int, fee_returned_before: int,
                  refund: int) -> int:  # fmt: skip
    """The part of a payment's merchant fee a refund of `refund` gives back to the merchant.

    After every refund the merchant has got back floor(fee x refunded / amount) in total: each
    refund returns what that total grew by. Rounding down keeps the operator's fee whole until
    the payment is refunded in full, when exactly the whole fee has gone back, whatever the
    number and size of the partial refunds before.
    """
    if refund <= 0:
        raise AmountMustBePositive()
    remaining = amount - refunded_before
    if refund > remaining:
        raise ExceedsRefundableAmount(
            f"at most {remaining} minor units of this payment can still be refunded",
            refundable=remaining,
        )
    returned_after = fee * (refunded_before + refund) // amount
    assert fee_returned_before <= returned_after <= fee, (fee_returned_before, returned_after)
    return returned_after - fee_returned_before


def text_name(name: str) -> str:
    """A name as an SMS can carry it: ASCII letters (accents dropped), at most the fixed width."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    kept = "".join(c if c in _NAME_CHARACTERS else " " for c in ascii_name)
    kept = " ".join(kept.split()) or "a Soko user"
    if len(kept) > TEXT_NAME_WIDTH:
        return kept[: TEXT_NAME_WIDTH - 2].rstrip() + ".."
    return kept


PAID: Final = N_("Soko: {ref} confirmed. You paid {amount} to {name}. Balance {balance}.")
PAID_WITH_FEE: Final = N_(
    "Soko: {ref} confirmed. You paid {amount} to {name}. Fee {fee}. Balance {balance}."
)
RECEIVED: Final = N_("Soko: {ref} confirmed. You received {amount} from {name}. Balance {balance}.")
HELD_FOR_YOU: Final = N_(
    "Soko: {name} sent you {amount}. Register with Soko on this number within {days} days to "
    "receive it."
)
REFUNDED: Final = N_("Soko: {ref} confirmed. {name} refunded you {amount}. Balance {balance}.")
#: Who paid, when the operator did (a payment with no payer wallet).
OPERATOR: Final = N_("your operator")


def paid_text(to: Reader, payment_id: str, amount: Money, payee_name: str, fee: Money | None,
              *, balance: Money) -> str:  # fmt: skip
    """To the payer: what went, to whom, the fee, and what is left."""
    facts = {"ref": payment_id[-10:], "amount": amount, "name": text_name(payee_name),
             "balance": balance}  # fmt: skip
    if fee is not None and fee.amount_minor:
        return compose(to, PAID_WITH_FEE, fee=fee, **facts)
    return compose(to, PAID, **facts)


def received_text(to: Reader, payment_id: str, amount: Money, payer_name: str,
                  balance: Money) -> str:  # fmt: skip
    """To the payee: what came in, from whom, and the new balance."""
    return compose(to, RECEIVED, ref=payment_id[-10:], amount=amount,
                   name=text_name(payer_name), balance=balance)  # fmt: skip


def held_for_you_text(to: Reader, amount: Money, payer_name: str, days: int) -> str:
    """To a number with no Soko account yet: money waits for it."""
    return compose(to, HELD_FOR_YOU, name=text_name(payer_name), amount=amount, days=days)


def refunded_text(to: Reader, refund_id: str, amount: Money, merchant_name: str,
                  balance: Money) -> str:  # fmt: skip
    """To the customer: a merchant gave money back."""
    return compose(to, REFUNDED, ref=refund_id[-10:], name=text_name(merchant_name),
                   amount=amount, balance=balance)  # fmt: skip


class PaymentKind(StrEnum):
    """What a payment was: the `kind` of its record, of the API's `Payment`, of webhooks."""

    P2P = "p2p"
    CASH_IN = "cash_in"
    CASH_OUT = "cash_out"
    FLOAT_TOPUP = "float_topup"
    MERCHANT = "merchant"
    ESCROW = "escrow"
    #: Cross-currency (soko.fx): to a person, to a merchant, between one's own wallets.
    FX_P2P = "fx_p2p"
    FX_MERCHANT = "fx_merchant"
    FX_CONVERSION = "fx_conversion"


#: What a person pays out of their own wallet: what the KYC day and month limits count.
OUTGOING_KINDS: Final = frozenset(
    {
        PaymentKind.P2P,
        PaymentKind.CASH_OUT,
        PaymentKind.MERCHANT,
        PaymentKind.ESCROW,
        PaymentKind.FX_P2P,
        PaymentKind.FX_MERCHANT,
    }
)
#: What a merchant sold: what merchant credit scores and sweeps.
SALE_KINDS: Final = (PaymentKind.MERCHANT, PaymentKind.ESCROW)


@dataclass(frozen=True, slots=True)
class Payment:
    """The business record of a movement between people: who, how much, what fee, why."""

    id: str
    kind: PaymentKind
    currency: str
    amount: int
    fee: int
    commission: int
    payer_wallet_id: str | None
    payee_wallet_id: str | None
    payee_phone: str | None
    message: str | None
    hold_id: str | None
    fee_hold_id: str | None
    created_at: datetime
    #: Merchant payments: refunded so far, and the part of the merchant's fee given back.
    refunded: int = 0
    fee_refunded: int = 0
    #: Cross-currency payments (kinds fx_*, recorded by soko.fx): what the payee received, in
    #: the payee's currency. `currency`, `amount` and `fee` are then the payer's side: the
    #: amount converted, and the spread and fee paid on top of it.
    target_currency: str | None = None
    target_amount: int | None = None

    @property
    def refundable(self) -> int:
        return self.amount - self.refunded if self.kind is PaymentKind.MERCHANT else 0


@dataclass(frozen=True, slots=True)
class Refund:
    """Money a merchant gave back from a payment, with its share of the merchant fee."""

    id: str
    payment_id: str
    currency: str
    amount: int
    fee_returned: int
    reason: str | None
    created_at: datetime


class PaymentRequestStatus(StrEnum):
    OPEN = "open"
    PAID = "paid"
    CANCELLED = "cancelled"
    #: Never stored: an open request past its expiry reads as expired.
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    """An invoice a merchant sends: pay this amount, with this reference, before this time."""

    id: str
    merchant_id: str
    currency: str
    amount: int
    reference: str
    description: str | None
    #: As stored: open, paid or cancelled (see `status_at` for what a reader sees).
    stored_status: PaymentRequestStatus
    expires_at: datetime
    payment_id: str | None
    created_at: datetime

    def status_at(self, now: datetime) -> PaymentRequestStatus:
        if self.stored_status is PaymentRequestStatus.OPEN and now >= self.expires_at:
            return PaymentRequestStatus.EXPIRED
        return self.stored_status
