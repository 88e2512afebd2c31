"""Typed dependencies: the runtime, who is calling, what it may see, and the idempotency key.

Who may see what is decided here, once, for every router: an operator key sees everything; a
merchant key and a user's session token see only their own user, wallets and payments. Anything
else is refused exactly as if it did not exist (404 with the same body), so a caller cannot tell
another tenant's id from an unused one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Header, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from soko.bootstrap import Runtime
from soko.channels.api.problems import (
    ACTING_FOR_REQUIRED,
    CALLER_NOT_ALLOWED,
    ApiError,
)
from soko.context import Context
from soko.kernel import limits
from soko.kernel.idempotency import check_key
from soko.payments import service as payments
from soko.payments.domain import Payment
from soko.payments.errors import PaymentNotFound
from soko.people import access, wallets
from soko.people.errors import UserNotFound, WalletNotFound
from soko.people.wallets import WalletBalance

# Dependencies that only compute are `async def`: FastAPI runs a plain `def` dependency in its
# thread pool, and each such hop cost a payment more than the check itself. Those that read the
# database stay plain functions, off the event loop.


async def _runtime(request: Request) -> Runtime:
    runtime = request.app.state.runtime
    assert isinstance(runtime, Runtime), runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(_runtime)]


async def _context(runtime: RuntimeDep) -> Context:
    return runtime.context


ContextDep = Annotated[Context, Depends(_context)]

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    bearerFormat="soko_sk_… (API key) or soko_st_… (session token)",
    description="An operator or merchant API key, or a user's token from POST /v1/sessions.",
)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, and as whom it acts."""

    role: Literal["operator", "merchant", "user"]
    #: The user this credential is: the merchant of a merchant key, the user of a session.
    #: None for an operator key, which acts for anyone.
    user_id: str | None
    #: The API key, if the caller used one.
    key_id: str | None = None

    @property
    def is_operator(self) -> bool:
        return self.role == "operator"

    def may_see(self, user_id: str) -> bool:
        return self.is_operator or self.user_id == user_id

    def not_theirs(self, user_id: str) -> UserNotFound:
        """The refusal of another user's id: the same whether that user exists or not (nothing
        leaks), but saying what this credential reaches."""
        credential = "a merchant key" if self.role == "merchant" else "a session"
        whom = "its own merchant" if self.role == "merchant" else "its own user"
        return UserNotFound(
            f"{credential} reaches {whom} only ({self.user_id}); other users are not visible "
            "to it, whether they exist or not",
            user_id=user_id,
        )

    def acting_for(self, named: str | None, field: str) -> str:
        """The user a request acts for: an operator names it in `field`, others are themselves.

        Naming someone else is refused as not found, as for any other foreign id.
        """
        if self.is_operator:
            if named is None:
                # Its own code: the document cannot say a field is required for one kind of
                # credential only, so this is a rule about the caller, not a schema error.
                raise ApiError(
                    ACTING_FOR_REQUIRED,
                    f"body.{field}: an operator key acts for the user it names",
                    errors=[
                        {
                            "location": "body",
                            "field": field,
                            "message": "required with an operator key",
                            "type": "missing",
                        }
                    ],
                )
            return named
        assert self.user_id is not None, self
        if named is not None and named != self.user_id:
            raise self.not_theirs(named)
        return self.user_id


def current_caller(
    ctx: ContextDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    secret = None if credentials is None else credentials.credentials
    if secret is not None and secret.startswith(access.TOKEN_PREFIX):
        user = access.authenticate_session(ctx, secret)
        return Principal(role="user", user_id=user.id)
    # No credential at all is reported as a missing API key: the title says "missing".
    key = access.authenticate_api_key(ctx, secret)
    if key.role == "operator":
        return Principal(role="operator", user_id=None, key_id=key.id)
    assert key.role == "merchant" and key.merchant_id is not None, key
    return Principal(role="merchant", user_id=key.merchant_id, key_id=key.id)


Caller = Annotated[Principal, Depends(current_caller)]


async def operator_caller(caller: Caller) -> Principal:
    if not caller.is_operator:
        raise ApiError(CALLER_NOT_ALLOWED, "this operation needs an operator API key")
    return caller


OperatorCaller = Annotated[Principal, Depends(operator_caller)]


async def visible_user_id(
    user_id: Annotated[str, Path(examples=["usr_01JH…"])], caller: Caller
) -> str:
    if not caller.may_see(user_id):
        raise caller.not_theirs(user_id)
    return user_id


VisibleUserId = Annotated[str, Depends(visible_user_id)]


def visible_wallet(
    wallet_id: Annotated[str, Path(examples=["wal_01JH…"])], caller: Caller, ctx: ContextDep
) -> WalletBalance:
    found = wallets.get_wallet(ctx, wallet_id)
    if not caller.may_see(found.wallet.user_id):
        raise WalletNotFound(wallet_id=wallet_id)
    return found


VisibleWallet = Annotated[WalletBalance, Depends(visible_wallet)]


def visible_payment(
    payment_id: Annotated[str, Path(examples=["pay_01JH…"])], caller: Caller, ctx: ContextDep
) -> Payment:
    payment = payments.get_payment(ctx, payment_id)
    if caller.is_operator:
        return payment
    sides = (payment.payer_wallet_id, payment.payee_wallet_id)
    owners = {wallets.get_wallet(ctx, wallet_id).wallet.user_id for wallet_id in sides if wallet_id}
    if caller.user_id not in owners:
        raise PaymentNotFound(payment_id=payment_id)
    return payment


VisiblePayment = Annotated[Payment, Depends(visible_payment)]


async def idempotency_key(
    key: Annotated[
        str,
        Header(
            alias="Idempotency-Key",
            description=(
                "1 to 255 printable ASCII characters, new for each operation. A retry with the "
                "same key and body returns the first response; another body is refused (422)."
            ),
            # Documented, not enforced here: the domain's check gives the key its own code.
            # Printable ASCII; HTTP drops spaces around a header value, so none at the ends.
            json_schema_extra={
                "minLength": 1,
                "maxLength": limits.IDEMPOTENCY_KEY_LENGTH_MAX,
                "pattern": r"^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$",
            },
            examples=["9f0c2e4a-6b1d-4f7e-8a53-2d1c0b9e7f61"],
        ),
    ],
) -> str:
    # Checked before the use case runs, so a bad key never costs a cash-out a PIN try.
    return check_key(key)


IdempotencyKey = Annotated[str, Depends(idempotency_key)]
