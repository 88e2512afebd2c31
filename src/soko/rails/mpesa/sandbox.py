"""A local Daraja sandbox: a real HTTP server with Daraja's endpoints, books and callbacks.

It answers the published request shapes (OAuth, STK push and query, C2B register and simulate,
B2C, transaction status, reversal), checks the Basic credentials, bearer tokens, STK passwords
and security credentials (RSA, with a key pair and certificate of its own), keeps books with
M-Pesa style receipts and a running balance, and POSTs callbacks to the URLs it was given, from
a worker thread, as Daraja would. Tests and demos script what happens next, through the Python
API (`script`) or ``POST /sandbox/script``: the result code, and whether the callback comes at
once, late, twice, out of order (after a later transaction's) or never. Queries answer from the
books, so a lost callback can be settled the way production must settle it. The books export as
an M-Pesa organisation statement CSV.

Sandbox rules worth knowing: a B2C payment needs 10..250,000 shillings and fails with result 1
when the balance is short; a repeated B2C OriginatorConversationID gets the first answer back and
pays nothing more (do not rely on real Daraja doing so); the STK query says "being processed"
until a delayed transaction's time has come. It is for tests and demos, never for production:
anyone who can reach it can script it.
"""

from __future__ import annotations

import base64
import binascii
import csv
import enum
import heapq
import hmac
import io
import itertools
import json
import logging
import math
import secrets
import socket
import string
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Final
from urllib.parse import urlsplit

import httpx
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from soko.rails.mpesa import daraja
from soko.rails.mpesa.callbacks import MINOR_PER_SHILLING, NAIROBI
from soko.rails.mpesa.statement import COLUMNS, TIME_FORMATS

logger = logging.getLogger(__name__)

STATEMENT_TIME_FORMAT: Final = TIME_FORMATS[0]
#: Bytes of a request body read at most.
REQUEST_BYTES_MAX: Final = 64 * 1024
#: How long a callback POST may take before the sandbox gives up on it.
CALLBACK_TIMEOUT_SECONDS: Final = 5.0
#: Scripted entries waiting at most (a bound on what the control endpoint can pile up).
SCRIPTS_MAX: Final = 1000
B2C_SHILLINGS_MIN: Final = 10
#: The sandbox's own result code for a transaction status query that finds nothing.
NOT_FOUND_RESULT_CODE: Final = "2032"
QUEUE_TIMEOUT_RESULT_CODE: Final = "26"
REVERSED_ALREADY: Final = ("R000001", "The transaction has already been reversed.")
REVERSAL_NOT_FOUND: Final = ("R000002", "The OriginalTransactionID is invalid.")
REVERSAL_AMOUNT_WRONG: Final = ("R000003", "The amount does not match the original transaction.")
INITIATOR_INVALID: Final = ("2001", "The initiator information is invalid.")

RESULT_DESCRIPTIONS: Final = {
    "0": "The service request is processed successfully.",
    "1": "The balance is insufficient for the transaction.",
    "1032": "Request cancelled by user",
    "1037": "DS timeout user cannot be reached",
    "1019": "Transaction has expired",
    "2001": "The initiator information is invalid.",
    "1001": "Unable to lock subscriber, a transaction is already in process for the subscriber",
}
_RECEIPT_ALPHABET: Final = string.ascii_uppercase + string.digits


class CallbackMode(enum.Enum):
    IMMEDIATE = "immediate"
    DELAYED = "delayed"
    TWICE = "twice"
    #: Held back until a later transaction's callback has been sent.
    OUT_OF_ORDER = "out_of_order"
    NEVER = "never"


@dataclass(frozen=True, slots=True)
class Script:
    """What the sandbox does with the next money-moving request (STK push, B2C, reversal, C2B
    simulate; for a C2B payment only the callback mode counts, validation decides the rest)."""

    result_code: int | str = 0
    mode: CallbackMode = CallbackMode.IMMEDIATE
    delay_seconds: float = 0.0
    #: B2C and reversal: the request expires in the queue; only the QueueTimeOutURL hears of it.
    queue_timeout: bool = False

    def __post_init__(self) -> None:
        if not (math.isfinite(self.delay_seconds) and 0 <= self.delay_seconds <= 3600):
            raise ValueError("delay_seconds must be 0..3600")


class Kind(enum.Enum):
    STK = "stk"
    C2B = "c2b"
    B2C = "b2c"
    REVERSAL = "reversal"


class Status(enum.Enum):
    PENDING = "Pending"
    COMPLETED = "Completed"
    FAILED = "Failed"
    #: Expired in the queue: never processed.
    EXPIRED = "Expired"


@dataclass(slots=True)
class Transaction:
    """One entry of the sandbox's books (copies are handed out; the books keep their own)."""

    receipt: str
    kind: Kind
    amount_minor: int
    party: str
    party_name: str
    account_reference: str
    initiated_at: datetime
    #: time.monotonic() at which it settles (inf: settled by something else, e.g. validation).
    due: float
    planned_code: str
    detail: str = ""
    status: Status = Status.PENDING
    result_code: str = ""
    result_desc: str = ""
    completed_at: datetime | None = None
    balance_after_minor: int | None = None
    settled_order: int = 0
    checkout_request_id: str = ""
    merchant_request_id: str = ""
    originator_conversation_id: str = ""
    conversation_id: str = ""
    linked_transaction_id: str = ""
    reversed: bool = False
    submissions: int = 1


@dataclass(frozen=True, slots=True)
class Delivery:
    """A callback the sandbox POSTed, and what came of it."""

    url: str
    body: Mapping[str, object]
    status: int | None
    error: str | None


@dataclass(slots=True)
class _C2BUrls:
    response_type: str
    confirmation_url: str
    validation_url: str


