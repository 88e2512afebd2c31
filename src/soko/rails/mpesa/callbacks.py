"""Pure parsers of the JSON Daraja POSTs to us (STK, C2B, B2C, status, reversal, timeouts).

Every body is untrusted: anyone who learns a callback URL can POST to it. The parsers check the
shape and types field by field and raise `CallbackMalformed` naming the first thing wrong; they
never do I/O, so the callback routes decide what to trust (source network, path token) and when
to write. Amounts become integer minor units of KES: Daraja sends whole shillings as numbers
(``1``, ``1.0``) or strings (``"100.00"``), and anything that is not a whole shilling is refused
rather than rounded.
"""

from __future__ import annotations

import enum
import hmac
import ipaddress
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Final

from soko.kernel import limits

#: East Africa Time. Kenya has kept UTC+3 without daylight saving since 1942, so a fixed offset
#: is exact and needs no tz database on the server.
NAIROBI: Final = timezone(timedelta(hours=3), "EAT")
#: KES has two decimal places: one shilling is 100 minor units (cents).
MINOR_PER_SHILLING: Final = 100
#: Daraja's compact local time, in STK callbacks, C2B bodies and result parameters.
COMPACT_TIME_FORMAT: Final = "%Y%m%d%H%M%S"
#: B2C's TransactionCompletedDateTime ("17.07.2017 10:54:57").
DOTTED_TIME_FORMAT: Final = "%d.%m.%Y %H:%M:%S"
#: The longest text field we keep from a callback (names, descriptions): a bound on what an
#: untrusted body can make us store.
TEXT_LENGTH_MAX: Final = 512

_WHOLE_SHILLINGS = re.compile(r"\A(\d{1,15})(?:\.0{1,2})?\Z")
_SHILLINGS_AND_CENTS = re.compile(r"\A(-?)(\d{1,15})(?:\.(\d{1,2}))?\Z")


class CallbackMalformed(ValueError):
    """The body is not what Daraja sends; `reason` says what was wrong first."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class StkOutcome(enum.Enum):
    """What became of an STK push, from its ResultCode."""

    PAID = "paid"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    CANCELLED = "cancelled"
    UNREACHABLE = "unreachable"
    EXPIRED = "expired"
    WRONG_PIN = "wrong_pin"
    FAILED = "failed"

    @classmethod
    def from_result_code(cls, code: int) -> StkOutcome:
        return _STK_OUTCOMES.get(code, cls.FAILED)


_STK_OUTCOMES: Final = {
    0: StkOutcome.PAID,
    1: StkOutcome.INSUFFICIENT_FUNDS,
    1032: StkOutcome.CANCELLED,
    1037: StkOutcome.UNREACHABLE,
    1019: StkOutcome.EXPIRED,
    2001: StkOutcome.WRONG_PIN,
}


class C2BRejection(enum.Enum):
    """Result codes a validation URL may answer to refuse a C2B payment."""

    INVALID_MSISDN = "C2B00011"
    INVALID_ACCOUNT_NUMBER = "C2B00012"
    INVALID_AMOUNT = "C2B00013"
    INVALID_KYC_DETAILS = "C2B00014"
    INVALID_SHORTCODE = "C2B00015"
    OTHER_ERROR = "C2B00016"


# --- acknowledgement bodies ----------------------------------------------------------------------


def acknowledgement() -> dict[str, object]:
    """The answer to an STK callback, a C2B confirmation, or any Result / timeout notice.

    Daraja only needs a 200, but this body is what its samples show; a fresh dict each time so
    no caller can change another's answer.
    """
    return {"ResultCode": 0, "ResultDesc": "Accepted"}


def validation_accepted() -> dict[str, object]:
    """The answer of a C2B validation URL that lets the payment through."""
    return {"ResultCode": "0", "ResultDesc": "Accepted"}


def validation_rejected(rejection: C2BRejection) -> dict[str, object]:
    """The answer of a C2B validation URL that refuses the payment (the customer is not charged)."""
    return {"ResultCode": rejection.value, "ResultDesc": "Rejected"}


# --- records -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StkPayment:
    """The money part of a successful STK callback."""

    amount_minor: int
    receipt: str
    paid_at: datetime
    phone: str


@dataclass(frozen=True, slots=True)
class StkCallback:
    merchant_request_id: str
    checkout_request_id: str
    result_code: int
    result_desc: str
    outcome: StkOutcome
    #: Present exactly when `outcome` is PAID.
    payment: StkPayment | None


@dataclass(frozen=True, slots=True)
class C2BNotification:
    """A C2B validation or confirmation body (the same fields; validation has no balance)."""

    transaction_type: str
    trans_id: str
    trans_time: datetime
    amount_minor: int
    business_shortcode: str
    bill_ref_number: str
    invoice_number: str
    #: The organisation's balance after the payment, in minor units; None when Daraja leaves it
    #: blank (always on validation).
    org_account_balance_minor: int | None
    third_party_trans_id: str
    #: Daraja now masks or hashes the number ("2547 ***** 126"), so it is kept as given.
    msisdn: str
    first_name: str
    middle_name: str
    last_name: str


@dataclass(frozen=True, slots=True)
class ResultHeader:
    """The fields every asynchronous `Result` carries (B2C, status, reversal)."""

    result_type: int
    #: As text: Daraja sends 0 or 2001 as numbers but codes like "R000001" as strings.
    result_code: str
    result_desc: str
    originator_conversation_id: str
    conversation_id: str
    transaction_id: str

    @property
    def succeeded(self) -> bool:
        return self.result_code == "0"


@dataclass(frozen=True, slots=True)
class B2CPaid:
    amount_minor: int
    receipt: str
    receiver_public_name: str
    completed_at: datetime
    utility_account_balance_minor: int | None
    working_account_balance_minor: int | None
    recipient_is_registered: bool | None


@dataclass(frozen=True, slots=True)
class B2CResult:
    header: ResultHeader
    #: Present exactly when the payment succeeded.
    paid: B2CPaid | None


@dataclass(frozen=True, slots=True)
class QueueTimeout:
    """A request that expired in M-Pesa's queue before it was processed."""

    originator_conversation_id: str
    conversation_id: str
    result_code: str
    result_desc: str


