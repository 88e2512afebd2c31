"""The client's retry rules under transport faults (httpx.MockTransport), and its credentials:
money-moving calls are resent only when they surely never left, reads are retried, all bounded;
the STK password, the Nairobi timestamp and the RSA security credential."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from soko.rails.mpesa.daraja import (
    OAUTH_PATH,
    STK_PUSH_PATH,
    CallbackKind,
    DarajaAuthenticationFailed,
    DarajaClient,
    DarajaOutcomeUnknown,
    DarajaRejected,
    DarajaUnavailable,
    MpesaSettings,
    ShortcodeType,
    daraja_timestamp,
    security_credential,
    stk_password,
)

PHONE = "254708374149"
Answer = Callable[[httpx.Request], httpx.Response]
STK_ACCEPTED = {
    "MerchantRequestID": "1-2-1",
    "CheckoutRequestID": "ws_CO_1",
    "ResponseCode": "0",
    "ResponseDescription": "Success. Request accepted for processing",
    "CustomerMessage": "Success. Request accepted for processing",
}
B2C_ACCEPTED = {
    "ConversationID": "AG_1",
    "OriginatorConversationID": "po-1",
    "ResponseCode": "0",
    "ResponseDescription": "Accept the service request successfully.",
}


def certificate_and_key() -> tuple[str, rsa.RSAPrivateKey]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode(), key


@pytest.fixture(scope="module")
def keys() -> tuple[str, rsa.RSAPrivateKey]:
    return certificate_and_key()


class Daraja:
    """A scripted Daraja: tokens always, then each POST answered by the next scripted step."""

    def __init__(self, *steps: Answer | Exception) -> None:
        self.steps = list(steps)
        self.posts: list[httpx.Request] = []
        self.tokens = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == OAUTH_PATH:
            self.tokens += 1
            return httpx.Response(
                200, json={"access_token": f"t{self.tokens}", "expires_in": "3599"}
            )
        self.posts.append(request)
        step = self.steps.pop(0)
        if isinstance(step, Exception):
            raise step
        return step(request)


def answer(status: int, body: object = None) -> Answer:
    def respond(request: httpx.Request) -> httpx.Response:
        if body is None:
            return httpx.Response(status, text="<html>bad gateway</html>")
        return httpx.Response(status, json=body)

    return respond


def client_for(daraja: Daraja, certificate: str = "", **overrides: object) -> DarajaClient:
    values: dict[str, object] = {
        "base_url": "https://daraja.test",
        "consumer_key": "key",
        "consumer_secret": "secret",
        "shortcode": "174379",
        "passkey": "passkey",
        "callback_base_url": "https://soko.test/callbacks/daraja",
        "callback_token": "Token0123456789abcdef",
        "initiator_name": "api",
        "initiator_password": "initiator-password",
        "certificate_pem": certificate,
        "backoff_seconds": 0.5,
        "backoff_cap_seconds": 1.0,
    }
    values.update(overrides)
    slept: list[float] = []
    client = DarajaClient(
        MpesaSettings(**values),  # type: ignore[arg-type]
        transport=httpx.MockTransport(daraja),
        sleep=slept.append,
    )
    client.slept = slept  # type: ignore[attr-defined]
    return client


def stk(client: DarajaClient) -> None:
    client.stk_push(amount_minor=100, phone=PHONE, account_reference="A", description="d")


def read_timeout() -> Exception:
    return httpx.ReadTimeout("timed out", request=httpx.Request("POST", "https://daraja.test"))


def connect_error() -> Exception:
    return httpx.ConnectError("refused", request=httpx.Request("POST", "https://daraja.test"))


@pytest.mark.parametrize(
    "fault",
    [
        httpx.ReadTimeout("read", request=httpx.Request("POST", "https://daraja.test")),
        httpx.RemoteProtocolError("cut", request=httpx.Request("POST", "https://daraja.test")),
        httpx.WriteError("cut", request=httpx.Request("POST", "https://daraja.test")),
        answer(504),
        answer(502, {"errorCode": "502.000", "errorMessage": "bad gateway"}),
        answer(500),
        answer(200, ["not", "an", "object"]),
    ],
    ids=["read-timeout", "cut", "write-error", "504", "502", "500-no-body", "garbled-200"],
)
def test_a_money_moving_call_that_may_have_arrived_is_never_resent(
    fault: Answer | Exception,
) -> None:
    daraja = Daraja(fault, answer(200, STK_ACCEPTED))
    with client_for(daraja) as client, pytest.raises(DarajaOutcomeUnknown):
        stk(client)
    assert len(daraja.posts) == 1


def test_a_money_moving_call_that_never_connected_is_resent() -> None:
    daraja = Daraja(connect_error(), connect_error(), answer(200, STK_ACCEPTED))
    with client_for(daraja) as client:
        stk(client)
        assert len(daraja.posts) == 3
        # Capped exponential backoff with jitter: 1.0 then 1.0 (the cap), each halved at most.
        assert all(0.25 <= s <= 1.0 for s in client.slept)  # type: ignore[attr-defined]


def test_a_rate_limited_payout_is_resent(keys: tuple[str, rsa.RSAPrivateKey]) -> None:
    daraja = Daraja(
        answer(429, {"errorCode": "429.001", "errorMessage": "spike"}), answer(200, B2C_ACCEPTED)
    )
    with client_for(daraja, keys[0]) as client:
        accepted = client.b2c_payment(
            originator_conversation_id="po-1", amount_minor=1_000, phone=PHONE, remarks="r"
        )
    assert accepted.conversation_id == "AG_1" and len(daraja.posts) == 2


def test_a_read_is_retried_then_gives_up() -> None:
    query_ok = {
        "ResponseCode": "0",
        "MerchantRequestID": "1",
        "CheckoutRequestID": "ws_CO_1",
        "ResultCode": "0",
        "ResultDesc": "ok",
    }
    daraja = Daraja(read_timeout(), answer(503), answer(200, query_ok))
    with client_for(daraja) as client:
        assert client.stk_query("ws_CO_1").result_code == 0
    endless = Daraja(*[answer(500)] * 3)
    with client_for(endless) as client, pytest.raises(DarajaUnavailable, match="3 attempts"):
        client.stk_query("ws_CO_1")
    assert len(endless.posts) == 3


def test_connect_failures_exhaust_into_unavailable_not_unknown() -> None:
    daraja = Daraja(*[connect_error()] * 3)
    with client_for(daraja) as client, pytest.raises(DarajaUnavailable):
        stk(client)


def test_a_daraja_error_body_is_a_rejection_with_its_code() -> None:
    body = {
        "requestId": "1",
        "errorCode": "400.002.02",
        "errorMessage": "Bad Request - Invalid Amount",
    }
    daraja = Daraja(answer(400, body))
    with client_for(daraja) as client, pytest.raises(DarajaRejected) as rejected:
        stk(client)
    assert (rejected.value.error_code, rejected.value.status) == ("400.002.02", 400)
    assert rejected.value.error_message == "Bad Request - Invalid Amount"


def test_a_refused_token_is_renewed_once_only() -> None:
    refused = {"errorCode": "404.001.03", "errorMessage": "Invalid Access Token"}
    daraja = Daraja(answer(401, refused), answer(404, refused))
    with client_for(daraja) as client, pytest.raises(DarajaAuthenticationFailed):
        stk(client)
    assert (daraja.tokens, len(daraja.posts)) == (2, 2)
    auth = [request.headers["authorization"] for request in daraja.posts]
    assert auth == ["Bearer t1", "Bearer t2"]


def test_a_nonzero_response_code_is_a_rejection() -> None:
    daraja = Daraja(answer(200, {**STK_ACCEPTED, "ResponseCode": "1", "ResponseDescription": "no"}))
    with client_for(daraja) as client, pytest.raises(DarajaRejected, match="no"):
        stk(client)


def test_the_stk_query_reports_a_push_still_waiting_as_pending() -> None:
    waiting = {"errorCode": "500.001.1001", "errorMessage": "The transaction is being processed"}
    daraja = Daraja(answer(500, waiting))
    with client_for(daraja) as client:
        assert client.stk_query("ws_CO_1").pending


def test_stk_push_body_for_a_till(keys: tuple[str, rsa.RSAPrivateKey]) -> None:
    daraja = Daraja(answer(200, STK_ACCEPTED))
    now = datetime(2024, 3, 1, 21, 30, 5, tzinfo=UTC)
    client = client_for(daraja, shortcode_type=ShortcodeType.TILL, till_number="5678901")
    client._now = lambda: now
    with client:
        stk(client)
    sent = json.loads(daraja.posts[0].content)
    assert sent["Timestamp"] == "20240302003005"  # Nairobi is UTC+3
    assert sent["Password"] == base64.b64encode(b"174379passkey20240302003005").decode()
    assert (sent["TransactionType"], sent["PartyB"], sent["Amount"]) == (
        "CustomerBuyGoodsOnline",
        "5678901",
        1,
    )
    assert sent["CallBackURL"] == "https://soko.test/callbacks/daraja/Token0123456789abcdef/stk"


def test_b2c_sends_a_security_credential_the_key_holder_can_read(
    keys: tuple[str, rsa.RSAPrivateKey],
) -> None:
    daraja = Daraja(answer(200, B2C_ACCEPTED))
    with client_for(daraja, keys[0]) as client:
        client.b2c_payment(
            originator_conversation_id="po-1", amount_minor=1_000, phone=PHONE, remarks="r"
        )
    sent = json.loads(daraja.posts[0].content)
    clear = keys[1].decrypt(base64.b64decode(sent["SecurityCredential"]), padding.PKCS1v15())
    assert clear == b"initiator-password"
    assert sent["ResultURL"].endswith("/b2c/result") and sent["QueueTimeOutURL"].endswith(
        "/b2c/timeout"
    )


# --- credentials ---------------------------------------------------------------------------------


def test_stk_password_is_base64_of_shortcode_passkey_timestamp() -> None:
    password = stk_password("174379", "bfb279f9aa9bdbcf", "20160216165627")
    assert base64.b64decode(password) == b"174379bfb279f9aa9bdbcf20160216165627"


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2024, 1, 1, 21, 0, 0, tzinfo=UTC), "20240102000000"),
        (datetime(2024, 12, 31, 20, 59, 59, tzinfo=UTC), "20241231235959"),
        (datetime(2024, 6, 1, 15, 0, 0, tzinfo=timezone(timedelta(hours=3))), "20240601150000"),
    ],
)
def test_daraja_timestamp_is_nairobi_time(moment: datetime, expected: str) -> None:
    assert daraja_timestamp(moment) == expected


def test_daraja_timestamp_refuses_a_naive_time() -> None:
    with pytest.raises(ValueError, match="aware"):
        daraja_timestamp(datetime(2024, 1, 1))


def test_security_credential_decrypts_with_the_private_key(
    keys: tuple[str, rsa.RSAPrivateKey],
) -> None:
    certificate, key = keys
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    for pem in (certificate, public_pem):
        first = security_credential("Safaricom999!*!", pem)
        assert key.decrypt(base64.b64decode(first), padding.PKCS1v15()) == b"Safaricom999!*!"
        # PKCS#1 v1.5 padding is random: the same password never encrypts the same way twice.
        assert security_credential("Safaricom999!*!", pem) != first


def test_settings_refuse_plain_http_off_this_machine_and_weak_tokens() -> None:
    base = {
        "consumer_key": "k",
        "consumer_secret": "s",
        "shortcode": "174379",
        "passkey": "p",
        "callback_base_url": "https://soko.test/cb",
        "callback_token": "Token0123456789abcdef",
    }
    with pytest.raises(ValueError, match="https"):
        MpesaSettings(base_url="http://sandbox.safaricom.co.ke", **base)
    with pytest.raises(ValueError, match="callback_token"):
        MpesaSettings(base_url="https://x.test", **{**base, "callback_token": "short"})
    with pytest.raises(ValueError, match="till_number"):
        MpesaSettings(base_url="https://x.test", shortcode_type=ShortcodeType.TILL, **base)
    settings = MpesaSettings(base_url="http://127.0.0.1:9", **base)
    assert settings.callback_url(CallbackKind.B2C_TIMEOUT) == (
        "https://soko.test/cb/Token0123456789abcdef/b2c/timeout"
    )
    assert "Token0123456789abcdef" not in repr(settings) and "'s'" not in repr(settings)


def test_only_the_paths_of_the_api_are_posted() -> None:
    daraja = Daraja(answer(200, STK_ACCEPTED))
    with client_for(daraja) as client:
        stk(client)
    assert [request.url.path for request in daraja.posts] == [STK_PUSH_PATH]
