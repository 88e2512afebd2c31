"""The Daraja HTTP client: OAuth, STK push and query, C2B URLs, B2C, status and reversal.

Money-moving calls (STK push, B2C, reversal) are never sent twice unless the first surely did
not reach Daraja (the connection was never made). Any other failure after sending raises
`DarajaOutcomeUnknown`: the caller keeps the request pending and settles it later by a status
query (STK query, or transaction status by OriginatorConversationID), never by resending.
Reads and queries are retried freely, with a bounded number of attempts and capped backoff.

Nothing secret is logged or shown in a repr: not the consumer secret, the passkey, the
initiator password, the callback token, the STK password or the security credential.
"""

from __future__ import annotations

import base64
import enum
import ipaddress
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from soko.rails.mpesa.callbacks import (
    MINOR_PER_SHILLING,
    NAIROBI,
    SAFARICOM_CALLBACK_NETWORKS,
    StkOutcome,
)

logger = logging.getLogger(__name__)

SANDBOX_BASE_URL: Final = "https://sandbox.safaricom.co.ke"
PRODUCTION_BASE_URL: Final = "https://api.safaricom.co.ke"

OAUTH_PATH: Final = "/oauth/v1/generate"
STK_PUSH_PATH: Final = "/mpesa/stkpush/v1/processrequest"
STK_QUERY_PATH: Final = "/mpesa/stkpushquery/v1/query"
C2B_REGISTER_PATH: Final = "/mpesa/c2b/v1/registerurl"
C2B_SIMULATE_PATH: Final = "/mpesa/c2b/v1/simulate"
B2C_PATH: Final = "/mpesa/b2c/v3/paymentrequest"
TRANSACTION_STATUS_PATH: Final = "/mpesa/transactionstatus/v1/query"
REVERSAL_PATH: Final = "/mpesa/reversal/v1/request"

#: Daraja's answer to a bearer token it no longer accepts (sent with HTTP 401 or 404).
INVALID_TOKEN_CODE: Final = "404.001.03"  # noqa: S105 - an error code, not a secret
#: Daraja's generic "cannot do that now" code; with the message below it means an STK push is
#: still waiting for the customer, which a query reports as pending, not as an error.
STK_PENDING_CODE: Final = "500.001.1001"
STK_PENDING_MESSAGE: Final = "being processed"
#: Daraja's published field limits.
ACCOUNT_REFERENCE_LENGTH_MAX: Final = 12
TRANSACTION_DESC_LENGTH_MAX: Final = 13
REMARKS_LENGTH_MAX: Final = 100
#: The largest single M-Pesa transaction, in shillings.
TRANSACTION_SHILLINGS_MAX: Final = 250_000
#: Bytes of a Daraja answer read at most (the gateway's answers are a few hundred bytes).
RESPONSE_BYTES_MAX: Final = 64 * 1024
#: Words Daraja refuses in C2B URLs (it rejects the registration).
C2B_URL_FORBIDDEN_WORDS: Final = ("mpesa", "m-pesa", "safaricom", "exec", "cmd", "sql", "query")


class ShortcodeType(enum.Enum):
    PAYBILL = "paybill"
    TILL = "till"


class C2BResponseType(enum.Enum):
    """What M-Pesa does with a C2B payment when our validation URL does not answer."""

    COMPLETED = "Completed"
    CANCELLED = "Cancelled"


class B2CCommand(enum.Enum):
    BUSINESS_PAYMENT = "BusinessPayment"
    SALARY_PAYMENT = "SalaryPayment"
    PROMOTION_PAYMENT = "PromotionPayment"


class CallbackKind(enum.Enum):
    """Our callback routes, one path each below `callback_base_url/<token>/`."""

    STK = "stk"
    C2B_VALIDATION = "c2b/validation"
    C2B_CONFIRMATION = "c2b/confirmation"
    B2C_RESULT = "b2c/result"
    B2C_TIMEOUT = "b2c/timeout"
    STATUS_RESULT = "status/result"
    STATUS_TIMEOUT = "status/timeout"
    REVERSAL_RESULT = "reversal/result"
    REVERSAL_TIMEOUT = "reversal/timeout"
    #: Status queries that confirm a C2B payment before it is credited.
    C2B_STATUS_RESULT = "status/c2b/result"
    C2B_STATUS_TIMEOUT = "status/c2b/timeout"
    #: Status queries about a reversal whose answer or Result was lost.
    REVERSAL_STATUS_RESULT = "status/reversal/result"
    REVERSAL_STATUS_TIMEOUT = "status/reversal/timeout"