@dataclass(frozen=True, slots=True)
class TransactionStatusFound:
    receipt: str
    amount_minor: int
    #: "Completed", "Failed", "Reversed", ... as M-Pesa words it.
    status: str
    finalised_at: datetime | None
    debit_party_name: str
    credit_party_name: str
    reason_type: str
    #: Of the transaction queried (lets a B2C whose answer was lost be matched by our own id).
    original_originator_conversation_id: str
    original_conversation_id: str


@dataclass(frozen=True, slots=True)
class TransactionStatusResult:
    header: ResultHeader
    #: Present exactly when the query succeeded.
    found: TransactionStatusFound | None


@dataclass(frozen=True, slots=True)
class Reversed:
    original_transaction_id: str
    amount_minor: int
    completed_at: datetime | None
    credit_party_public_name: str
    debit_party_public_name: str


@dataclass(frozen=True, slots=True)
class ReversalResult:
    header: ResultHeader
    #: Present exactly when the reversal succeeded.
    reversed: Reversed | None


# --- callback source checks ----------------------------------------------------------------------

#: The addresses Safaricom documents its callbacks coming from (their published allowlist).
SAFARICOM_CALLBACK_NETWORKS: Final = tuple(
    ipaddress.ip_network(address)
    for address in (
        "196.201.214.200/32",
        "196.201.214.206/32",
        "196.201.213.114/32",
        "196.201.214.207/32",
        "196.201.214.208/32",
        "196.201.213.44/32",
        "196.201.212.127/32",
        "196.201.212.138/32",
        "196.201.212.129/32",
        "196.201.212.136/32",
        "196.201.212.74/32",
        "196.201.212.69/32",
    )
)


def callback_source_allowed(
    address: str, networks: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network]
) -> bool:
    """Whether a callback's peer address is in one of `networks` (False for a non-address)."""
    try:
        peer = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(peer in network for network in networks)


def callback_token_matches(given: str, expected: str) -> bool:
    """Compares the secret path token in constant time (no timing hint of a partial match)."""
    return hmac.compare_digest(given.encode(), expected.encode())


# --- amounts -------------------------------------------------------------------------------------