class _Invalid(Exception):
    """A request Daraja would refuse: the HTTP status and Daraja's error code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _bad(field_name: str) -> _Invalid:
    return _Invalid(400, "400.002.02", f"Bad Request - Invalid {field_name}")


def _shillings(value: object, field_name: str, low: int, high: int) -> int:
    """Daraja's Amount: a whole number of shillings, as a number or text."""
    if isinstance(value, bool):
        raise _bad(field_name)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().isdecimal():
        value = int(value.strip())
    if not isinstance(value, int) or not low <= value <= high:
        raise _bad(field_name)
    return value


def _text(body: Mapping[str, object], key: str, *, limit: int = 200, required: bool = True) -> str:
    value = body.get(key, "")
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or len(value) > limit or (required and not value):
        raise _bad(key)
    return value


def _msisdn(body: Mapping[str, object], key: str) -> str:
    value = _text(body, key, limit=12)
    if len(value) != 12 or not value.isdecimal() or not value.startswith("254"):
        raise _bad(key)
    return value


def _url(body: Mapping[str, object], key: str) -> str:
    value = _text(body, key, limit=1000)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _bad(key)
    return value


def _money(minor: int, *, sign: str = "") -> str:
    shillings, cents = divmod(abs(minor), MINOR_PER_SHILLING)
    return f"{sign if minor else ''}{shillings:,}.{cents:02d}"


def _new_certificate(key: rsa.RSAPrivateKey) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Soko Daraja sandbox")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


@dataclass(frozen=True, slots=True)
class SandboxCredentials:
    """What a client needs to talk to a sandbox (for tests and the CLI's printout)."""

    base_url: str
    consumer_key: str
    consumer_secret: str = field(repr=False)
    shortcode: str
    passkey: str = field(repr=False)
    initiator_name: str
    initiator_password: str = field(repr=False)
    certificate_pem: str = field(repr=False)