# --- errors --------------------------------------------------------------------------------------


class DarajaError(Exception):
    """Base of the client's errors."""


class DarajaRejected(DarajaError):
    """Daraja answered and refused: nothing happened, the same request would be refused again."""

    def __init__(self, error_code: str, error_message: str, *, status: int) -> None:
        super().__init__(f"Daraja refused ({status}): {error_code} {error_message}")
        self.error_code = error_code
        self.error_message = error_message
        self.status = status


class DarajaAuthenticationFailed(DarajaRejected):
    """The consumer key and secret were refused, or a fresh token was refused again."""


class DarajaUnavailable(DarajaError):
    """Daraja could not be reached or kept failing; no money moved (the request was either a
    read, or a money-moving request that surely never reached Daraja). Safe to try later."""


class DarajaOutcomeUnknown(DarajaError):
    """A money-moving request may or may not have been processed (the answer was lost, cut, late
    or garbled). Do not resend it: keep it pending and settle it by a status query."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"outcome of {path} unknown: {reason}")
        self.path = path
        self.reason = reason


# --- settings ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MpesaSettings:
    """One Daraja app and the shortcode it serves. Secrets are kept out of the repr."""

    base_url: str
    consumer_key: str
    consumer_secret: str = field(repr=False)
    shortcode: str
    passkey: str = field(repr=False)
    callback_base_url: str
    #: A long random path segment in every callback URL: Daraja does not sign its callbacks, so
    #: knowing this token (and coming from Safaricom's networks) is what makes one believable.
    callback_token: str = field(repr=False)
    shortcode_type: ShortcodeType = ShortcodeType.PAYBILL
    #: The till (PartyB) of a Buy Goods shortcode; `shortcode` is then its head office number.
    till_number: str | None = None
    initiator_name: str = ""
    initiator_password: str = field(default="", repr=False)
    #: Safaricom's public certificate (PEM), to encrypt the initiator password.
    certificate_pem: str = field(default="", repr=False)
    allowed_callback_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = field(
        default=SAFARICOM_CALLBACK_NETWORKS, repr=False
    )
    connect_timeout_seconds: float = 5.0
    #: Daraja is slow at peak times; a read timeout on a money-moving call is an unknown
    #: outcome, so this is generous.
    read_timeout_seconds: float = 30.0
    max_attempts: int = 3
    backoff_seconds: float = 0.5
    backoff_cap_seconds: float = 4.0
    #: A token is renewed this long before Daraja says it expires (clocks and latency drift).
    token_margin_seconds: float = 60.0

    def __post_init__(self) -> None:
        parts = urlsplit(self.base_url)
        loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
        # Credentials travel in every request: plain HTTP only to a sandbox on this machine.
        if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
            raise ValueError("base_url must be https (or http to a loopback sandbox)")
        if not self.shortcode.isdecimal():
            raise ValueError("shortcode must be digits")
        if self.shortcode_type is ShortcodeType.TILL and not (
            self.till_number and self.till_number.isdecimal()
        ):
            raise ValueError("a till shortcode needs its till_number (digits)")
        if len(self.callback_token) < 16 or not self.callback_token.isalnum():
            raise ValueError("callback_token must be at least 16 letters or digits")
        if self.max_attempts < 1 or self.max_attempts > 10:
            raise ValueError("max_attempts must be 1..10")
        if min(self.connect_timeout_seconds, self.read_timeout_seconds) <= 0:
            raise ValueError("timeouts must be positive")

    def callback_url(self, kind: CallbackKind) -> str:
        return f"{self.callback_base_url.rstrip('/')}/{self.callback_token}/{kind.value}"

    @property
    def party_b(self) -> str:
        """Who receives an STK payment: the paybill, or the till of a Buy Goods shortcode."""
        if self.shortcode_type is ShortcodeType.TILL:
            assert self.till_number is not None
            return self.till_number
        return self.shortcode

    @property
    def stk_transaction_type(self) -> str:
        if self.shortcode_type is ShortcodeType.TILL:
            return "CustomerBuyGoodsOnline"
        return "CustomerPayBillOnline"


# --- credentials ---------------------------------------------------------------------------------


def daraja_timestamp(now: datetime) -> str:
    """`now` (aware) as Daraja's YYYYMMDDHHmmss in Nairobi time."""
    if now.tzinfo is None:
        raise ValueError("daraja_timestamp needs an aware datetime")
    return now.astimezone(NAIROBI).strftime("%Y%m%d%H%M%S")


