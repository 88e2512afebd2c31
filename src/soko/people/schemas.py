"""The API's request and response bodies for people, wallets and access."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
)

from soko.channels.api.schemas import (
    MERCHANT_CATEGORY_PATTERN,
    NOT_BLANK,
    CurrencyCode,
    MoneyPublic,
    Name,
    OfferedCurrencyCode,
    Phone,
    Pin,
    Region,
    _In,
)
from soko.kernel import limits
from soko.people.access import NewApiKey, Session
from soko.people.domain import HOME_CURRENCY, ApiKey, Merchant, User, UserKind
from soko.people.wallets import StatementEntry, WalletBalance

# --- users -------------------------------------------------------------------------------------


class MerchantCreate(_In):
    trading_name: Name = Field(examples=["Wanjiru's kiosk"])
    category_code: str = Field(
        description="ISO 18245 merchant category.",
        examples=["5411"],
        json_schema_extra={"pattern": MERCHANT_CATEGORY_PATTERN},
    )
    settlement_currency: CurrencyCode | None = None
    city: Name | None = Field(
        default=None,
        description="Where the shop trades, printed in its QR code (EMVCo Merchant City: "
        "transliterated to ASCII and cut at a word boundary to 15 characters). The operator's "
        "city (SOKO_QR_MERCHANT_CITY) by default.",
        examples=["Kampala"],
    )


class UserCreate(_In):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "kind": "merchant",
                    "phone": "0712345678",
                    "default_region": "KE",
                    "name": "Wanjiru",
                    "pin": "2468",
                    "merchant": {
                        "trading_name": "Wanjiru's Kiosk",
                        "category_code": "5411",
                        "city": "Nakuru",
                    },
                }
            ],
            "oneOf": [
                {
                    "properties": {"kind": {"const": "merchant"}, "merchant": {"type": "object"}},
                    "required": ["merchant"],
                },
                {
                    "properties": {
                        "kind": {"enum": ["consumer", "agent"]},
                        "merchant": {"type": "null"},
                    }
                },
            ],
        },
    )

    kind: UserKind
    phone: Phone
    default_region: Region = None
    name: Name = Field(examples=["Amina Njoroge"])
    country: str | None = Field(
        default=None,
        description="ISO 3166 alpha-2, one Soko serves; the phone number's country by default.",
        json_schema_extra={"enum": [*sorted(HOME_CURRENCY), None]},
    )
    pin: Pin | None = None
    merchant: MerchantCreate | None = Field(
        default=None, description="Required for, and only for, kind=merchant."
    )


class MerchantPublic(BaseModel):
    trading_name: str
    category_code: str
    settlement_currency: str
    till_number: str
    city: str = Field(description="Where the shop trades, as registered.", examples=["Kampala"])

    @classmethod
    def of(cls, merchant: Merchant) -> MerchantPublic:
        return cls(
            trading_name=merchant.trading_name,
            category_code=merchant.category_code,
            settlement_currency=merchant.settlement_currency,
            till_number=merchant.till_number,
            city=merchant.city,
        )


class UserPublic(BaseModel):
    id: str
    kind: UserKind
    phone: str
    name: str
    country: str
    kyc_tier: int
    has_pin: bool
    pin_locked: bool = Field(description="Locked now, after too many wrong tries.")
    pin_locked_until: datetime | None = Field(
        default=None, description="When the lock times out (15 minutes, an hour, then a day)."
    )
    merchant: MerchantPublic | None = None

    @classmethod
    def of(cls, user: User, merchant: Merchant | None = None, *, now: datetime) -> UserPublic:
        locked = user.pin_locked_at(now)
        return cls(
            id=user.id,
            kind=user.kind,
            phone=user.phone,
            name=user.name,
            country=user.country,
            kyc_tier=user.kyc_tier,
            has_pin=user.has_pin,
            pin_locked=locked,
            pin_locked_until=user.pin.locked_until if locked else None,
            merchant=None if merchant is None else MerchantPublic.of(merchant),
        )


class KycUpdate(_In):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"tier": 1, "national_id": "12345678"}]}
    )

    tier: int = Field(
        description="0 phone only, 1 national id recorded, 2 documents verified.",
        json_schema_extra={"enum": [0, 1, 2]},
    )
    national_id: str | None = Field(
        default=None,
        description="Required from tier 1, unless the user has one on record already.",
        json_schema_extra={
            "minLength": 1,
            "maxLength": limits.NATIONAL_ID_LENGTH_MAX,
            "pattern": NOT_BLANK,
        },
    )


class PinSet(_In):
    model_config = ConfigDict(json_schema_extra={"examples": [{"pin": "2468"}]})

    pin: Pin


# --- wallets -----------------------------------------------------------------------------------


class WalletOpen(_In):
    model_config = ConfigDict(json_schema_extra={"examples": [{"currency": "UGX"}]})

    currency: OfferedCurrencyCode | None = Field(
        default=None, description="The user's country's currency by default."
    )


class WalletPublic(BaseModel):
    id: str
    user_id: str
    currency: str
    balance: MoneyPublic = Field(description="Posted money: what the wallet holds.")
    available: MoneyPublic = Field(description="What may be spent: the balance less holds.")

    @classmethod
    def of(cls, found: WalletBalance) -> WalletPublic:
        return cls(
            id=found.wallet.id,
            user_id=found.wallet.user_id,
            currency=found.wallet.currency,
            balance=MoneyPublic.of(found.balance),
            available=MoneyPublic.of(found.available),
        )


class CounterpartyPublic(BaseModel):
    name: str | None = Field(
        description="The merchant's trading name or the person's name; null for a number "
        "with no account yet."
    )
    phone: str = Field(description="Masked: the country code, a digit and the last three.",
                       examples=["+2547•••••200"])  # fmt: skip


class StatementEntryPublic(BaseModel):
    transfer_id: str
    created_at: datetime
    code: str = Field(examples=["p2p"])
    amount: MoneyPublic = Field(description="Signed: money in positive, money out negative.")
    pending: bool = Field(description="A hold or its release: the balance did not change.")
    balance_after: MoneyPublic
    reference: str | None
    counterparty: CounterpartyPublic | None = Field(
        description="Who paid this wallet or was paid by it, in payments and refunds."
    )
    message: str | None = Field(description="The payer's message, or a refund's reason.")

    @classmethod
    def of(cls, entry: StatementEntry) -> StatementEntryPublic:
        return cls(
            transfer_id=entry.transfer_id,
            created_at=entry.created_at,
            code=entry.code,
            amount=MoneyPublic.of(entry.amount),
            pending=entry.pending,
            balance_after=MoneyPublic.of(entry.balance_after),
            reference=entry.reference,
            counterparty=None
            if entry.counterparty is None
            else CounterpartyPublic(name=entry.counterparty.name, phone=entry.counterparty.phone),
            message=entry.message,
        )


# --- access ------------------------------------------------------------------------------------


class ApiKeyCreate(_In):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "role": "merchant",
                    "name": "Till backend",
                    "merchant_id": "usr_01JH4Y8R3N9Y6U4W7P0C1D2E3F",
                }
            ],
            # The domain's rule (user_kind_mismatch otherwise), stated for the document.
            "oneOf": [
                {
                    "properties": {
                        "role": {"const": "operator"},
                        "merchant_id": {"type": "null"},
                    }
                },
                {
                    "properties": {
                        "role": {"const": "merchant"},
                        "merchant_id": {"type": "string"},
                    },
                    "required": ["merchant_id"],
                },
            ],
        },
    )

    role: Literal["operator", "merchant"]
    name: Name = Field(examples=["checkout server"])
    merchant_id: str | None = Field(default=None, description="Required for role=merchant.")


class ApiKeyPublic(BaseModel):
    id: str
    role: str
    name: str
    merchant_id: str | None
    revoked: bool

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyPublic:
        return cls(
            id=key.id,
            role=key.role,
            name=key.name,
            merchant_id=key.merchant_id,
            revoked=key.revoked,
        )


class ApiKeyListed(ApiKeyPublic):
    created_at: datetime

    @classmethod
    def of_listed(cls, key: ApiKey) -> ApiKeyListed:
        assert key.created_at is not None, "a listed key is read back with its time"
        return cls(**ApiKeyPublic.of(key).model_dump(), created_at=key.created_at)


class ApiKeyCreated(ApiKeyPublic):
    secret: str = Field(description="Shown this once; only its hash is kept.")

    @classmethod
    def of_new(cls, new: NewApiKey) -> ApiKeyCreated:
        return cls(**ApiKeyPublic.of(new.key).model_dump(), secret=new.secret)


class SessionCreate(_In):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"phone": "0712100200", "default_region": "KE", "pin": "1234"}]
        }
    )

    phone: Phone
    pin: Pin
    default_region: Region = None


class SessionPublic(BaseModel):
    token: str = Field(description="Send as `Authorization: Bearer <token>`.")
    expires_at: datetime
    user_id: str

    @classmethod
    def of(cls, session: Session) -> SessionPublic:
        return cls(token=session.token, expires_at=session.expires_at, user_id=session.user.id)