class DarajaSandbox:
    """The sandbox; `start()` serves it on a free loopback port in threads, `run()` in the
    foreground (the CLI). The defaults are Safaricom's public sandbox test values' shapes."""

    def __init__(
        self,
        *,
        consumer_key: str = "sandbox-consumer-key",
        consumer_secret: str = "sandbox-consumer-secret",  # noqa: S107 - a sandbox's own
        shortcode: str = "174379",
        passkey: str = "sandbox-passkey",
        initiator_name: str = "testapi",
        initiator_password: str = "sandbox-initiator-password",  # noqa: S107 - a sandbox's own
        opening_balance_minor: int = 1_000_000 * MINOR_PER_SHILLING,
        token_lifetime_seconds: int = 3599,
        private_key: rsa.RSAPrivateKey | None = None,
    ) -> None:
        self.consumer_key = consumer_key
        self._consumer_secret = consumer_secret
        self.shortcode = shortcode
        self._passkey = passkey
        self.initiator_name = initiator_name
        self._initiator_password = initiator_password
        self._token_lifetime = token_lifetime_seconds
        self._key = private_key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
        #: The certificate clients encrypt the initiator password with (as Safaricom's).
        self.certificate_pem = _new_certificate(self._key)

        self._lock = threading.Lock()
        self._balance = opening_balance_minor
        self._tokens: dict[str, float] = {}
        self._scripts: deque[Script] = deque()
        self._books: list[Transaction] = []
        self._c2b_urls: dict[str, _C2BUrls] = {}
        self._deliveries: list[Delivery] = []
        self._settled = itertools.count(1)
        self._ids = itertools.count(1)
        self.token_requests = 0

        # The callback worker: a heap of (due, sequence, job), and the jobs held back by
        # out-of-order mode until the next one has run.
        self._wake = threading.Condition()
        self._queue: list[tuple[float, int, Callable[[], None]]] = []
        self._held: list[Callable[[], None]] = []
        self._sequence = itertools.count()
        self._stopping = False
        self._worker: threading.Thread | None = None
        self._http: httpx.Client | None = None

        self._server: uvicorn.Server | None = None
        self._server_thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self.base_url = ""
        self.app = Starlette(routes=self._routes())

    def __repr__(self) -> str:
        return f"DarajaSandbox({self.base_url or 'not started'!r}, shortcode={self.shortcode})"

    # --- running ---

    def start(self) -> str:
        """Serve on 127.0.0.1 on a free port, in threads; returns the base URL."""
        assert self._server is None, "already started"
        self._start_worker()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        self._socket = sock
        port = sock.getsockname()[1]
        self._server = uvicorn.Server(self._config("127.0.0.1", port))
        self._server_thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="daraja-sandbox", daemon=True
        )
        self._server_thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._server_thread.is_alive():
                self.stop()
                raise RuntimeError("the Daraja sandbox did not start")
            time.sleep(0.01)
        self.base_url = f"http://127.0.0.1:{port}"
        return self.base_url

    def stop(self) -> None:
        """Stop serving and delivering; callbacks not yet sent are dropped."""
        if self._server is not None:
            self._server.should_exit = True
        if self._server_thread is not None:
            self._server_thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()
        self._server = self._server_thread = self._socket = None
        self._stop_worker()

    def __enter__(self) -> DarajaSandbox:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def run(self, host: str = "127.0.0.1", port: int = 8099) -> None:
        """Serve in the foreground until interrupted (``soko mpesa-sandbox --port``)."""
        self._start_worker()
        self.base_url = f"http://{host}:{port}"
        try:
            uvicorn.Server(self._config(host, port)).run()
        finally:
            self._stop_worker()

    def _config(self, host: str, port: int) -> uvicorn.Config:
        return uvicorn.Config(
            self.app,
            host=host,
            port=port,
            log_level="warning",
            lifespan="off",
            ws="none",
            loop="asyncio",
            http="h11",
        )

    def _start_worker(self) -> None:
        self._stopping = False
        self._http = httpx.Client(
            timeout=CALLBACK_TIMEOUT_SECONDS, follow_redirects=False, trust_env=False
        )
        self._worker = threading.Thread(target=self._work, name="daraja-callbacks", daemon=True)
        self._worker.start()

    def _stop_worker(self) -> None:
        with self._wake:
            self._stopping = True
            self._queue.clear()
            self._held.clear()
            self._wake.notify_all()
        if self._worker is not None:
            self._worker.join(timeout=CALLBACK_TIMEOUT_SECONDS * 3)
            self._worker = None
        if self._http is not None:
            self._http.close()
            self._http = None

    # --- the Python control API ---

    def credentials(self) -> SandboxCredentials:
        """What a client needs to talk to this sandbox (build `MpesaSettings` from it)."""
        return SandboxCredentials(
            base_url=self.base_url,
            consumer_key=self.consumer_key,
            consumer_secret=self._consumer_secret,
            shortcode=self.shortcode,
            passkey=self._passkey,
            initiator_name=self.initiator_name,
            initiator_password=self._initiator_password,
            certificate_pem=self.certificate_pem,
        )

    def script(self, *scripts: Script) -> None:
        """Queue what the next money-moving requests get, one script each, in order."""
        with self._lock:
            if len(self._scripts) + len(scripts) > SCRIPTS_MAX:
                raise ValueError(f"at most {SCRIPTS_MAX} scripts may wait")
            self._scripts.extend(scripts)

    def expire_tokens(self) -> None:
        """Every bearer token issued so far stops working (as when Daraja rotates them)."""
        with self._lock:
            self._tokens.clear()

    def release_held(self) -> None:
        """Send the callbacks held back by out-of-order mode now."""
        with self._wake:
            held, self._held = self._held, []
            for job in held:
                heapq.heappush(self._queue, (time.monotonic(), next(self._sequence), job))
            self._wake.notify_all()

    def transactions(self) -> list[Transaction]:
        """Copies of the books, oldest first, settled as of now."""
        with self._lock:
            self._settle_due()
            return [replace(entry) for entry in self._books]

    def transaction(self, receipt: str) -> Transaction | None:
        return next((t for t in self.transactions() if t.receipt == receipt), None)

    @property
    def balance_minor(self) -> int:
        with self._lock:
            self._settle_due()
            return self._balance

    def deliveries(self) -> list[Delivery]:
        with self._lock:
            return list(self._deliveries)

    def statement_csv(self) -> str:
        """The completed transactions as the M-Pesa organisation portal exports them."""
        with self._lock:
            self._settle_due()
            done = sorted(
                (t for t in self._books if t.status is Status.COMPLETED),
                key=lambda t: t.settled_order,
            )
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\r\n")
            writer.writerow(COLUMNS)
            for entry in done:
                writer.writerow(self._statement_row(entry))
            return out.getvalue()

    # --- books ---

    def _new_receipt(self) -> str:
        # Real receipts are ten upper-case letters and digits, starting with a letter that
        # moves with the date; "S" stands for this sandbox.
        taken = {t.receipt for t in self._books}
        while True:
            receipt = "S" + "".join(secrets.choice(_RECEIPT_ALPHABET) for _ in range(9))
            if receipt not in taken:
                return receipt

    def _next_script(self) -> Script:
        return self._scripts.popleft() if self._scripts else Script()

    def _settle_due(self) -> None:
        now = time.monotonic()
        for entry in self._books:
            if entry.status is Status.PENDING and entry.due <= now:
                self._settle(entry, entry.planned_code)

    def _settle(self, entry: Transaction, code: str) -> None:
        """Completes or fails `entry` with `code` (the lock is held)."""
        if entry.status is not Status.PENDING:
            return
        outgoing = entry.kind in (Kind.B2C, Kind.REVERSAL)
        if code == "0" and outgoing and self._balance < entry.amount_minor:
            code = "1"
        entry.result_code = code
        fallback = "The transaction failed."
        if entry.kind is Kind.C2B:
            fallback = "Rejected by the validation URL."
        elif entry.kind is Kind.REVERSAL and entry.detail:
            fallback = entry.detail  # the refusal's own words
        entry.result_desc = RESULT_DESCRIPTIONS.get(code, fallback)
        entry.completed_at = datetime.now(UTC)
        entry.settled_order = next(self._settled)
        if code == QUEUE_TIMEOUT_RESULT_CODE and entry.detail == "queue timeout":
            entry.status = Status.EXPIRED
            entry.result_desc = "The request timed out in the queue and was not processed."
        elif code == "0":
            entry.status = Status.COMPLETED
            self._balance += -entry.amount_minor if outgoing else entry.amount_minor
            entry.balance_after_minor = self._balance
            if entry.kind is Kind.REVERSAL:
                original = self._find(receipt=entry.linked_transaction_id)
                if original is not None:
                    original.reversed = True
        else:
            entry.status = Status.FAILED

    def _find(
        self,
        *,
        receipt: str = "",
        checkout_request_id: str = "",
        originator_conversation_id: str = "",
    ) -> Transaction | None:
        for entry in self._books:
            if (
                (receipt and entry.receipt == receipt)
                or (checkout_request_id and entry.checkout_request_id == checkout_request_id)
                or (
                    originator_conversation_id
                    and entry.originator_conversation_id == originator_conversation_id
                )
            ):
                return entry
        return None

    def _due(self, script: Script) -> float:
        delay = script.delay_seconds if script.mode is CallbackMode.DELAYED else 0.0
        return time.monotonic() + delay

    def _conversation_id(self) -> str:
        today = datetime.now(NAIROBI).strftime("%Y%m%d")
        return f"AG_{today}_{secrets.token_hex(10)}"

    def _statement_row(self, entry: Transaction) -> list[str]:
        assert entry.completed_at is not None and entry.balance_after_minor is not None
        other = f"{entry.party} - {entry.party_name}" if entry.party_name else entry.party
        details, reason = {
            Kind.STK: (f"Pay Bill Online from {other} Acc. {entry.account_reference}",
                       "Pay Bill Online"),
            Kind.C2B: (f"Pay Bill from {other} Acc. {entry.account_reference}", "Pay Bill"),
            Kind.B2C: (f"Business Payment to {other}", "Business Payment to Customer via API"),
            Kind.REVERSAL: (f"Reversal of {entry.linked_transaction_id}", "Reversal"),
        }[entry.kind]  # fmt: skip
        outgoing = entry.kind in (Kind.B2C, Kind.REVERSAL)
        return [
            entry.receipt,
            entry.completed_at.astimezone(NAIROBI).strftime(STATEMENT_TIME_FORMAT),
            entry.initiated_at.astimezone(NAIROBI).strftime(STATEMENT_TIME_FORMAT),
            details,
            "Completed",
            "" if outgoing else _money(entry.amount_minor),
            _money(entry.amount_minor, sign="-") if outgoing else "",
            _money(entry.balance_after_minor),
            "true",
            reason,
            other,
            entry.linked_transaction_id,
            entry.account_reference,
        ]

    # --- the callback worker ---

    def _schedule(self, job: Callable[[], None], script: Script) -> None:
        with self._wake:
            if self._stopping or script.mode is CallbackMode.NEVER:
                return
            if script.mode is CallbackMode.OUT_OF_ORDER:
                self._held.append(job)
                return
            due = self._due(script)
            copies = 2 if script.mode is CallbackMode.TWICE else 1
            for _ in range(copies):
                heapq.heappush(self._queue, (due, next(self._sequence), job))
            self._wake.notify_all()

    def _work(self) -> None:
        while True:
            with self._wake:
                while not self._stopping and (
                    not self._queue or self._queue[0][0] > time.monotonic()
                ):
                    wait = self._queue[0][0] - time.monotonic() if self._queue else None
                    self._wake.wait(wait)
                if self._stopping:
                    return
                _, _, job = heapq.heappop(self._queue)
            self._run(job)
            # A later transaction's callback went first: now the held ones follow.
            with self._wake:
                held, self._held = self._held, []
            for late in held:
                self._run(late)

    def _run(self, job: Callable[[], None]) -> None:
        try:
            job()
        except Exception:
            # One broken callback must not stop the others.
            logger.exception("daraja sandbox: a callback job failed")

    def _post(self, url: str, body: Mapping[str, object]) -> tuple[int | None, object]:
        status: int | None = None
        error: str | None = None
        answer: object = None
        client = self._http
        if client is None:
            return None, None
        try:
            response = client.post(url, json=body)
            status = response.status_code
            try:
                answer = response.json()
            except ValueError:
                answer = None
        except httpx.HTTPError as failure:
            error = f"{type(failure).__name__}: {failure}"
        with self._lock:
            self._deliveries.append(Delivery(url, body, status, error))
        return status, answer

    # --- the HTTP API ---

    def _routes(self) -> list[Route]:
        return [
            Route(daraja.OAUTH_PATH, self._oauth, methods=["GET"]),
            Route(daraja.STK_PUSH_PATH, self._guarded(self._stk_push), methods=["POST"]),
            Route(daraja.STK_QUERY_PATH, self._guarded(self._stk_query), methods=["POST"]),
            Route(daraja.C2B_REGISTER_PATH, self._guarded(self._c2b_register), methods=["POST"]),
            Route(daraja.C2B_SIMULATE_PATH, self._guarded(self._c2b_simulate), methods=["POST"]),
            Route(daraja.B2C_PATH, self._guarded(self._b2c), methods=["POST"]),
            Route("/mpesa/b2c/v1/paymentrequest", self._guarded(self._b2c), methods=["POST"]),
            Route(daraja.TRANSACTION_STATUS_PATH, self._guarded(self._status), methods=["POST"]),
            Route(daraja.REVERSAL_PATH, self._guarded(self._reversal), methods=["POST"]),
            Route("/sandbox/script", self._script_endpoint, methods=["POST"]),
            Route("/sandbox/statement.csv", self._statement_endpoint, methods=["GET"]),
            Route("/sandbox/transactions", self._transactions_endpoint, methods=["GET"]),
        ]

    def _error(self, status: int, code: str, message: str) -> JSONResponse:
        request_id = f"{next(self._ids)}-{secrets.randbelow(10**8)}-1"
        body = {"requestId": request_id, "errorCode": code, "errorMessage": message}
        return JSONResponse(body, status_code=status)

    async def _json(self, request: Request) -> dict[str, object]:
        raw = await request.body()
        if len(raw) > REQUEST_BYTES_MAX:
            raise _Invalid(400, "400.002.02", "Bad Request - Body too large")
        try:
            body = json.loads(raw)
        except ValueError as error:
            raise _Invalid(400, "400.002.02", "Bad Request - Invalid JSON") from error
        if not isinstance(body, dict):
            raise _Invalid(400, "400.002.02", "Bad Request - Invalid JSON")
        return body

    def _guarded(
        self, handler: Callable[[dict[str, object]], dict[str, object]]
    ) -> Callable[[Request], Awaitable[Response]]:
        """The endpoint: bearer token first, then the JSON body, then Daraja's error shape."""

        async def endpoint(request: Request) -> Response:
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            with self._lock:
                expires = self._tokens.get(token) if scheme.lower() == "bearer" else None
            if expires is None or expires <= time.monotonic():
                return self._error(401, daraja.INVALID_TOKEN_CODE, "Invalid Access Token")
            try:
                answer = handler(await self._json(request))
            except _Invalid as invalid:
                return self._error(invalid.status, invalid.code, invalid.message)
            return JSONResponse(answer)

        return endpoint

    async def _oauth(self, request: Request) -> Response:
        if request.query_params.get("grant_type") != "client_credentials":
            return self._error(400, "400.008.02", "Invalid grant type passed")
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        try:
            key, _, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            key = secret = ""
        good = (
            scheme.lower() == "basic"
            and hmac.compare_digest(key.encode(), self.consumer_key.encode())
            and hmac.compare_digest(secret.encode(), self._consumer_secret.encode())
        )
        if not good:
            return self._error(400, "400.008.01", "Invalid Authentication passed")
        token = secrets.token_urlsafe(21)
        with self._lock:
            self.token_requests += 1
            now = time.monotonic()
            self._tokens = {t: e for t, e in self._tokens.items() if e > now}
            self._tokens[token] = now + self._token_lifetime
        return JSONResponse({"access_token": token, "expires_in": str(self._token_lifetime)})

    def _check_stk_password(self, body: Mapping[str, object]) -> None:
        if _text(body, "BusinessShortCode", limit=12) != self.shortcode:
            raise _bad("BusinessShortCode")
        timestamp = _text(body, "Timestamp", limit=14)
        try:
            datetime.strptime(timestamp, "%Y%m%d%H%M%S")
        except ValueError as error:
            raise _bad("Timestamp") from error
        expected = daraja.stk_password(self.shortcode, self._passkey, timestamp)
        given = _text(body, "Password", limit=512)
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise _Invalid(500, "500.001.1001", "Wrong credentials")

    def _initiator_valid(self, name: str, credential: str) -> bool:
        if name != self.initiator_name:
            return False
        try:
            clear = self._key.decrypt(
                base64.b64decode(credential, validate=True), padding.PKCS1v15()
            )
        except (ValueError, binascii.Error):
            return False
        return hmac.compare_digest(clear, self._initiator_password.encode())

    def _stk_push(self, body: dict[str, object]) -> dict[str, object]:
        self._check_stk_password(body)
        kind = _text(body, "TransactionType", limit=40)
        if kind not in ("CustomerPayBillOnline", "CustomerBuyGoodsOnline"):
            raise _bad("TransactionType")
        amount = _shillings(body.get("Amount"), "Amount", 1, daraja.TRANSACTION_SHILLINGS_MAX)
        phone = _msisdn(body, "PhoneNumber")
        if _msisdn(body, "PartyA") != phone:
            raise _bad("PartyA")
        _text(body, "PartyB", limit=12)
        callback_url = _url(body, "CallBackURL")
        reference = _text(body, "AccountReference", limit=daraja.ACCOUNT_REFERENCE_LENGTH_MAX)
        _text(body, "TransactionDesc", limit=daraja.TRANSACTION_DESC_LENGTH_MAX, required=False)
        with self._lock:
            script = self._next_script()
            number = next(self._ids)
            stamp = datetime.now(NAIROBI).strftime("%d%m%Y%H%M%S")
            entry = Transaction(
                receipt=self._new_receipt(),
                kind=Kind.STK,
                amount_minor=amount * MINOR_PER_SHILLING,
                party=phone,
                party_name="SANDBOX CUSTOMER",
                account_reference=reference,
                initiated_at=datetime.now(UTC),
                due=self._due(script),
                planned_code=str(script.result_code),
                checkout_request_id=f"ws_CO_{stamp}{number:08d}",
                merchant_request_id=f"{secrets.randbelow(90000) + 10000}-{number:08d}-1",
            )
            self._books.append(entry)
        self._schedule(lambda: self._send_stk_callback(entry.receipt, callback_url), script)
        return {
            "MerchantRequestID": entry.merchant_request_id,
            "CheckoutRequestID": entry.checkout_request_id,
            "ResponseCode": "0",
            "ResponseDescription": "Success. Request accepted for processing",
            "CustomerMessage": "Success. Request accepted for processing",
        }

    def _send_stk_callback(self, receipt: str, url: str) -> None:
        with self._lock:
            entry = self._find(receipt=receipt)
            assert entry is not None
            self._settle(entry, entry.planned_code)
            callback: dict[str, object] = {
                "MerchantRequestID": entry.merchant_request_id,
                "CheckoutRequestID": entry.checkout_request_id,
                "ResultCode": int(entry.result_code)
                if entry.result_code.isdecimal()
                else entry.result_code,
                "ResultDesc": entry.result_desc,
            }
            if entry.status is Status.COMPLETED:
                assert entry.completed_at is not None
                paid_at = entry.completed_at.astimezone(NAIROBI).strftime("%Y%m%d%H%M%S")
                callback["CallbackMetadata"] = {
                    "Item": [
                        {"Name": "Amount", "Value": entry.amount_minor // MINOR_PER_SHILLING},
                        {"Name": "MpesaReceiptNumber", "Value": entry.receipt},
                        {"Name": "Balance"},
                        {"Name": "TransactionDate", "Value": int(paid_at)},
                        {"Name": "PhoneNumber", "Value": int(entry.party)},
                    ]
                }
        self._post(url, {"Body": {"stkCallback": callback}})

    def _stk_query(self, body: dict[str, object]) -> dict[str, object]:
        self._check_stk_password(body)
        checkout = _text(body, "CheckoutRequestID", limit=64)
        with self._lock:
            self._settle_due()
            entry = self._find(checkout_request_id=checkout)
            if entry is None:
                raise _bad("CheckoutRequestID")
            if entry.status is Status.PENDING:
                raise _Invalid(500, daraja.STK_PENDING_CODE, "The transaction is being processed")
            return {
                "ResponseCode": "0",
                "ResponseDescription": "The service request has been accepted successsfully",
                "MerchantRequestID": entry.merchant_request_id,
                "CheckoutRequestID": entry.checkout_request_id,
                "ResultCode": entry.result_code,
                "ResultDesc": entry.result_desc,
            }

    def _c2b_register(self, body: dict[str, object]) -> dict[str, object]:
        if _text(body, "ShortCode", limit=12) != self.shortcode:
            raise _Invalid(400, "400.003.01", "Invalid ShortCode")
        response_type = _text(body, "ResponseType", limit=20)
        if response_type not in ("Completed", "Cancelled"):
            raise _bad("ResponseType")
        urls = {key: _url(body, key) for key in ("ConfirmationURL", "ValidationURL")}
        for key, url in urls.items():
            if any(word in url.lower() for word in daraja.C2B_URL_FORBIDDEN_WORDS):
                raise _bad(key)
        with self._lock:
            self._c2b_urls[self.shortcode] = _C2BUrls(
                response_type, urls["ConfirmationURL"], urls["ValidationURL"]
            )
        return {
            "OriginatorCoversationID": f"{next(self._ids)}-{secrets.randbelow(10**7)}-1",
            "ResponseCode": "0",
            "ResponseDescription": "Success",
        }

    def _c2b_simulate(self, body: dict[str, object]) -> dict[str, object]:
        if _text(body, "ShortCode", limit=12) != self.shortcode:
            raise _Invalid(400, "400.003.01", "Invalid ShortCode")
        command = _text(body, "CommandID", limit=40)
        if command not in ("CustomerPayBillOnline", "CustomerBuyGoodsOnline"):
            raise _bad("CommandID")
        amount = _shillings(body.get("Amount"), "Amount", 1, daraja.TRANSACTION_SHILLINGS_MAX)
        phone = _msisdn(body, "Msisdn")
        reference = _text(body, "BillRefNumber", limit=20, required=False)
        with self._lock:
            urls = self._c2b_urls.get(self.shortcode)
            if urls is None:
                raise _Invalid(400, "400.003.02", "Bad Request - No URLs registered")
            script = self._next_script()
            entry = Transaction(
                receipt=self._new_receipt(),
                kind=Kind.C2B,
                amount_minor=amount * MINOR_PER_SHILLING,
                party=phone,
                party_name="JOHN DOE",
                account_reference=reference,
                initiated_at=datetime.now(UTC),
                due=math.inf,
                planned_code="0",
                detail="Pay Bill" if command == "CustomerPayBillOnline" else "Buy Goods",
                conversation_id=self._conversation_id(),
                originator_conversation_id=f"{next(self._ids)}-{secrets.randbelow(10**7)}-1",
            )
            self._books.append(entry)
        self._schedule(
            lambda: self._run_c2b(entry.receipt, urls, script), replace(script, mode=_FIRST_STEP)
        )
        return {
            "OriginatorConversationID": entry.originator_conversation_id,
            "ConversationID": entry.conversation_id,
            "ResponseCode": "0",
            "ResponseDescription": "Accept the service request successfully.",
        }

    def _c2b_body(self, entry: Transaction, *, balance: str) -> dict[str, object]:
        return {
            "TransactionType": entry.detail,
            "TransID": entry.receipt,
            "TransTime": entry.initiated_at.astimezone(NAIROBI).strftime("%Y%m%d%H%M%S"),
            "TransAmount": f"{entry.amount_minor // MINOR_PER_SHILLING}.00",
            "BusinessShortCode": self.shortcode,
            "BillRefNumber": entry.account_reference,
            "InvoiceNumber": "",
            "OrgAccountBalance": balance,
            "ThirdPartyTransID": "",
            "MSISDN": entry.party,
            "FirstName": "JOHN",
            "MiddleName": "",
            "LastName": "DOE",
        }

    def _run_c2b(self, receipt: str, urls: _C2BUrls, script: Script) -> None:
        """Validation, then (if accepted) the payment and its confirmation per `script`."""
        with self._lock:
            entry = self._find(receipt=receipt)
            assert entry is not None
            validation = self._c2b_body(entry, balance="")
        status, answer = self._post(urls.validation_url, validation)
        if status == 200 and isinstance(answer, dict) and "ResultCode" in answer:
            code = str(answer["ResultCode"])
        else:
            # The validation URL failed to answer: the registered ResponseType decides.
            code = "0" if urls.response_type == "Completed" else "C2B00016"
        with self._lock:
            self._settle(entry, code)
            if entry.status is not Status.COMPLETED:
                return
            shillings, cents = divmod(entry.balance_after_minor or 0, MINOR_PER_SHILLING)
            confirmation = self._c2b_body(entry, balance=f"{shillings}.{cents:02d}")

        def confirm() -> None:
            self._post(urls.confirmation_url, confirmation)

        self._schedule(confirm, script)

    def _b2c(self, body: dict[str, object]) -> dict[str, object]:
        name = _text(body, "InitiatorName", limit=64)
        credential = _text(body, "SecurityCredential", limit=2048)
        command = _text(body, "CommandID", limit=40)
        if command not in {c.value for c in daraja.B2CCommand}:
            raise _bad("CommandID")
        amount = _shillings(
            body.get("Amount"), "Amount", B2C_SHILLINGS_MIN, daraja.TRANSACTION_SHILLINGS_MAX
        )
        if _text(body, "PartyA", limit=12) != self.shortcode:
            raise _bad("PartyA")
        phone = _msisdn(body, "PartyB")
        result_url, timeout_url = _url(body, "ResultURL"), _url(body, "QueueTimeOutURL")
        _text(body, "Remarks", limit=100)
        _text(body, "Occasion", limit=100, required=False)
        originator = _text(body, "OriginatorConversationID", limit=64, required=False)
        valid = self._initiator_valid(name, credential)
        with self._lock:
            earlier = self._find(originator_conversation_id=originator) if originator else None
            if earlier is not None and earlier.kind is Kind.B2C:
                earlier.submissions += 1
                return self._accepted(earlier)
            script = self._next_script()
            entry = Transaction(
                receipt=self._new_receipt(),
                kind=Kind.B2C,
                amount_minor=amount * MINOR_PER_SHILLING,
                party=phone,
                party_name="SANDBOX RECIPIENT",
                account_reference="",
                initiated_at=datetime.now(UTC),
                due=self._due(script),
                planned_code=self._planned(script, valid),
                detail="queue timeout" if script.queue_timeout else command,
                originator_conversation_id=originator
                or f"{next(self._ids)}-{secrets.randbelow(10**7)}-1",
                conversation_id=self._conversation_id(),
            )
            self._books.append(entry)
        target = timeout_url if script.queue_timeout else result_url
        self._schedule(lambda: self._send_result(entry.receipt, target), script)
        return self._accepted(entry)

    @staticmethod
    def _planned(script: Script, initiator_valid: bool) -> str:
        if not initiator_valid:
            return INITIATOR_INVALID[0]
        if script.queue_timeout:
            return QUEUE_TIMEOUT_RESULT_CODE
        return str(script.result_code)

    @staticmethod
    def _accepted(entry: Transaction) -> dict[str, object]:
        return {
            "ConversationID": entry.conversation_id,
            "OriginatorConversationID": entry.originator_conversation_id,
            "ResponseCode": "0",
            "ResponseDescription": "Accept the service request successfully.",
        }

    def _result_body(self, entry: Transaction) -> dict[str, object]:
        """The `Result` Daraja POSTs for a settled B2C or reversal (the lock is held)."""
        result: dict[str, object] = {
            "ResultType": 0,
            "ResultCode": int(entry.result_code)
            if entry.result_code.isdecimal()
            else entry.result_code,
            "ResultDesc": entry.result_desc,
            "OriginatorConversationID": entry.originator_conversation_id,
            "ConversationID": entry.conversation_id,
            "TransactionID": entry.receipt,
        }
        if entry.status is Status.COMPLETED and entry.completed_at is not None:
            shillings = entry.amount_minor // MINOR_PER_SHILLING
            balance = (entry.balance_after_minor or 0) / MINOR_PER_SHILLING
            completed = entry.completed_at.astimezone(NAIROBI)
            if entry.kind is Kind.B2C:
                parameters: list[dict[str, object]] = [
                    {"Key": "TransactionAmount", "Value": shillings},
                    {"Key": "TransactionReceipt", "Value": entry.receipt},
                    {"Key": "B2CRecipientIsRegisteredCustomer", "Value": "Y"},
                    {"Key": "B2CChargesPaidAccountAvailableFunds", "Value": 0.00},
                    {"Key": "ReceiverPartyPublicName", "Value": f"{entry.party} - Sandbox"},
                    {
                        "Key": "TransactionCompletedDateTime",
                        "Value": completed.strftime("%d.%m.%Y %H:%M:%S"),
                    },
                    {"Key": "B2CUtilityAccountAvailableFunds", "Value": balance},
                    {"Key": "B2CWorkingAccountAvailableFunds", "Value": 0.00},
                ]
            else:
                parameters = [
                    {"Key": "DebitAccountBalance", "Value": f"Utility Account|KES|{balance:.2f}"},
                    {"Key": "Amount", "Value": shillings},
                    {"Key": "TransCompletedTime", "Value": int(completed.strftime("%Y%m%d%H%M%S"))},
                    {"Key": "OriginalTransactionID", "Value": entry.linked_transaction_id},
                    {"Key": "Charge", "Value": 0},
                    {"Key": "CreditPartyPublicName", "Value": f"{entry.party} - Sandbox"},
                    {"Key": "DebitPartyPublicName", "Value": f"{self.shortcode} - Sandbox"},
                ]
            result["ResultParameters"] = {"ResultParameter": parameters}
        result["ReferenceData"] = {"ReferenceItem": {"Key": "QueueTimeoutURL", "Value": ""}}
        return {"Result": result}

    def _send_result(self, receipt: str, url: str) -> None:
        with self._lock:
            entry = self._find(receipt=receipt)
            assert entry is not None
            self._settle(entry, entry.planned_code)
            body = self._result_body(entry)
        self._post(url, body)

    def _status(self, body: dict[str, object]) -> dict[str, object]:
        name = _text(body, "Initiator", limit=64)
        credential = _text(body, "SecurityCredential", limit=2048)
        if _text(body, "CommandID", limit=40) != "TransactionStatusQuery":
            raise _bad("CommandID")
        receipt = _text(body, "TransactionID", limit=64, required=False)
        originator = _text(body, "OriginatorConversationID", limit=64, required=False)
        if not receipt and not originator:
            raise _bad("TransactionID")
        result_url = _url(body, "ResultURL")
        _url(body, "QueueTimeOutURL")
        valid = self._initiator_valid(name, credential)
        with self._lock:
            ours = {
                "OriginatorConversationID": f"{next(self._ids)}-{secrets.randbelow(10**7)}-1",
                "ConversationID": self._conversation_id(),
            }
        self._schedule(
            lambda: self._send_status(receipt, originator, valid, ours, result_url), Script()
        )
        return {
            **ours,
            "ResponseCode": "0",
            "ResponseDescription": "Accept the service request successfully.",
        }

    def _send_status(
        self,
        receipt: str,
        originator: str,
        valid: bool,
        ours: Mapping[str, str],
        url: str,
    ) -> None:
        with self._lock:
            self._settle_due()
            entry = self._find(receipt=receipt, originator_conversation_id=originator)
            result: dict[str, object] = {"ResultType": 0, **ours, "TransactionID": receipt}
            if not valid:
                result["ResultCode"], result["ResultDesc"] = INITIATOR_INVALID
            elif entry is None:
                result["ResultCode"] = int(NOT_FOUND_RESULT_CODE)
                result["ResultDesc"] = "The transaction could not be found."
            else:
                result["ResultCode"] = 0
                result["ResultDesc"] = "The service request is processed successfully."
                result["TransactionID"] = entry.receipt
                result["ResultParameters"] = {"ResultParameter": self._status_parameters(entry)}
        self._post(url, {"Result": result})

    def _status_parameters(self, entry: Transaction) -> list[dict[str, object]]:
        status = "Reversed" if entry.reversed else entry.status.value
        finalised = entry.completed_at or entry.initiated_at
        outgoing = entry.kind in (Kind.B2C, Kind.REVERSAL)
        us, them = f"{self.shortcode} - Sandbox", f"{entry.party} - {entry.party_name}"
        return [
            {"Key": "DebitPartyName", "Value": us if outgoing else them},
            {"Key": "CreditPartyName", "Value": them if outgoing else us},
            {"Key": "OriginatorConversationID", "Value": entry.originator_conversation_id},
            {"Key": "InitiatedTime", "Value": int(self._compact(entry.initiated_at))},
            {"Key": "Originator Conversation ID", "Value": entry.originator_conversation_id},
            {"Key": "DebitAccountType", "Value": "Utility Account"},
            {"Key": "DebitPartyCharges"},
            {"Key": "TransactionReason"},
            {"Key": "ReasonType", "Value": entry.detail or entry.kind.value},
            {"Key": "TransactionStatus", "Value": status},
            {"Key": "FinalisedTime", "Value": int(self._compact(finalised))},
            {"Key": "Amount", "Value": entry.amount_minor // MINOR_PER_SHILLING},
            {"Key": "ConversationID", "Value": entry.conversation_id},
            {"Key": "Conversation ID", "Value": entry.conversation_id},
            {"Key": "ReceiptNo", "Value": entry.receipt},
        ]

    @staticmethod
    def _compact(moment: datetime) -> str:
        return moment.astimezone(NAIROBI).strftime("%Y%m%d%H%M%S")

    def _reversal(self, body: dict[str, object]) -> dict[str, object]:
        name = _text(body, "Initiator", limit=64)
        credential = _text(body, "SecurityCredential", limit=2048)
        if _text(body, "CommandID", limit=40) != "TransactionReversal":
            raise _bad("CommandID")
        original_receipt = _text(body, "TransactionID", limit=64)
        amount = _shillings(body.get("Amount"), "Amount", 1, daraja.TRANSACTION_SHILLINGS_MAX)
        if _text(body, "ReceiverParty", limit=12) != self.shortcode:
            raise _bad("ReceiverParty")
        result_url, timeout_url = _url(body, "ResultURL"), _url(body, "QueueTimeOutURL")
        _text(body, "Remarks", limit=100)
        valid = self._initiator_valid(name, credential)
        with self._lock:
            self._settle_due()
            script = self._next_script()
            original = self._find(receipt=original_receipt)
            planned, reason = self._planned(script, valid), ""
            if valid and not script.queue_timeout:
                refusal = self._reversal_refusal(original, amount)
                if refusal is not None:
                    planned, reason = refusal
            entry = Transaction(
                receipt=self._new_receipt(),
                kind=Kind.REVERSAL,
                amount_minor=amount * MINOR_PER_SHILLING,
                party=original.party if original else "",
                party_name=original.party_name if original else "",
                account_reference=original.account_reference if original else "",
                initiated_at=datetime.now(UTC),
                due=self._due(script),
                planned_code=planned,
                detail="queue timeout" if script.queue_timeout else reason,
                linked_transaction_id=original_receipt,
                originator_conversation_id=f"{next(self._ids)}-{secrets.randbelow(10**7)}-1",
                conversation_id=self._conversation_id(),
            )
            self._books.append(entry)
        target = timeout_url if script.queue_timeout else result_url
        self._schedule(lambda: self._send_result(entry.receipt, target), script)
        return self._accepted(entry)

    @staticmethod
    def _reversal_refusal(original: Transaction | None, shillings: int) -> tuple[str, str] | None:
        if original is None or original.kind not in (Kind.STK, Kind.C2B):
            return REVERSAL_NOT_FOUND
        if original.status is not Status.COMPLETED:
            return REVERSAL_NOT_FOUND
        if original.reversed:
            return REVERSED_ALREADY
        if original.amount_minor != shillings * MINOR_PER_SHILLING:
            return REVERSAL_AMOUNT_WRONG
        return None

    async def _script_endpoint(self, request: Request) -> Response:
        try:
            body = await self._json(request)
            entries = body.get("scripts", [body])
            if not isinstance(entries, list):
                raise _bad("scripts")
            scripts = [self._script_of(entry) for entry in entries]
            self.script(*scripts)
        except _Invalid as invalid:
            return self._error(invalid.status, invalid.code, invalid.message)
        except ValueError as error:
            return self._error(400, "400.002.02", f"Bad Request - {error}")
        return JSONResponse({"queued": len(scripts)})

    @staticmethod
    def _script_of(entry: object) -> Script:
        if not isinstance(entry, dict):
            raise _bad("script")
        code = entry.get("result_code", 0)
        delay = entry.get("delay_seconds", 0)
        timeout = entry.get("queue_timeout", False)
        if not isinstance(code, int | str) or isinstance(code, bool):
            raise _bad("result_code")
        if not isinstance(delay, int | float) or isinstance(delay, bool):
            raise _bad("delay_seconds")
        if not isinstance(timeout, bool):
            raise _bad("queue_timeout")
        try:
            mode = CallbackMode(entry.get("mode", "immediate"))
        except ValueError as error:
            raise _bad("mode") from error
        return Script(result_code=code, mode=mode, delay_seconds=delay, queue_timeout=timeout)

    async def _statement_endpoint(self, request: Request) -> Response:
        return PlainTextResponse(self.statement_csv(), media_type="text/csv")

    async def _transactions_endpoint(self, request: Request) -> Response:
        rows = [
            {
                "receipt": t.receipt,
                "kind": t.kind.value,
                "status": t.status.value,
                "result_code": t.result_code,
                "amount_minor": t.amount_minor,
                "party": t.party,
                "checkout_request_id": t.checkout_request_id,
                "originator_conversation_id": t.originator_conversation_id,
                "linked_transaction_id": t.linked_transaction_id,
                "reversed": t.reversed,
                "submissions": t.submissions,
            }
            for t in self.transactions()
        ]
        return JSONResponse({"transactions": rows, "balance_minor": self.balance_minor})


#: The validation step of a C2B simulation always runs at once; the script's mode applies to
#: the confirmation that follows it.
_FIRST_STEP: Final = CallbackMode.IMMEDIATE