def minor_from_whole_shillings(value: object, *, what: str = "amount") -> int:
    """A positive whole number of shillings (``100``, ``100.0``, ``"100"``, ``"100.00"``) as
    minor units; anything else, fractions included, raises `CallbackMalformed`."""
    shillings: int
    if isinstance(value, bool):
        raise CallbackMalformed(f"{what} is a boolean")
    if isinstance(value, int):
        shillings = value
    elif isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise CallbackMalformed(f"{what} {value!r} is not a whole number of shillings")
        shillings = int(value)
    elif isinstance(value, str):
        matched = _WHOLE_SHILLINGS.match(value.strip())
        if matched is None:
            raise CallbackMalformed(f"{what} {value[:40]!r} is not a whole number of shillings")
        shillings = int(matched.group(1))
    else:
        raise CallbackMalformed(f"{what} is a {type(value).__name__}, not a number")
    if shillings <= 0:
        raise CallbackMalformed(f"{what} {shillings} is not positive")
    if shillings > limits.AMOUNT_MINOR_MAX // MINOR_PER_SHILLING:
        raise CallbackMalformed(f"{what} {shillings} is too large")
    return shillings * MINOR_PER_SHILLING


def minor_from_balance(value: object, *, what: str = "balance") -> int | None:
    """A balance, which may carry cents or be negative ("-220.00"); None when blank or absent.

    Balances are informational (never posted), so cents are kept, not refused.
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise CallbackMalformed(f"{what} is a boolean")
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise CallbackMalformed(f"{what} is not finite")
        # repr is the shortest text that round-trips: 133568.5 stays "133568.5", not a binary
        # approximation.
        text = repr(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise CallbackMalformed(f"{what} is a {type(value).__name__}, not a number")
    try:
        exact = Decimal(text)
    except InvalidOperation as error:
        raise CallbackMalformed(f"{what} {text[:40]!r} is not a number") from error
    minor = exact * MINOR_PER_SHILLING
    if minor != minor.to_integral_value() or abs(minor) > limits.AMOUNT_MINOR_MAX:
        raise CallbackMalformed(f"{what} {text[:40]!r} is not a whole number of cents")
    return int(minor)


# --- field readers -------------------------------------------------------------------------------


def _object(value: object, what: str) -> Mapping[str, object]:
    if not isinstance(value, dict):
        raise CallbackMalformed(f"{what} is not an object")
    return value


def _text(body: Mapping[str, object], key: str, *, required: bool = True) -> str:
    value = body.get(key)
    if value is None:
        if required:
            raise CallbackMalformed(f"{key} is missing")
        return ""
    # Daraja sends some identifiers (phone numbers, shortcodes) as JSON numbers.
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise CallbackMalformed(f"{key} is not text")
    if len(value) > TEXT_LENGTH_MAX:
        raise CallbackMalformed(f"{key} is longer than {TEXT_LENGTH_MAX} characters")
    if required and not value.strip():
        raise CallbackMalformed(f"{key} is empty")
    return value


def _code(value: object, key: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.strip() and len(value) <= 32:
        return value.strip()
    raise CallbackMalformed(f"{key} is not a result code")


def _int_code(value: object, key: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdecimal() and len(value) <= 12:
        return int(value)
    raise CallbackMalformed(f"{key} is not an integer result code")


def compact_time(value: object, what: str) -> datetime:
    """Daraja's ``YYYYMMDDHHmmss`` (as text or as a number), Nairobi time, as an aware datetime."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or len(value) != 14 or not value.isdecimal():
        raise CallbackMalformed(f"{what} is not a YYYYMMDDHHmmss time")
    try:
        return datetime.strptime(value, COMPACT_TIME_FORMAT).replace(tzinfo=NAIROBI)
    except ValueError as error:
        raise CallbackMalformed(f"{what} {value!r} is not a valid time") from error


def _dotted_time(value: object, what: str) -> datetime:
    if not isinstance(value, str) or len(value) > 32:
        raise CallbackMalformed(f"{what} is not a dd.mm.yyyy HH:MM:SS time")
    try:
        return datetime.strptime(value, DOTTED_TIME_FORMAT).replace(tzinfo=NAIROBI)
    except ValueError as error:
        raise CallbackMalformed(f"{what} {value[:40]!r} is not a valid time") from error


def _named_items(container: object, list_key: str, name_key: str, what: str) -> dict[str, object]:
    """{Name: Value} of Daraja's item lists. Daraja sends a single item as a bare object rather
    than a one-element list, and an item without a Value (the STK "Balance") is kept as None."""
    items = _object(container, what).get(list_key)
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list):
        raise CallbackMalformed(f"{what}.{list_key} is not a list")
    if len(items) > 64:
        raise CallbackMalformed(f"{what}.{list_key} has more than 64 items")
    found: dict[str, object] = {}
    for item in items:
        entry = _object(item, f"an item of {what}.{list_key}")
        name = entry.get(name_key)
        if not isinstance(name, str):
            raise CallbackMalformed(f"an item of {what}.{list_key} has no {name_key}")
        if name in found:
            # Two amounts in one callback: which one is the truth? Neither, refuse it.
            raise CallbackMalformed(f"{what}.{list_key} names {name!r} twice")
        found[name] = entry.get("Value")
    return found