def stk_password(shortcode: str, passkey: str, timestamp: str) -> str:
    """base64(Shortcode + Passkey + Timestamp), the STK push and query password."""
    return base64.b64encode(f"{shortcode}{passkey}{timestamp}".encode()).decode("ascii")


def security_credential(initiator_password: str, certificate_pem: str) -> str:
    """The initiator password encrypted with Safaricom's public key (RSA PKCS#1 v1.5), base64.

    `certificate_pem` is the certificate Safaricom publishes (or a bare public key PEM).
    """
    data = certificate_pem.encode()
    public_key = (
        x509.load_pem_x509_certificate(data).public_key()
        if b"BEGIN CERTIFICATE" in data
        else serialization.load_pem_public_key(data)
    )
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise ValueError("the certificate does not hold an RSA public key")
    encrypted = public_key.encrypt(initiator_password.encode(), padding.PKCS1v15())
    return base64.b64encode(encrypted).decode("ascii")


# --- answers -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StkPushAccepted:
    merchant_request_id: str
    checkout_request_id: str
    response_code: str
    response_description: str
    customer_message: str


@dataclass(frozen=True, slots=True)
class StkQueryResult:
    merchant_request_id: str
    checkout_request_id: str
    #: None while the customer has not answered yet (`pending`).
    result_code: int | None
    result_desc: str
    outcome: StkOutcome | None

    @property
    def pending(self) -> bool:
        return self.outcome is None


@dataclass(frozen=True, slots=True)
class C2BRegistered:
    originator_conversation_id: str
    response_code: str
    response_description: str


@dataclass(frozen=True, slots=True)
class RequestAccepted:
    """Daraja's synchronous answer to an asynchronous request (B2C, status, reversal, C2B
    simulate): queued, the result comes to the ResultURL."""

    originator_conversation_id: str
    conversation_id: str
    response_code: str
    response_description: str


# --- the client ----------------------------------------------------------------------------------


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _whole_shillings(amount_minor: int) -> int:
    if type(amount_minor) is not int or amount_minor <= 0:
        raise ValueError("amount_minor must be a positive int")
    shillings, cents = divmod(amount_minor, MINOR_PER_SHILLING)
    if cents:
        raise ValueError("M-Pesa moves whole shillings only")
    if shillings > TRANSACTION_SHILLINGS_MAX:
        raise ValueError(f"M-Pesa moves at most KES {TRANSACTION_SHILLINGS_MAX} at once")
    return shillings


def _msisdn(phone: str) -> str:
    if not (len(phone) == 12 and phone.isdecimal() and phone.startswith("254")):
        raise ValueError("phone must be 2547XXXXXXXX or 2541XXXXXXXX (12 digits)")
    return phone


def _bounded(text: str, limit: int, what: str) -> str:
    if len(text) > limit:
        raise ValueError(f"{what} is longer than Daraja's {limit} characters")
    return text


def _str(body: Mapping[str, object], key: str) -> str:
    value = body.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value if isinstance(value, str) else ""


def _error_of(body: object) -> tuple[str, str] | None:
    """(errorCode, errorMessage) of a Daraja error body, or None if it is not one."""
    if isinstance(body, dict) and isinstance(body.get("errorCode"), str):
        message = body.get("errorMessage")
        return body["errorCode"], message if isinstance(message, str) else ""
    return None


def _retryable_problem(
    status: int, answer: object, error_body: tuple[str, str] | None
) -> str | None:
    """Why an answer is neither a success nor a refusal, or None if it is one of those.

    429 is the gateway's rate limit, refused before processing (safe to resend even when money
    moves). 502 and 504 are a proxy's, and a 5xx without Daraja's error body is not Daraja's
    answer: the backend may have acted. A 2xx that is not a JSON object is garbled.
    """
    if status == 429:
        return "HTTP 429"
    if status in (502, 504) or (status >= 500 and error_body is None):
        return f"HTTP {status}"
    if 200 <= status < 300 and not isinstance(answer, dict):
        return "garbled answer"
    return None


