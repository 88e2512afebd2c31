"""The API's bodies for M-Pesa deposits, reversals and payments held in suspense."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from soko.channels.api.schemas import MoneyIn, MoneyPublic, _In
from soko.deposits.domain import C2BPayment, Deposit, Reversal, e164


class DepositCreate(_In):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"amount": {"amount": "1500.00", "currency": "KES"}},
                {"amount": {"amount": "200.00", "currency": "KES"}, "phone": "+254712345678"},
            ]
        }
    )

    amount: MoneyIn = Field(description="KES in whole shillings, 1 to 250,000.")
    phone: str | None = Field(
        default=None,
        description="The M-Pesa number to prompt (E.164, Kenyan); the user's own by default.",
        examples=["+254712345678"],
        json_schema_extra={"format": "phone", "pattern": r"^\+254[17][0-9]{8}$"},
    )
    user_id: str | None = Field(
        default=None,
        description="Operator keys only: whose wallet the money goes to. Others deposit as self.",
    )


class DepositPublic(BaseModel):
    id: str
    user_id: str
    wallet_id: str
    status: Literal["initiated", "pending", "paid", "failed", "unknown"] = Field(
        description="pending (the phone was prompted), then paid (in the wallet) or failed; "
        "unknown when the prompt's answer was lost (nothing is credited unless the operator "
        "assigns the payment)."
    )
    outcome: str | None = Field(
        description="paid, insufficient_funds, cancelled, unreachable, expired, wrong_pin, "
        "failed; refused or outcome_unknown when no prompt was surely made.",
        examples=["cancelled"],
    )
    amount: MoneyPublic
    phone: str = Field(examples=["+254712345678"])
    account_reference: str = Field(description="Shown on the prompt and the M-Pesa statement.")
    receipt: str | None = Field(description="M-Pesa's receipt number, once known.")
    result_code: int | None
    result_desc: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, deposit: Deposit) -> DepositPublic:
        return cls(
            id=deposit.id,
            user_id=deposit.user_id,
            wallet_id=deposit.wallet_id,
            status=deposit.state.value,
            outcome=None if deposit.outcome is None else deposit.outcome.value,
            amount=MoneyPublic.minor(deposit.amount, deposit.currency),
            phone=e164(deposit.phone),
            account_reference=deposit.account_reference,
            receipt=deposit.receipt,
            result_code=deposit.result_code,
            result_desc=deposit.result_desc,
            created_at=deposit.created_at,
            updated_at=deposit.updated_at,
        )


class MpesaReversalCreate(_In):
    model_config = ConfigDict(json_schema_extra={"examples": [{"trans_id": "SAB1C2D3E4"}]})

    trans_id: str = Field(
        description="The M-Pesa receipt of a deposit or C2B payment Soko credited.",
        min_length=1,
        max_length=20,
    )


class MpesaReversalPublic(BaseModel):
    id: str
    trans_id: str
    amount: MoneyPublic
    status: Literal["requested", "reversed", "failed", "unknown"] = Field(
        description="requested (the money is held), then reversed (back to the payer) or failed "
        "(released)."
    )
    reversal_receipt: str | None
    result_code: str | None
    result_desc: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, reversal: Reversal) -> MpesaReversalPublic:
        return cls(
            id=reversal.id,
            trans_id=reversal.receipt,
            amount=MoneyPublic.minor(reversal.amount, reversal.currency),
            status=reversal.state.value,
            reversal_receipt=reversal.reversal_receipt,
            result_code=reversal.result_code,
            result_desc=reversal.result_desc,
            created_at=reversal.created_at,
            updated_at=reversal.updated_at,
        )


class MpesaAssignmentCreate(_In):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"user_id": "usr_01JH4Y7Q2M8X5T3V6N9B0C1D2E"}]}
    )

    user_id: str = Field(description="Whose wallet the payment held in suspense goes to.")


class MpesaPaymentPublic(BaseModel):
    trans_id: str
    amount: MoneyPublic
    bill_ref_number: str
    status: Literal["credited", "suspense", "assigned", "reversed"]
    user_id: str | None
    paid_at: datetime

    @classmethod
    def of(cls, payment: C2BPayment) -> MpesaPaymentPublic:
        return cls(
            trans_id=payment.trans_id,
            amount=MoneyPublic.minor(payment.amount, payment.currency),
            bill_ref_number=payment.bill_ref_number,
            status=payment.state.value,
            user_id=payment.user_id,
            paid_at=payment.paid_at,
        )