def _required(items: Mapping[str, object], name: str, what: str) -> object:
    value = items.get(name)
    if value is None or value == "":
        raise CallbackMalformed(f"{what} has no {name}")
    return value


def _item_text(items: Mapping[str, object], name: str, what: str, *, required: bool) -> str:
    value = items.get(name)
    if value is None or value == "":
        if required:
            raise CallbackMalformed(f"{what} has no {name}")
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or len(value) > TEXT_LENGTH_MAX:
        raise CallbackMalformed(f"{what}.{name} is not text")
    return value


# --- parsers -------------------------------------------------------------------------------------


def parse_stk_callback(body: object) -> StkCallback:
    """``{"Body": {"stkCallback": {...}}}`` as POSTed to an STK push's CallBackURL."""
    callback = _object(_object(_object(body, "body").get("Body"), "Body").get("stkCallback"),
                       "Body.stkCallback")  # fmt: skip
    result_code = _int_code(callback.get("ResultCode"), "ResultCode")
    outcome = StkOutcome.from_result_code(result_code)
    payment = None
    if outcome is StkOutcome.PAID:
        items = _named_items(callback.get("CallbackMetadata"), "Item", "Name", "CallbackMetadata")
        payment = StkPayment(
            amount_minor=minor_from_whole_shillings(
                _required(items, "Amount", "CallbackMetadata"), what="Amount"
            ),
            receipt=_item_text(items, "MpesaReceiptNumber", "CallbackMetadata", required=True),
            paid_at=compact_time(
                _required(items, "TransactionDate", "CallbackMetadata"), "TransactionDate"
            ),
            phone=_item_text(items, "PhoneNumber", "CallbackMetadata", required=True),
        )
    return StkCallback(
        merchant_request_id=_text(callback, "MerchantRequestID"),
        checkout_request_id=_text(callback, "CheckoutRequestID"),
        result_code=result_code,
        result_desc=_text(callback, "ResultDesc", required=False),
        outcome=outcome,
        payment=payment,
    )


def _c2b(body: object) -> C2BNotification:
    fields = _object(body, "body")
    return C2BNotification(
        transaction_type=_text(fields, "TransactionType", required=False),
        trans_id=_text(fields, "TransID"),
        trans_time=compact_time(fields.get("TransTime"), "TransTime"),
        amount_minor=minor_from_whole_shillings(fields.get("TransAmount"), what="TransAmount"),
        business_shortcode=_text(fields, "BusinessShortCode"),
        bill_ref_number=_text(fields, "BillRefNumber", required=False),
        invoice_number=_text(fields, "InvoiceNumber", required=False),
        org_account_balance_minor=minor_from_balance(
            fields.get("OrgAccountBalance"), what="OrgAccountBalance"
        ),
        third_party_trans_id=_text(fields, "ThirdPartyTransID", required=False),
        msisdn=_text(fields, "MSISDN"),
        first_name=_text(fields, "FirstName", required=False),
        middle_name=_text(fields, "MiddleName", required=False),
        last_name=_text(fields, "LastName", required=False),
    )


def parse_c2b_validation(body: object) -> C2BNotification:
    """The body POSTed to the ValidationURL: answer with `validation_accepted()` or
    `validation_rejected(...)` within Daraja's few seconds."""
    return _c2b(body)


def parse_c2b_confirmation(body: object) -> C2BNotification:
    """The body POSTed to the ConfirmationURL: the payment is complete (credit it once, by
    TransID) and must be answered with `acknowledgement()`."""
    return _c2b(body)


def _result(body: object) -> tuple[ResultHeader, Mapping[str, object]]:
    result = _object(_object(body, "body").get("Result"), "Result")
    result_type = result.get("ResultType", 0)
    header = ResultHeader(
        result_type=_int_code(result_type, "ResultType"),
        result_code=_code(result.get("ResultCode"), "ResultCode"),
        result_desc=_text(result, "ResultDesc", required=False),
        originator_conversation_id=_text(result, "OriginatorConversationID"),
        conversation_id=_text(result, "ConversationID", required=False),
        transaction_id=_text(result, "TransactionID", required=False),
    )
    return header, result


