"""The API's bodies for payouts and their destinations."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
)

from soko.channels.api.schemas import MoneyIn, MoneyPublic, Name, _In
from soko.kernel import limits
from soko.payouts.domain import BankAccount, Destination, MobileMoney, Payout

# --- payouts -----------------------------------------------------------------------------------


class BankAccountIn(_In):
    type: Literal["bank_account"]
    bank_code: str = Field(
        description="The bank's clearing code or SWIFT BIC.",
        examples=["01", "KCBLKENX"],
        json_schema_extra={
            "pattern": rf"^[A-Za-z0-9]{{{limits.BANK_CODE_LENGTH_MIN},"
            rf"{limits.BANK_CODE_LENGTH_MAX}}}$"
        },
    )
    account_number: str = Field(
        description="Letters and digits (an IBAN, or the bank's own account number).",
        examples=["1234567890"],
        json_schema_extra={
            "pattern": rf"^[A-Za-z0-9]{{{limits.BANK_ACCOUNT_NUMBER_LENGTH_MIN},"
            rf"{limits.BANK_ACCOUNT_NUMBER_LENGTH_MAX}}}$"
        },
    )
    account_name: Name = Field(examples=["Wanjiru Kamau"])

    def to_destination(self) -> BankAccount:
        return BankAccount(self.bank_code, self.account_number, self.account_name)


class MobileMoneyIn(_In):
    type: Literal["mobile_money"]
    phone: str = Field(
        description="E.164, in the country whose currency the payout is in (`format: phone`).",
        examples=["+254722123456"],
        json_schema_extra={"format": "phone", "pattern": r"^\+[0-9]{6,15}$"},
    )

    def to_destination(self) -> MobileMoney:
        return MobileMoney(self.phone)


class PayoutCreate(_In):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "amount": {"amount": "5000.00", "currency": "KES"},
                    "destination": {"type": "mobile_money", "phone": "+254712345678"},
                }
            ]
        }
    )

    amount: MoneyIn
    destination: Annotated[BankAccountIn | MobileMoneyIn, Field(discriminator="type")]
    merchant_id: str | None = Field(
        default=None,
        description="Operator keys only: the merchant paying out. A merchant key pays out as self.",
    )


class BankAccountPublic(BaseModel):
    type: Literal["bank_account"] = "bank_account"
    bank_code: str
    account_number: str
    account_name: str


class MobileMoneyPublic(BaseModel):
    type: Literal["mobile_money"] = "mobile_money"
    phone: str


def _destination_public(destination: Destination) -> BankAccountPublic | MobileMoneyPublic:
    if isinstance(destination, BankAccount):
        return BankAccountPublic(
            bank_code=destination.bank_code,
            account_number=destination.account_number,
            account_name=destination.account_name,
        )
    return MobileMoneyPublic(phone=destination.phone)


class PayoutPublic(BaseModel):
    id: str
    merchant_id: str
    wallet_id: str
    status: Literal["requested", "submitted", "paid", "failed"] = Field(
        description="requested (money held), submitted (at the rail), then paid or failed "
        "(the amount and fee are back in the wallet)."
    )
    amount: MoneyPublic
    fee: MoneyPublic = Field(description="Paid by the merchant on top of the amount.")
    destination: Annotated[BankAccountPublic | MobileMoneyPublic, Field(discriminator="type")]
    rail: str = Field(examples=["sandbox"])
    rail_reference: str | None = Field(description="The rail's own reference, once submitted.")
    failure_reason: str | None = Field(description="Why the rail failed it.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, payout: Payout) -> PayoutPublic:
        return cls(
            id=payout.id,
            merchant_id=payout.merchant_id,
            wallet_id=payout.wallet_id,
            status=payout.state.value,
            amount=MoneyPublic.minor(payout.amount, payout.currency),
            fee=MoneyPublic.minor(payout.fee, payout.currency),
            destination=_destination_public(payout.destination),
            rail=payout.rail,
            rail_reference=payout.rail_reference,
            failure_reason=payout.failure_reason,
            created_at=payout.created_at,
            updated_at=payout.updated_at,
        )
