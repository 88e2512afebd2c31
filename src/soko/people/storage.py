"""Users, merchants, wallets, payments, API keys and sessions in SQL."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from soko.kernel.ports import TransientConflict
from soko.ledger.domain import TransferFlags
from soko.ledger.tables import pending_transfers, transfers
from soko.payments.domain import Payment, PaymentKind
from soko.payments.tables import payments, refunds
from soko.people.domain import (
    ApiKey,
    Merchant,
    OneTimeCode,
    Party,
    PaymentSides,
    PinState,
    TryWindow,
    User,
    UserKind,
    UssdSession,
    Wallet,
)
from soko.people.errors import PhoneNumberTaken
from soko.people.ports import Role
from soko.people.tables import (
    address_pin_tries,
    api_keys,
    merchants,
    sessions,
    unknown_number_pins,
    users,
    ussd_sessions,
    wallets,
    web_codes,
)

_POSTED = (int(TransferFlags.NONE), int(TransferFlags.POST_PENDING))
_USSD_KEPT = timedelta(days=1)

# The statements every payment runs, built once: building a Core statement and its cache key on
# each call cost about four times as much as executing it through SQLAlchemy (ADR 0015).
_USER_BY_ID_LOCKED = sa.select(users).where(users.c.id == sa.bindparam("user_id")).with_for_update()
# A user and all its wallets (one per currency) in one round trip: a payment looks up both sides'
# wallets right after their users.
_WITH_WALLETS = sa.select(
    users,
    wallets.c.id.label("wallet_id"),
    wallets.c.currency.label("wallet_currency"),
    wallets.c.account_id.label("wallet_account_id"),
).select_from(users.outerjoin(wallets, wallets.c.user_id == users.c.id))
_USER_BY_ID = _WITH_WALLETS.where(users.c.id == sa.bindparam("user_id"))
_USER_BY_PHONE = _WITH_WALLETS.where(users.c.phone == sa.bindparam("phone"))
_MERCHANT_BY_USER = sa.select(merchants).where(merchants.c.user_id == sa.bindparam("user_id"))
_MERCHANT_BY_TILL = sa.select(merchants).where(merchants.c.till_number == sa.bindparam("till"))
_WALLET_BY_ID = sa.select(wallets).where(wallets.c.id == sa.bindparam("wallet_id"))
_WALLET_OF = sa.select(wallets).where(
    wallets.c.user_id == sa.bindparam("user_id"), wallets.c.currency == sa.bindparam("currency")
)
_INSERT_PAYMENT = payments.insert()
_PAYMENT_BY_ID = sa.select(payments).where(payments.c.id == sa.bindparam("payment_id"))
_API_KEY_BY_HASH = sa.select(api_keys).where(api_keys.c.secret_hash == sa.bindparam("hash"))
_SESSION_USER = sa.select(sessions.c.user_id).where(
    sessions.c.token_hash == sa.bindparam("hash"), sessions.c.expires_at > sa.bindparam("now")
)
# Payments held for an unregistered number count while held (money promised away) and once
# claimed, not once they expired back. One scan gives both totals (the day starts within the
# month).
_OUTGOING_TOTALS = (
    sa.select(
        sa.func.coalesce(
            sa.func.sum(
                sa.case((payments.c.created_at >= sa.bindparam("day"), payments.c.amount), else_=0)
            ),
            0,
        ),
        sa.func.coalesce(sa.func.sum(payments.c.amount), 0),
    )
    .select_from(
        payments.outerjoin(pending_transfers, pending_transfers.c.transfer_id == payments.c.hold_id)
    )
    .where(
        payments.c.payer_wallet_id == sa.bindparam("wallet_id"),
        payments.c.created_at >= sa.bindparam("since"),
        payments.c.kind.in_(sa.bindparam("kinds", expanding=True)),
        sa.or_(
            payments.c.hold_id.is_(None),
            pending_transfers.c.state.in_(("pending", "posted")),
        ),
    )
)


def _sides_query(reference: sa.ColumnElement[str], message: sa.ColumnElement[Any],
                 source: sa.FromClause) -> sa.Select[Any]:  # fmt: skip
    """Both sides of payments (joined in `source`): wallet, shown name and phone of each."""
    columns: list[sa.ColumnElement[Any]] = [reference.label("reference"),
                                            message.label("message")]  # fmt: skip
    joined = source
    for side in ("payer", "payee"):
        wallet, user, merchant = wallets.alias(), users.alias(), merchants.alias()
        joined = joined.outerjoin(wallet, wallet.c.id == payments.c[f"{side}_wallet_id"])
        joined = joined.outerjoin(user, user.c.id == wallet.c.user_id)
        joined = joined.outerjoin(merchant, merchant.c.user_id == user.c.id)
        columns += [
            payments.c[f"{side}_wallet_id"],
            sa.func.coalesce(merchant.c.trading_name, user.c.name).label(f"{side}_name"),
            user.c.phone.label(f"{side}_phone"),
        ]
    columns.append(payments.c.payee_phone.label("held_for_phone"))
    return (
        sa.select(*columns)
        .select_from(joined)
        .where(reference.in_(sa.bindparam("references", expanding=True)))
    )


_PAYMENT_SIDES = _sides_query(payments.c.id, payments.c.message, payments)
_REFUND_SIDES = _sides_query(
    refunds.c.id, refunds.c.reason, refunds.join(payments, payments.c.id == refunds.c.payment_id)
)


def _payment_sides(row: Row[Any]) -> PaymentSides:
    payer = None if row.payer_phone is None else Party(row.payer_name, row.payer_phone)
    if row.payee_phone is not None:
        payee: Party | None = Party(row.payee_name, row.payee_phone)
    else:
        # Held for a number with no account yet: its number, and no name.
        payee = None if row.held_for_phone is None else Party(None, row.held_for_phone)
    return PaymentSides(
        reference=row.reference,
        payer_wallet_id=row.payer_wallet_id,
        payer=payer,
        payee_wallet_id=row.payee_wallet_id,
        payee=payee,
        message=row.message,
    )


class SqlPeopleRepository:
    def __init__(self, connection: Connection, *, row_locks: bool) -> None:
        self._conn = connection
        self._row_locks = row_locks
        #: The wallets of each user read in this transaction, by currency. Wallets are never
        #: updated or deleted, and one opened here is added: `find_wallet` needs no round trip.
        #: (One opened meanwhile by another transaction is missed; opening it again here then
        #: conflicts and the transaction retries, as two openings always have.)
        self._wallets_of: dict[str, dict[str, Wallet]] = {}

    # --- users and merchants --------------------------------------------------------------

    def insert_user(self, user: User, pin_hash: str | None, created_at: datetime) -> None:
        try:
            with self._conn.begin_nested():
                self._conn.execute(
                    users.insert(), _user_values(user, pin_hash) | {"created_at": created_at}
                )
        except sa.exc.IntegrityError as error:
            if self.get_user_by_phone(user.phone) is not None:
                raise PhoneNumberTaken(phone=user.phone) from error
            raise

    def get_user(self, user_id: str, *, lock: bool = False) -> User | None:
        if lock and self._row_locks:
            row = self._conn.execute(_USER_BY_ID_LOCKED, {"user_id": user_id}).first()
            return None if row is None else _user(row)
        return self._with_wallets(_USER_BY_ID, {"user_id": user_id})

    def get_user_by_phone(self, phone: str) -> User | None:
        return self._with_wallets(_USER_BY_PHONE, {"phone": phone})

    def _with_wallets(self, query: sa.Select[Any], parameters: dict[str, str]) -> User | None:
        rows = self._conn.execute(query, parameters).all()
        if not rows:
            return None
        user = _user(rows[0])
        self._wallets_of[user.id] = {
            row.wallet_currency: Wallet(
                id=row.wallet_id,
                user_id=user.id,
                currency=row.wallet_currency,
                account_id=row.wallet_account_id,
            )
            for row in rows
            if row.wallet_id is not None
        }
        return user

    def list_users(
        self, *, kind: str | None, phone: str | None, limit: int, after_id: str | None
    ) -> list[User]:
        query = sa.select(users).order_by(users.c.id).limit(limit)
        if kind is not None:
            query = query.where(users.c.kind == kind)
        if phone is not None:
            query = query.where(users.c.phone == phone)
        if after_id is not None:
            query = query.where(users.c.id > after_id)
        return [_user(row) for row in self._conn.execute(query)]

    def pin_hash(self, user_id: str) -> str | None:
        query = sa.select(users.c.pin_hash).where(users.c.id == user_id)
        result: str | None = self._conn.execute(query).scalar()
        return result

    def update_user(self, user: User, *, pin_hash: str | None = None) -> None:
        values = {
            "kyc_tier": user.kyc_tier,
            "national_id": user.national_id,
            **_pin_values(user.pin),
            "language": user.language,
        }
        if pin_hash is not None:
            values["pin_hash"] = pin_hash
        self._conn.execute(users.update().where(users.c.id == user.id).values(values))

    def insert_merchant(self, merchant: Merchant) -> None:
        try:
            with self._conn.begin_nested():
                self._conn.execute(
                    merchants.insert(),
                    {
                        "user_id": merchant.user_id,
                        "trading_name": merchant.trading_name,
                        "category_code": merchant.category_code,
                        "settlement_currency": merchant.settlement_currency,
                        "till_number": merchant.till_number,
                        "city": merchant.city,
                    },
                )
        except sa.exc.IntegrityError as error:
            raise TransientConflict(f"till number {merchant.till_number} taken") from error

    def get_merchant(self, user_id: str) -> Merchant | None:
        row = self._conn.execute(_MERCHANT_BY_USER, {"user_id": user_id}).first()
        return None if row is None else _merchant(row)

    def get_merchant_by_till(self, till_number: str) -> Merchant | None:
        row = self._conn.execute(_MERCHANT_BY_TILL, {"till": till_number}).first()
        return None if row is None else _merchant(row)

    def set_open_loan(self, user_id: str, loan_id: str | None) -> None:
        self._conn.execute(
            merchants.update().where(merchants.c.user_id == user_id).values(open_loan_id=loan_id)
        )

    # --- wallets ----------------------------------------------------------------------------

    def insert_wallet(self, wallet: Wallet, created_at: datetime) -> None:
        try:
            self._conn.execute(
                wallets.insert(),
                {
                    "id": wallet.id,
                    "user_id": wallet.user_id,
                    "currency": wallet.currency,
                    "account_id": wallet.account_id,
                    "created_at": created_at,
                },
            )
        except sa.exc.IntegrityError as error:
            raise TransientConflict(f"wallet {wallet.user_id}/{wallet.currency} opened") from error
        known = self._wallets_of.get(wallet.user_id)
        if known is not None:
            known[wallet.currency] = wallet

    def get_wallet(self, wallet_id: str) -> Wallet | None:
        row = self._conn.execute(_WALLET_BY_ID, {"wallet_id": wallet_id}).first()
        return None if row is None else _wallet(row)

    def find_wallet(self, user_id: str, currency: str) -> Wallet | None:
        known = self._wallets_of.get(user_id)
        if known is not None:
            return known.get(currency)
        row = self._conn.execute(_WALLET_OF, {"user_id": user_id, "currency": currency}).first()
        return None if row is None else _wallet(row)

    def list_wallets(self, user_id: str) -> list[Wallet]:
        query = sa.select(wallets).where(wallets.c.user_id == user_id).order_by(wallets.c.currency)
        return [_wallet(row) for row in self._conn.execute(query)]

    def outgoing_totals(
        self, wallet_id: str, kinds: Collection[str], day: datetime, month: datetime
    ) -> tuple[int, int]:
        parameters = {
            "day": day,
            "wallet_id": wallet_id,
            "since": min(day, month),
            "kinds": sorted(kinds),
        }
        spent_today, spent_this_month = self._conn.execute(_OUTGOING_TOTALS, parameters).one()
        return int(spent_today), int(spent_this_month)

    def net_after(self, account_id: str, transfer_id: str) -> int:
        after = sa.select(transfers.c.seq).where(transfers.c.id == transfer_id).scalar_subquery()
        newer = (transfers.c.seq > after) & transfers.c.flags.in_(_POSTED)
        credits = sa.select(sa.func.coalesce(sa.func.sum(transfers.c.amount), 0)).where(
            newer, transfers.c.credit_account_id == account_id
        )
        debits = sa.select(sa.func.coalesce(sa.func.sum(transfers.c.amount), 0)).where(
            newer, transfers.c.debit_account_id == account_id
        )
        return int(self._conn.execute(credits).scalar_one()) - int(
            self._conn.execute(debits).scalar_one()
        )

    # --- payments ---------------------------------------------------------------------------

    def payment_sides(self, references: Collection[str]) -> list[PaymentSides]:
        if not references:
            return []
        wanted = sorted(set(references))
        found = [
            _payment_sides(row)
            for query in (_PAYMENT_SIDES, _REFUND_SIDES)
            for row in self._conn.execute(query, {"references": wanted})
        ]
        return found

    def insert_payment(self, payment: Payment) -> None:
        self._conn.execute(
            _INSERT_PAYMENT,
            {
                "id": payment.id,
                "kind": payment.kind,
                "payer_wallet_id": payment.payer_wallet_id,
                "payee_wallet_id": payment.payee_wallet_id,
                "payee_phone": payment.payee_phone,
                "amount": payment.amount,
                "fee": payment.fee,
                "commission": payment.commission,
                "currency": payment.currency,
                "message": payment.message,
                "hold_id": payment.hold_id,
                "fee_hold_id": payment.fee_hold_id,
                "created_at": payment.created_at,
                "target_currency": payment.target_currency,
                "target_amount": payment.target_amount,
            },
        )

    def get_payment(self, payment_id: str) -> Payment | None:
        row = self._conn.execute(_PAYMENT_BY_ID, {"payment_id": payment_id}).first()
        return None if row is None else payment_from_row(row)

    def unclaimed_payments(self, phone: str, limit: int) -> list[Payment]:
        query = (
            sa.select(payments)
            .join(pending_transfers, pending_transfers.c.transfer_id == payments.c.hold_id)
            .where(
                payments.c.payee_phone == phone,
                payments.c.payee_wallet_id.is_(None),
                pending_transfers.c.state == "pending",
            )
            .order_by(payments.c.created_at, payments.c.id)
            .limit(limit)
        )
        return [payment_from_row(row) for row in self._conn.execute(query)]

    def claim_payment(self, payment_id: str, payee_wallet_id: str) -> None:
        result = self._conn.execute(
            payments.update()
            .where(payments.c.id == payment_id, payments.c.payee_wallet_id.is_(None))
            .values(payee_wallet_id=payee_wallet_id)
        )
        if result.rowcount != 1:
            raise TransientConflict(f"payment {payment_id} claimed concurrently")

    # --- access -----------------------------------------------------------------------------

    def insert_api_key(self, key: ApiKey, secret_hash: str, created_at: datetime) -> None:
        self._conn.execute(
            api_keys.insert(),
            {
                "id": key.id,
                "secret_hash": secret_hash,
                "role": key.role,
                "merchant_id": key.merchant_id,
                "name": key.name,
                "created_at": created_at,
            },
        )

    def get_api_key_by_hash(self, secret_hash: str) -> ApiKey | None:
        row = self._conn.execute(_API_KEY_BY_HASH, {"hash": secret_hash}).first()
        if row is None:
            return None
        return ApiKey(
            id=row.id,
            role=row.role,
            merchant_id=row.merchant_id,
            name=row.name,
            revoked=row.revoked_at is not None,
        )

    def revoke_api_key(self, key_id: str, revoked_at: datetime) -> bool:
        result = self._conn.execute(
            api_keys.update()
            .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=revoked_at)
        )
        return result.rowcount == 1

    def list_api_keys(self, *, limit: int, after_id: str | None) -> list[ApiKey]:
        columns = [api_keys.c[name] for name in ("id", "role", "merchant_id", "name",
                                                  "created_at", "revoked_at")]  # fmt: skip
        query = sa.select(*columns).order_by(api_keys.c.id).limit(limit)
        if after_id is not None:
            query = query.where(api_keys.c.id > after_id)
        return [
            ApiKey(
                id=row.id,
                role=row.role,
                merchant_id=row.merchant_id,
                name=row.name,
                revoked=row.revoked_at is not None,
                created_at=row.created_at,
            )
            for row in self._conn.execute(query)
        ]

    def insert_session(
        self, token_hash: str, user_id: str, expires_at: datetime, created_at: datetime
    ) -> None:
        self._conn.execute(
            sessions.insert(),
            {
                "token_hash": token_hash,
                "user_id": user_id,
                "expires_at": expires_at,
                "created_at": created_at,
            },
        )

    def end_session(self, token_hash: str, now: datetime) -> None:
        self._conn.execute(
            sessions.update()
            .where(sessions.c.token_hash == token_hash, sessions.c.expires_at > now)
            .values(expires_at=now)
        )

    def session_user(self, token_hash: str, now: datetime) -> str | None:
        parameters = {"hash": token_hash, "now": now}
        user_id: str | None = self._conn.execute(_SESSION_USER, parameters).scalar()
        return user_id

    def session_times(
        self, token_hash: str, now: datetime
    ) -> tuple[str, datetime, datetime] | None:
        row = self._conn.execute(
            sa.select(sessions.c.user_id, sessions.c.expires_at, sessions.c.created_at).where(
                sessions.c.token_hash == token_hash, sessions.c.expires_at > now
            )
        ).first()
        return None if row is None else (row.user_id, row.expires_at, row.created_at)

    def extend_session(self, token_hash: str, expires_at: datetime, now: datetime) -> None:
        self._conn.execute(
            sessions.update()
            .where(
                sessions.c.token_hash == token_hash,
                sessions.c.expires_at > now,
                sessions.c.expires_at < expires_at,
            )
            .values(expires_at=expires_at)
        )

    def end_sessions_of(self, user_id: str, now: datetime) -> int:
        result = self._conn.execute(
            sessions.update()
            .where(sessions.c.user_id == user_id, sessions.c.expires_at > now)
            .values(expires_at=now)
        )
        return result.rowcount

    # --- PIN tries on the public forms ------------------------------------------------------

    def address_tries(self, subject: str) -> TryWindow | None:
        query = sa.select(address_pin_tries).where(address_pin_tries.c.subject == subject)
        if self._row_locks:
            query = query.with_for_update()
        row = self._conn.execute(query).first()
        return None if row is None else TryWindow(started_at=row.started_at, tries=row.tries)

    def put_address_tries(self, subject: str, window: TryWindow, *, new: bool) -> None:
        values = {"started_at": window.started_at, "tries": window.tries}
        if not new:
            self._conn.execute(
                address_pin_tries.update()
                .where(address_pin_tries.c.subject == subject)
                .values(values)
            )
            return
        try:
            with self._conn.begin_nested():
                self._conn.execute(address_pin_tries.insert(), values | {"subject": subject})
        except sa.exc.IntegrityError as error:
            raise TransientConflict(f"PIN tries of {subject} counted meanwhile") from error

    # --- one-time codes sent by SMS --------------------------------------------------------------

    def get_code(self, phone: str, purpose: str) -> OneTimeCode | None:
        query = sa.select(web_codes).where(
            web_codes.c.phone == phone, web_codes.c.purpose == purpose
        )
        if self._row_locks:
            query = query.with_for_update()
        row = self._conn.execute(query).first()
        if row is None:
            return None
        return OneTimeCode(
            phone=row.phone,
            purpose=row.purpose,
            code_hash=row.code_hash,
            expires_at=row.expires_at,
            tries_left=row.tries_left,
            window_started_at=row.window_started_at,
            sends=row.sends,
        )

    def put_code(self, code: OneTimeCode, *, new: bool) -> None:
        values = {
            "code_hash": code.code_hash,
            "expires_at": code.expires_at,
            "tries_left": code.tries_left,
            "window_started_at": code.window_started_at,
            "sends": code.sends,
        }
        if not new:
            self._conn.execute(
                web_codes.update()
                .where(web_codes.c.phone == code.phone, web_codes.c.purpose == code.purpose)
                .values(values)
            )
            return
        try:
            with self._conn.begin_nested():
                self._conn.execute(
                    web_codes.insert(), values | {"phone": code.phone, "purpose": code.purpose}
                )
        except sa.exc.IntegrityError as error:
            raise TransientConflict(f"a code for {code.phone} kept meanwhile") from error

    def use_code(self, phone: str, purpose: str, code_hash: str) -> bool:
        result = self._conn.execute(
            web_codes.update()
            .where(
                web_codes.c.phone == phone,
                web_codes.c.purpose == purpose,
                web_codes.c.code_hash == code_hash,
            )
            .values(code_hash=None)
        )
        return bool(result.rowcount)

    def unknown_number_pin(self, phone: str) -> PinState | None:
        query = sa.select(unknown_number_pins).where(unknown_number_pins.c.phone == phone)
        if self._row_locks:
            query = query.with_for_update()
        row = self._conn.execute(query).first()
        if row is None:
            return None
        return PinState(
            failures=row.failures,
            checking=row.checking,
            checking_until=row.checking_until,
            locked_until=row.locked_until,
            lock_count=row.lock_count,
        )

    def put_unknown_number_pin(
        self, phone: str, pin: PinState, now: datetime, *, new: bool
    ) -> None:
        values = {
            "failures": pin.failures,
            "checking": pin.checking,
            "checking_until": pin.checking_until,
            "locked_until": pin.locked_until,
            "lock_count": pin.lock_count,
            "updated_at": now,
        }
        if not new:
            self._conn.execute(
                unknown_number_pins.update()
                .where(unknown_number_pins.c.phone == phone)
                .values(values)
            )
            return
        try:
            with self._conn.begin_nested():
                self._conn.execute(unknown_number_pins.insert(), values | {"phone": phone})
        except sa.exc.IntegrityError as error:
            raise TransientConflict(f"PIN tries of {phone} counted meanwhile") from error

    def forget_pin_tries(self, before: datetime, limit: int) -> int:
        forgotten = 0
        for table, column in (
            (address_pin_tries, address_pin_tries.c.started_at),
            (unknown_number_pins, unknown_number_pins.c.updated_at),
        ):
            key = next(iter(table.primary_key.columns))
            oldest = sa.select(key).where(column < before).limit(limit).scalar_subquery()
            result = self._conn.execute(table.delete().where(key.in_(oldest)))
            forgotten += result.rowcount
        # Codes whose window of sends and whose code are both long over.
        pair = sa.tuple_(web_codes.c.phone, web_codes.c.purpose)
        over = (
            sa.select(web_codes.c.phone, web_codes.c.purpose)
            .where(web_codes.c.window_started_at < before, web_codes.c.expires_at < before)
            .limit(limit)
        )
        result = self._conn.execute(web_codes.delete().where(pair.in_(over)))
        return forgotten + result.rowcount

    # --- a wallet's payments, for reports (sales, commissions, a repeated payment) ----------------

    def payments_of(
        self, wallet_id: str, *, role: Role, kinds: Collection[str], since: datetime, limit: int
    ) -> list[Payment]:
        query = (
            sa.select(payments)
            .where(_on_side(wallet_id, role), payments.c.kind.in_(sorted(kinds)),
                   payments.c.created_at >= since)
            .order_by(payments.c.created_at.desc(), payments.c.id.desc())
            .limit(limit)
        )  # fmt: skip
        return [payment_from_row(row) for row in self._conn.execute(query)]

    def payment_totals(
        self, wallet_id: str, *, role: Role, kinds: Collection[str], since: datetime
    ) -> tuple[int, int, int]:
        query = sa.select(
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(payments.c.amount), 0),
            sa.func.coalesce(sa.func.sum(payments.c.commission), 0),
        ).where(
            _on_side(wallet_id, role),
            payments.c.kind.in_(sorted(kinds)),
            payments.c.created_at >= since,
        )
        count, amount, commission = self._conn.execute(query).one()
        return int(count), int(amount), int(commission)

    # --- USSD sessions ----------------------------------------------------------------------------

    def get_ussd_session(self, session_id: str) -> UssdSession | None:
        query = sa.select(ussd_sessions).where(ussd_sessions.c.id == session_id)
        row = self._conn.execute(query).first()
        return None if row is None else _ussd_session(row)

    def last_ussd_session(self, phone: str, since: datetime) -> UssdSession | None:
        query = (
            sa.select(ussd_sessions)
            .where(ussd_sessions.c.phone == phone, ussd_sessions.c.updated_at >= since)
            .order_by(ussd_sessions.c.updated_at.desc(), ussd_sessions.c.id.desc())
            .limit(1)
        )
        row = self._conn.execute(query).first()
        return None if row is None else _ussd_session(row)

    def save_ussd_session(self, session: UssdSession) -> None:
        values = {
            "phone": session.phone,
            "origin_id": session.origin_id,
            "resumed_path": session.resumed_path,
            "offered": int(session.offered),
            "path": session.path,
            "result": session.result,
            "result_inputs": session.result_inputs,
            "updated_at": session.updated_at,
        }
        updated = self._conn.execute(
            ussd_sessions.update().where(ussd_sessions.c.id == session.id).values(values)
        )
        if not updated.rowcount:
            try:
                with self._conn.begin_nested():
                    self._conn.execute(ussd_sessions.insert(), values | {"id": session.id})
            except sa.exc.IntegrityError as error:
                # Two requests of one session at once: the transaction retries as an update.
                raise TransientConflict("ussd session inserted meanwhile") from error
        # A session is of use for minutes: forget the phone's sessions of the days before.
        self._conn.execute(
            ussd_sessions.delete().where(
                ussd_sessions.c.phone == session.phone,
                ussd_sessions.c.updated_at < session.updated_at - _USSD_KEPT,
            )
        )


def _user_values(user: User, pin_hash: str | None) -> dict[str, Any]:
    return {
        "id": user.id,
        "kind": user.kind.value,
        "phone": user.phone,
        "name": user.name,
        "country": user.country,
        "kyc_tier": user.kyc_tier,
        "national_id": user.national_id,
        "pin_hash": pin_hash,
        **_pin_values(user.pin),
        "language": user.language,
    }


def _pin_values(pin: PinState) -> dict[str, Any]:
    return {
        "pin_failures": pin.failures,
        "pin_checking": pin.checking,
        "pin_checking_until": pin.checking_until,
        "pin_locked_until": pin.locked_until,
        "pin_lock_count": pin.lock_count,
    }


def _user(row: Row[Any]) -> User:
    return User(
        id=row.id,
        kind=UserKind(row.kind),
        phone=row.phone,
        name=row.name,
        country=row.country,
        kyc_tier=row.kyc_tier,
        national_id=row.national_id,
        pin=PinState(
            failures=row.pin_failures,
            checking=row.pin_checking,
            checking_until=row.pin_checking_until,
            locked_until=row.pin_locked_until,
            lock_count=row.pin_lock_count,
        ),
        has_pin=row.pin_hash is not None,
        language=row.language,
    )


def _on_side(wallet_id: str, role: Role) -> sa.ColumnElement[bool]:
    payer = payments.c.payer_wallet_id == wallet_id
    payee = payments.c.payee_wallet_id == wallet_id
    return payer if role == "payer" else payee if role == "payee" else sa.or_(payer, payee)


def _ussd_session(row: Row[Any]) -> UssdSession:
    return UssdSession(
        id=row.id,
        phone=row.phone,
        origin_id=row.origin_id,
        resumed_path=row.resumed_path,
        offered=bool(row.offered),
        path=row.path,
        result=row.result,
        result_inputs=row.result_inputs,
        updated_at=row.updated_at,
    )


def _merchant(row: Row[Any]) -> Merchant:
    return Merchant(
        user_id=row.user_id,
        trading_name=row.trading_name,
        category_code=row.category_code,
        settlement_currency=row.settlement_currency,
        till_number=row.till_number,
        open_loan_id=row.open_loan_id,
        city=row.city,
    )


def _wallet(row: Row[Any]) -> Wallet:
    return Wallet(id=row.id, user_id=row.user_id, currency=row.currency, account_id=row.account_id)


def payment_from_row(row: Row[Any]) -> Payment:
    return Payment(
        id=row.id,
        kind=PaymentKind(row.kind),
        currency=row.currency,
        amount=row.amount,
        fee=row.fee,
        commission=row.commission,
        payer_wallet_id=row.payer_wallet_id,
        payee_wallet_id=row.payee_wallet_id,
        payee_phone=row.payee_phone,
        message=row.message,
        hold_id=row.hold_id,
        fee_hold_id=row.fee_hold_id,
        created_at=row.created_at,
        refunded=row.refunded,
        fee_refunded=row.fee_refunded,
        target_currency=row.target_currency,
        target_amount=row.target_amount,
    )