def _parameters(result: Mapping[str, object]) -> dict[str, object]:
    return _named_items(
        result.get("ResultParameters"), "ResultParameter", "Key", "ResultParameters"
    )


def parse_b2c_result(body: object) -> B2CResult:
    """``{"Result": {...}}`` as POSTed to a B2C payment's ResultURL."""
    header, result = _result(body)
    paid = None
    if header.succeeded:
        items = _parameters(result)
        registered = items.get("B2CRecipientIsRegisteredCustomer")
        paid = B2CPaid(
            amount_minor=minor_from_whole_shillings(
                _required(items, "TransactionAmount", "ResultParameters"), what="TransactionAmount"
            ),
            receipt=_item_text(items, "TransactionReceipt", "ResultParameters", required=True),
            receiver_public_name=_item_text(
                items, "ReceiverPartyPublicName", "ResultParameters", required=False
            ),
            completed_at=_dotted_time(
                _required(items, "TransactionCompletedDateTime", "ResultParameters"),
                "TransactionCompletedDateTime",
            ),
            utility_account_balance_minor=minor_from_balance(
                items.get("B2CUtilityAccountAvailableFunds"), what="B2CUtilityAccountAvailableFunds"
            ),
            working_account_balance_minor=minor_from_balance(
                items.get("B2CWorkingAccountAvailableFunds"), what="B2CWorkingAccountAvailableFunds"
            ),
            recipient_is_registered=None if registered is None else registered == "Y",
        )
        if paid.receipt != header.transaction_id and header.transaction_id:
            raise CallbackMalformed("TransactionReceipt differs from TransactionID")
    return B2CResult(header, paid)


def parse_queue_timeout(body: object) -> QueueTimeout:
    """The notice POSTed to a QueueTimeOutURL: M-Pesa did not get to the request in time.

    Daraja documents this body loosely; it comes in the `Result` shape, so that is what is read.
    """
    header, _ = _result(body)
    return QueueTimeout(
        originator_conversation_id=header.originator_conversation_id,
        conversation_id=header.conversation_id,
        result_code=header.result_code,
        result_desc=header.result_desc,
    )


def parse_transaction_status_result(body: object) -> TransactionStatusResult:
    """The `Result` POSTed to a transaction status query's ResultURL."""
    header, result = _result(body)
    found = None
    if header.succeeded:
        items = _parameters(result)
        finalised = items.get("FinalisedTime")
        found = TransactionStatusFound(
            receipt=_item_text(items, "ReceiptNo", "ResultParameters", required=True),
            amount_minor=minor_from_whole_shillings(
                _required(items, "Amount", "ResultParameters"), what="Amount"
            ),
            status=_item_text(items, "TransactionStatus", "ResultParameters", required=True),
            finalised_at=None
            if finalised in (None, "")
            else compact_time(finalised, "FinalisedTime"),
            debit_party_name=_item_text(
                items, "DebitPartyName", "ResultParameters", required=False
            ),
            credit_party_name=_item_text(
                items, "CreditPartyName", "ResultParameters", required=False
            ),
            reason_type=_item_text(items, "ReasonType", "ResultParameters", required=False),
            original_originator_conversation_id=_item_text(
                items, "Originator Conversation ID", "ResultParameters", required=False
            ),
            original_conversation_id=_item_text(
                items, "Conversation ID", "ResultParameters", required=False
            ),
        )
    return TransactionStatusResult(header, found)


def parse_reversal_result(body: object) -> ReversalResult:
    """The `Result` POSTed to a reversal's ResultURL."""
    header, result = _result(body)
    done = None
    if header.succeeded:
        items = _parameters(result)
        completed = items.get("TransCompletedTime")
        done = Reversed(
            original_transaction_id=_item_text(
                items, "OriginalTransactionID", "ResultParameters", required=True
            ),
            amount_minor=minor_from_whole_shillings(
                _required(items, "Amount", "ResultParameters"), what="Amount"
            ),
            completed_at=None
            if completed in (None, "")
            else compact_time(completed, "TransCompletedTime"),
            credit_party_public_name=_item_text(
                items, "CreditPartyPublicName", "ResultParameters", required=False
            ),
            debit_party_public_name=_item_text(
                items, "DebitPartyPublicName", "ResultParameters", required=False
            ),
        )
    return ReversalResult(header, done)
