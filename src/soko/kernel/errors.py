"""Business failures, each named after the rule it breaks.

Every channel maps errors in exactly one table (the API to RFC 9457 problem+json, the CLI
to ``code: detail``), so each class carries a stable snake_case ``code``, a fixed ``title`` and
a ``kind``. Here are the kinds and the errors every feature shares (amounts, pages,
idempotency, transactions); each feature's `errors.py` draws its own. The hierarchy::

    DomainError
    ├── InvalidInput                 kind=invalid
    │   └── TextInvalid, AmountMalformed, AmountNotAString, AmountTooPrecise,
    │       AmountOverflows, AmountMustBePositive, CurrencyUnknown, CurrencyMismatch,
    │       CurrencyNotOffered, WeightsInvalid, PageSizeInvalid, CursorInvalid,
    │       IdempotencyKeyInvalid
    ├── NotFound                     kind=not_found
    ├── Conflict                     kind=conflict
    │   └── IdempotencyKeyReused, TransactionConflict
    ├── Rejected                     kind=rejected
    ├── Forbidden                    kind=forbidden
    └── Unauthenticated              kind=unauthenticated
        └── ApiKeyInvalid, SessionInvalid

``transient`` follows TigerBeetle: True only where the very same request may succeed later without
any change by the caller (a transaction conflict). Balance rules are not transient: a retry of the
same request against the same balance fails the same way until something else changes.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

ErrorKind = Literal["invalid", "not_found", "conflict", "rejected", "forbidden", "unauthenticated"]


class DomainError(Exception):
    """A business rule said no. Subclasses fix ``code``, ``title`` and ``kind``."""

    code: ClassVar[str] = "domain_error"
    title: ClassVar[str] = "The request broke a business rule."
    kind: ClassVar[ErrorKind] = "invalid"
    transient: ClassVar[bool] = False

    def __init__(self, detail: str | None = None, **context: Any) -> None:
        self.detail = detail or self.title
        #: Extra facts for the caller (the failing index in a batch, the amount still allowed...).
        self.context: dict[str, Any] = context
        super().__init__(self.detail)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.detail!r}, **{self.context!r})"


class InvalidInput(DomainError):
    code = "invalid_input"
    title = "The request is malformed."
    kind = "invalid"


class NotFound(DomainError):
    code = "not_found"
    title = "The resource does not exist."
    kind = "not_found"


class Conflict(DomainError):
    code = "conflict"
    title = "The request conflicts with the current state."
    kind = "conflict"


class Rejected(DomainError):
    code = "rejected"
    title = "A balance or limit rule rejected the request."
    kind = "rejected"


class Forbidden(DomainError):
    code = "forbidden"
    title = "The caller may not do this."
    kind = "forbidden"


class Unauthenticated(DomainError):
    code = "unauthenticated"
    title = "The caller did not prove who it is."
    kind = "unauthenticated"


class ApiKeyInvalid(Unauthenticated):
    code = "api_key_invalid"
    title = "The API key is missing, unknown or revoked."


class SessionInvalid(Unauthenticated):
    code = "session_invalid"
    title = "The session token is missing, unknown or expired; sign in again."


class TextInvalid(InvalidInput):
    """A string holds a NUL or a lone surrogate: neither is text that can be stored (PostgreSQL
    refuses NUL, UTF-8 cannot encode a surrogate), shown or hashed. Refused at every edge."""

    code = "text_invalid"
    title = "The request holds text that is not text (a NUL character or a lone surrogate)."


# --- amounts and currencies -------------------------------------------------------------------


class AmountMalformed(InvalidInput):
    code = "amount_malformed"
    title = "The amount is not a plain decimal number."


class AmountNotAString(InvalidInput):
    code = "amount_not_a_string"
    title = "The amount must be a decimal string, never a binary number."


class AmountTooPrecise(InvalidInput):
    code = "amount_too_precise"
    title = "The amount has more decimal places than its currency allows."


class AmountOverflows(InvalidInput):
    code = "amount_overflows"
    title = "The amount does not fit in a signed 64-bit count of minor units."


class AmountMustBePositive(InvalidInput):
    code = "amount_must_be_positive"
    title = "The amount must be greater than zero."


class CurrencyUnknown(InvalidInput):
    code = "currency_unknown"
    title = "The currency is not an ISO 4217 currency that Soko knows."


class CurrencyMismatch(InvalidInput):
    code = "currency_mismatch"
    title = "The amount's currency does not match the account's currency."


class CurrencyNotOffered(InvalidInput):
    code = "currency_not_offered"
    title = "This operator holds no wallets in the currency (no KYC limits are set for it)."


class WeightsInvalid(InvalidInput):
    code = "weights_invalid"
    title = "Allocation weights must be non-negative integers, not all zero."


# --- reads, idempotency and transactions ------------------------------------------------------


class PageSizeInvalid(InvalidInput):
    code = "page_size_invalid"
    title = "The page size is outside the allowed range."


class CursorInvalid(InvalidInput):
    code = "cursor_invalid"
    title = "The pagination cursor is not one Soko issued."


class IdempotencyKeyInvalid(InvalidInput):
    code = "idempotency_key_invalid"
    title = "The idempotency key is missing, empty or too long."


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"
    title = "The idempotency key was already used for a different request."


class TransactionConflict(Conflict):
    code = "transaction_conflict"
    title = "The database kept reporting conflicting transactions; try again."
    transient = True


def all_error_classes() -> list[type[DomainError]]:
    """Every concrete error, for the channels' totality tests."""
    found: list[type[DomainError]] = []
    stack: list[type[DomainError]] = [DomainError]
    while stack:
        cls = stack.pop()
        found.append(cls)
        stack.extend(cls.__subclasses__())
    return sorted(found, key=lambda c: c.code)