def _accepted_answer(
    status: int, answer: object, error_body: tuple[str, str] | None
) -> dict[str, object]:
    """The answer of an accepted request, or DarajaRejected with Daraja's reasons."""
    if error_body is not None:
        raise DarajaRejected(error_body[0], error_body[1], status=status)
    if not 200 <= status < 300 or not isinstance(answer, dict):
        raise DarajaRejected(f"http.{status}", "unexpected answer", status=status)
    response_code = _str(answer, "ResponseCode")
    if response_code != "0":
        raise DarajaRejected(
            response_code or "missing", _str(answer, "ResponseDescription"), status=status
        )
    return answer


class DarajaClient:
    """A synchronous Daraja client for one app. Thread-safe; close it (or use `with`)."""

    def __init__(
        self,
        settings: MpesaSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._settings = settings
        self._monotonic = monotonic
        self._sleep = sleep
        self._now = now
        self._http = httpx.Client(
            base_url=settings.base_url,
            timeout=httpx.Timeout(
                settings.read_timeout_seconds, connect=settings.connect_timeout_seconds
            ),
            # A redirect from Daraja would be a misconfiguration or an attack: never follow one
            # with our credentials.
            follow_redirects=False,
            trust_env=False,
            transport=transport,
        )
        self._token_lock = threading.Lock()
        self._token: str | None = None
        self._token_expires_at = 0.0
        self._credential: str | None = None

    def __repr__(self) -> str:
        return f"DarajaClient({self._settings.base_url!r}, shortcode={self._settings.shortcode})"

    def callback_url(self, kind: CallbackKind) -> str:
        return self._settings.callback_url(kind)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> DarajaClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- token ---

    def access_token(self) -> str:
        """The cached bearer token, fetched anew shortly before it expires."""
        with self._token_lock:
            if self._token is None or self._monotonic() >= self._token_expires_at:
                self._token, lifetime = self._fetch_token()
                margin = min(self._settings.token_margin_seconds, lifetime / 10)
                self._token_expires_at = self._monotonic() + lifetime - margin
            return self._token

    def _forget_token(self, token: str) -> None:
        with self._token_lock:
            # Another thread may have renewed it already: keep that one.
            if self._token == token:
                self._token = None

    def _fetch_token(self) -> tuple[str, float]:
        basic = httpx.BasicAuth(self._settings.consumer_key, self._settings.consumer_secret)
        for attempt in range(1, self._settings.max_attempts + 1):
            try:
                response = self._exchange(
                    "GET",
                    OAUTH_PATH,
                    params={"grant_type": "client_credentials"},
                    auth=basic,
                )
            except httpx.TransportError as error:
                self._retry_or_give_up(attempt, OAUTH_PATH, type(error).__name__, error)
                continue
            status, body = response
            if status in (429,) or status >= 500:
                self._retry_or_give_up(attempt, OAUTH_PATH, f"HTTP {status}", None)
                continue
            if status != 200:
                code, message = _error_of(body) or (f"http.{status}", "authentication refused")
                raise DarajaAuthenticationFailed(code, message, status=status)
            if not isinstance(body, dict):
                self._retry_or_give_up(attempt, OAUTH_PATH, "garbled token answer", None)
                continue
            token, lifetime = body.get("access_token"), body.get("expires_in")
            # Daraja sends expires_in as text ("3599").
            if isinstance(lifetime, str) and lifetime.isdecimal():
                lifetime = int(lifetime)
            if not isinstance(token, str) or not token or not isinstance(lifetime, int):
                self._retry_or_give_up(attempt, OAUTH_PATH, "garbled token answer", None)
                continue
            return token, float(max(lifetime, 1))
        raise AssertionError("unreachable: the last attempt raises")

    # --- transport ---

    def _exchange(
        self,
        method: str,
        path: str,
        *,
        payload: Mapping[str, object] | None = None,
        params: Mapping[str, str] | None = None,
        auth: httpx.Auth | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, object]:
        """One HTTP exchange: (status, parsed JSON or None). Transport errors propagate."""
        started = time.monotonic()
        with self._http.stream(
            method, path, json=payload, params=params, auth=auth, headers=headers
        ) as response:
            content = b""
            for chunk in response.iter_bytes():
                content += chunk
                if len(content) > RESPONSE_BYTES_MAX:
                    break
        # Paths and statuses only: bodies carry passwords and credentials.
        logger.info(
            "daraja %s %s -> %s in %.3fs",
            method,
            path,
            response.status_code,
            time.monotonic() - started,
        )
        try:
            body: object = json.loads(content) if content else None
        except ValueError:
            body = None
        return response.status_code, body

    def _retry_or_give_up(
        self, attempt: int, path: str, reason: str, error: BaseException | None
    ) -> None:
        if attempt >= self._settings.max_attempts:
            raise DarajaUnavailable(f"{path}: {reason} after {attempt} attempts") from error
        delay = min(self._settings.backoff_cap_seconds, self._settings.backoff_seconds * 2**attempt)
        # Full jitter: many workers retrying together must not hit Daraja in step.
        delay *= random.uniform(0.5, 1.0)  # noqa: S311 - spreading retries, not a secret
        logger.warning("daraja %s: %s, retrying in %.2fs", path, reason, delay)
        self._sleep(delay)

    def _call(
        self, path: str, body: Mapping[str, object], *, moves_money: bool
    ) -> dict[str, object]:
        """POST `body` with a bearer token; the JSON object of a 2xx with ResponseCode "0"."""
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            token = self.access_token()
            try:
                status, answer = self._exchange(
                    "POST", path, payload=body, headers={"Authorization": f"Bearer {token}"}
                )
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
                # No connection was made: the request surely never reached Daraja.
                self._retry_or_give_up(attempt, path, type(error).__name__, error)
                continue
            except httpx.TransportError as error:
                if moves_money:
                    raise DarajaOutcomeUnknown(path, type(error).__name__) from error
                self._retry_or_give_up(attempt, path, type(error).__name__, error)
                continue
            error_body = _error_of(answer)
            if status == 401 or (error_body is not None and error_body[0] == INVALID_TOKEN_CODE):
                # The gateway refused the token before anything was done: renew it, once.
                if refreshed:
                    code, message = error_body or (INVALID_TOKEN_CODE, "token refused")
                    raise DarajaAuthenticationFailed(code, message, status=status)
                refreshed = True
                attempt -= 1
                self._forget_token(token)
                continue
            problem = _retryable_problem(status, answer, error_body)
            if problem is None:
                return _accepted_answer(status, answer, error_body)
            if moves_money and status != 429:
                raise DarajaOutcomeUnknown(path, problem)
            self._retry_or_give_up(attempt, path, problem, None)

    def _security_credential(self) -> str:
        # PKCS#1 v1.5 encryption is randomised: one credential per client is enough.
        if self._credential is None:
            if not (self._settings.initiator_name and self._settings.certificate_pem):
                raise ValueError("this call needs initiator_name, its password and certificate")
            self._credential = security_credential(
                self._settings.initiator_password, self._settings.certificate_pem
            )
        return self._credential

    def _stk_auth(self) -> dict[str, object]:
        timestamp = daraja_timestamp(self._now())
        return {
            "BusinessShortCode": self._settings.shortcode,
            "Password": stk_password(self._settings.shortcode, self._settings.passkey, timestamp),
            "Timestamp": timestamp,
        }

    # --- the API ---

    def stk_push(
        self,
        *,
        amount_minor: int,
        phone: str,
        account_reference: str,
        description: str,
        callback_url: str | None = None,
    ) -> StkPushAccepted:
        """Prompt `phone` to pay. Raises DarajaOutcomeUnknown if the answer is lost: then
        the push may be on the phone, so settle by `stk_query`, never by pushing again."""
        body = {
            **self._stk_auth(),
            "TransactionType": self._settings.stk_transaction_type,
            "Amount": _whole_shillings(amount_minor),
            "PartyA": _msisdn(phone),
            "PartyB": self._settings.party_b,
            "PhoneNumber": phone,
            "CallBackURL": callback_url or self._settings.callback_url(CallbackKind.STK),
            "AccountReference": _bounded(
                account_reference, ACCOUNT_REFERENCE_LENGTH_MAX, "account_reference"
            ),
            "TransactionDesc": _bounded(description, TRANSACTION_DESC_LENGTH_MAX, "description"),
        }
        answer = self._call(STK_PUSH_PATH, body, moves_money=True)
        checkout = _str(answer, "CheckoutRequestID")
        if not checkout:
            raise DarajaOutcomeUnknown(STK_PUSH_PATH, "no CheckoutRequestID in the answer")
        return StkPushAccepted(
            merchant_request_id=_str(answer, "MerchantRequestID"),
            checkout_request_id=checkout,
            response_code=_str(answer, "ResponseCode"),
            response_description=_str(answer, "ResponseDescription"),
            customer_message=_str(answer, "CustomerMessage"),
        )

    def stk_query(self, checkout_request_id: str) -> StkQueryResult:
        """Where an STK push stands: pending, or its outcome. Carries no receipt number."""
        body = {**self._stk_auth(), "CheckoutRequestID": checkout_request_id}
        try:
            answer = self._call(STK_QUERY_PATH, body, moves_money=False)
        except DarajaRejected as rejected:
            if (
                rejected.error_code == STK_PENDING_CODE
                and STK_PENDING_MESSAGE in rejected.error_message.lower()
            ):
                return StkQueryResult("", checkout_request_id, None, rejected.error_message, None)
            raise
        code_text = _str(answer, "ResultCode")
        if not code_text.isdecimal():
            raise DarajaUnavailable(f"{STK_QUERY_PATH}: no ResultCode in the answer")
        code = int(code_text)
        return StkQueryResult(
            merchant_request_id=_str(answer, "MerchantRequestID"),
            checkout_request_id=_str(answer, "CheckoutRequestID") or checkout_request_id,
            result_code=code,
            result_desc=_str(answer, "ResultDesc"),
            outcome=StkOutcome.from_result_code(code),
        )

    def register_c2b_urls(
        self,
        *,
        response_type: C2BResponseType = C2BResponseType.COMPLETED,
        confirmation_url: str | None = None,
        validation_url: str | None = None,
    ) -> C2BRegistered:
        confirmation = confirmation_url or self._settings.callback_url(
            CallbackKind.C2B_CONFIRMATION
        )
        validation = validation_url or self._settings.callback_url(CallbackKind.C2B_VALIDATION)
        for url in (confirmation, validation):
            if any(word in url.lower() for word in C2B_URL_FORBIDDEN_WORDS):
                raise ValueError(f"Daraja refuses C2B URLs with any of {C2B_URL_FORBIDDEN_WORDS}")
        body = {
            "ShortCode": self._settings.shortcode,
            "ResponseType": response_type.value,
            "ConfirmationURL": confirmation,
            "ValidationURL": validation,
        }
        answer = self._call(C2B_REGISTER_PATH, body, moves_money=False)
        return C2BRegistered(
            # Daraja spells it "OriginatorCoversationID" here.
            originator_conversation_id=_str(answer, "OriginatorCoversationID")
            or _str(answer, "OriginatorConversationID"),
            response_code=_str(answer, "ResponseCode"),
            response_description=_str(answer, "ResponseDescription"),
        )

    def simulate_c2b(
        self, *, amount_minor: int, phone: str, bill_ref_number: str = ""
    ) -> RequestAccepted:
        """Sandboxes only (Safaricom's and ours): a customer paying the shortcode."""
        command = (
            "CustomerBuyGoodsOnline"
            if self._settings.shortcode_type is ShortcodeType.TILL
            else "CustomerPayBillOnline"
        )
        body = {
            "ShortCode": self._settings.shortcode,
            "CommandID": command,
            "Amount": _whole_shillings(amount_minor),
            "Msisdn": _msisdn(phone),
            "BillRefNumber": bill_ref_number,
        }
        return self._accepted(self._call(C2B_SIMULATE_PATH, body, moves_money=True))

    def b2c_payment(
        self,
        *,
        originator_conversation_id: str,
        amount_minor: int,
        phone: str,
        remarks: str,
        command: B2CCommand = B2CCommand.BUSINESS_PAYMENT,
        occasion: str = "",
        result_url: str | None = None,
        timeout_url: str | None = None,
    ) -> RequestAccepted:
        """Pay `phone`. `originator_conversation_id` is our own unique id for this payout: the
        Result carries it, and a transaction status query can find the payout by it when the
        answer or the Result is lost."""
        if not originator_conversation_id or len(originator_conversation_id) > 64:
            raise ValueError("originator_conversation_id must be 1..64 characters")
        body = {
            "OriginatorConversationID": originator_conversation_id,
            "InitiatorName": self._settings.initiator_name,
            "SecurityCredential": self._security_credential(),
            "CommandID": command.value,
            "Amount": _whole_shillings(amount_minor),
            "PartyA": self._settings.shortcode,
            "PartyB": _msisdn(phone),
            "Remarks": _bounded(remarks, REMARKS_LENGTH_MAX, "remarks") or "payment",
            "QueueTimeOutURL": timeout_url or self._settings.callback_url(CallbackKind.B2C_TIMEOUT),
            "ResultURL": result_url or self._settings.callback_url(CallbackKind.B2C_RESULT),
            "Occasion": _bounded(occasion, REMARKS_LENGTH_MAX, "occasion"),
        }
        return self._accepted(self._call(B2C_PATH, body, moves_money=True))

    def transaction_status(
        self,
        *,
        transaction_id: str | None = None,
        originator_conversation_id: str | None = None,
        remarks: str = "status",
        occasion: str = "",
        result_url: str | None = None,
        timeout_url: str | None = None,
    ) -> RequestAccepted:
        """Ask for a transaction's status, by its receipt or by the OriginatorConversationID we
        gave it; the answer comes to the ResultURL."""
        if (transaction_id is None) == (originator_conversation_id is None):
            raise ValueError("give exactly one of transaction_id, originator_conversation_id")
        body: dict[str, object] = {
            "Initiator": self._settings.initiator_name,
            "SecurityCredential": self._security_credential(),
            "CommandID": "TransactionStatusQuery",
            "PartyA": self._settings.shortcode,
            "IdentifierType": "4",
            "ResultURL": result_url or self._settings.callback_url(CallbackKind.STATUS_RESULT),
            "QueueTimeOutURL": timeout_url
            or self._settings.callback_url(CallbackKind.STATUS_TIMEOUT),
            "Remarks": _bounded(remarks, REMARKS_LENGTH_MAX, "remarks") or "status",
            "Occasion": _bounded(occasion, REMARKS_LENGTH_MAX, "occasion"),
        }
        if transaction_id is not None:
            body["TransactionID"] = transaction_id
        else:
            body["OriginatorConversationID"] = originator_conversation_id
        return self._accepted(self._call(TRANSACTION_STATUS_PATH, body, moves_money=False))

    def reversal(
        self,
        *,
        transaction_id: str,
        amount_minor: int,
        remarks: str,
        occasion: str = "",
        result_url: str | None = None,
        timeout_url: str | None = None,
    ) -> RequestAccepted:
        """Reverse a received payment back to its payer. An unknown outcome is settled by a
        transaction status query on `transaction_id` (it shows as reversed), never by resending."""
        body = {
            "Initiator": self._settings.initiator_name,
            "SecurityCredential": self._security_credential(),
            "CommandID": "TransactionReversal",
            "TransactionID": transaction_id,
            "Amount": _whole_shillings(amount_minor),
            "ReceiverParty": self._settings.shortcode,
            "RecieverIdentifierType": "11",  # Daraja's spelling
            "ResultURL": result_url or self._settings.callback_url(CallbackKind.REVERSAL_RESULT),
            "QueueTimeOutURL": timeout_url
            or self._settings.callback_url(CallbackKind.REVERSAL_TIMEOUT),
            "Remarks": _bounded(remarks, REMARKS_LENGTH_MAX, "remarks") or "reversal",
            "Occasion": _bounded(occasion, REMARKS_LENGTH_MAX, "occasion"),
        }
        return self._accepted(self._call(REVERSAL_PATH, body, moves_money=True))

    @staticmethod
    def _accepted(answer: Mapping[str, object]) -> RequestAccepted:
        return RequestAccepted(
            originator_conversation_id=_str(answer, "OriginatorConversationID"),
            conversation_id=_str(answer, "ConversationID"),
            response_code=_str(answer, "ResponseCode"),
            response_description=_str(answer, "ResponseDescription"),
        )
