"""What people's use cases need from storage and from a PIN hasher."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Literal, Protocol

from soko.payments.domain import Payment
from soko.people.domain import (
    ApiKey,
    Merchant,
    OneTimeCode,
    PaymentSides,
    PinState,
    TryWindow,
    User,
    UssdSession,
    Wallet,
)

#: Which side of a payment a wallet is on.
Role = Literal["payer", "payee", "either"]


class PeopleRepository(Protocol):
    """Users, merchants, wallets, payments, API keys and sessions."""

    def insert_user(self, user: User, pin_hash: str | None, created_at: datetime) -> None:
        """Raises `PhoneNumberTaken` if the phone number is registered already."""
        ...

    def get_user(self, user_id: str, *, lock: bool = False) -> User | None: ...

    def get_user_by_phone(self, phone: str) -> User | None: ...

    def list_users(
        self, *, kind: str | None, phone: str | None, limit: int, after_id: str | None
    ) -> list[User]:
        """Users in id order (the order they registered), strictly after `after_id` if given,
        of one kind and one phone number if given."""
        ...

    def pin_hash(self, user_id: str) -> str | None: ...

    def update_user(self, user: User, *, pin_hash: str | None = None) -> None:
        """Store the user's mutable fields (tier, national id, PIN state, and a new PIN hash)."""
        ...

    def insert_merchant(self, merchant: Merchant) -> None:
        """Raises `TransientConflict` if the till number was taken meanwhile."""
        ...

    def get_merchant(self, user_id: str) -> Merchant | None: ...

    def get_merchant_by_till(self, till_number: str) -> Merchant | None: ...

    def set_open_loan(self, user_id: str, loan_id: str | None) -> None:
        """Mark the merchant's open loan (or none): payments read it to sweep repayments."""
        ...

    def insert_wallet(self, wallet: Wallet, created_at: datetime) -> None:
        """Raises `TransientConflict` if the user's wallet in that currency was opened meanwhile."""
        ...

    def get_wallet(self, wallet_id: str) -> Wallet | None: ...

    def find_wallet(self, user_id: str, currency: str) -> Wallet | None: ...

    def list_wallets(self, user_id: str) -> list[Wallet]: ...

    def outgoing_totals(
        self, wallet_id: str, kinds: Collection[str], day: datetime, month: datetime
    ) -> tuple[int, int]:
        """Minor units the wallet paid out in payments of `kinds` since `day` and since `month`,
        in one query (not counting held payments that expired back)."""
        ...

    def net_after(self, account_id: str, transfer_id: str) -> int:
        """Posted credits less posted debits of the account's transfers newer than this one."""
        ...

    def payment_sides(self, references: Collection[str]) -> list[PaymentSides]:
        """The payers and payees of the payments and refunds with these ids (others are left
        out), with names and unmasked phones."""
        ...

    def insert_payment(self, payment: Payment) -> None: ...

    def get_payment(self, payment_id: str) -> Payment | None: ...

    def unclaimed_payments(self, phone: str, limit: int) -> list[Payment]:
        """Payments to `phone` still held for it, oldest first."""
        ...

    def claim_payment(self, payment_id: str, payee_wallet_id: str) -> None: ...

    def insert_api_key(self, key: ApiKey, secret_hash: str, created_at: datetime) -> None: ...

    def get_api_key_by_hash(self, secret_hash: str) -> ApiKey | None: ...

    def revoke_api_key(self, key_id: str, revoked_at: datetime) -> bool: ...

    def list_api_keys(self, *, limit: int, after_id: str | None) -> list[ApiKey]:
        """Keys, revoked ones too, in id order, strictly after `after_id` if given; never a
        secret or its hash."""
        ...

    def insert_session(
        self, token_hash: str, user_id: str, expires_at: datetime, created_at: datetime
    ) -> None: ...

    def end_session(self, token_hash: str, now: datetime) -> None:
        """Expire the session now (kept, as a record of when it was used)."""
        ...

    def session_user(self, token_hash: str, now: datetime) -> str | None:
        """The user of an unexpired session, if any."""
        ...

    def session_times(
        self, token_hash: str, now: datetime
    ) -> tuple[str, datetime, datetime] | None:
        """The user, expiry and start of an unexpired session, if any."""
        ...

    def extend_session(self, token_hash: str, expires_at: datetime, now: datetime) -> None:
        """Move an unexpired session's expiry later to `expires_at` (never earlier)."""
        ...

    def end_sessions_of(self, user_id: str, now: datetime) -> int:
        """Expire every session of the user now; how many were still open."""
        ...

    def address_tries(self, subject: str) -> TryWindow | None:
        """The window of wrong PINs from a client address (locked for update)."""
        ...

    def put_address_tries(self, subject: str, window: TryWindow, *, new: bool) -> None:
        """Raises `TransientConflict` if `new` and another transaction created it meanwhile."""
        ...

    def unknown_number_pin(self, phone: str) -> PinState | None:
        """The PIN state kept for a number without an account (locked for update)."""
        ...

    def put_unknown_number_pin(
        self, phone: str, pin: PinState, now: datetime, *, new: bool
    ) -> None:
        """Raises `TransientConflict` if `new` and another transaction created it meanwhile."""
        ...

    def forget_pin_tries(self, before: datetime, limit: int) -> int:
        """Delete up to `limit` address windows, unknown numbers' states and one-time codes of
        each kind last touched before `before`; how many."""
        ...

    def payments_of(
        self, wallet_id: str, *, role: Role, kinds: Collection[str], since: datetime, limit: int
    ) -> list[Payment]:
        """The wallet's payments of `kinds` since `since` on that side, newest first."""
        ...

    def payment_totals(
        self, wallet_id: str, *, role: Role, kinds: Collection[str], since: datetime
    ) -> tuple[int, int, int]:
        """How many such payments, their amounts and their commissions, in all."""
        ...

    def get_code(self, phone: str, purpose: str) -> OneTimeCode | None:
        """The code kept for the number and purpose (locked for update)."""
        ...

    def put_code(self, code: OneTimeCode, *, new: bool) -> None:
        """Raises `TransientConflict` if `new` and another transaction created it meanwhile."""
        ...

    def use_code(self, phone: str, purpose: str, code_hash: str) -> bool:
        """Mark the code used if it is still this one; whether it was."""
        ...

    def get_ussd_session(self, session_id: str) -> UssdSession | None: ...

    def last_ussd_session(self, phone: str, since: datetime) -> UssdSession | None:
        """The phone's most recently used session, if it was used since `since`."""
        ...

    def save_ussd_session(self, session: UssdSession) -> None:
        """Insert or replace the session; and forget the phone's sessions long over."""
        ...


class PinHasher(Protocol):
    def hash(self, pin: str) -> str: ...

    def verify(self, pin_hash: str, pin: str) -> bool: ...
