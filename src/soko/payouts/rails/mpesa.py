"""The M-Pesa payout rail: B2C payments through Daraja, answered asynchronously.

`submit` sends a B2C payment whose OriginatorConversationID is the payout id, after writing it
in the rail's own books (`mpesa_b2c_payouts`, its own short transactions, never ours). A payout
already in the books is never sent again, whatever became of the first call: real Daraja does
not promise to deduplicate by OriginatorConversationID, so a second send could pay twice.

Daraja answers by POSTing a Result (or a queue timeout) to Soko's callback routes, which hand it
to this rail (`record_result`, `record_timeout`); the payouts worker's next `status` call reads
the books and settles the payout through payouts' own settle path. A payout with no answer after
`status_after_seconds` is asked about with a transaction status query by its
OriginatorConversationID; that query's Result arrives the same way (`record_status`).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from soko.kernel.ports import Clock
from soko.ledger.chart import AccountCode
from soko.payouts.domain import Destination, MobileMoney, RailOutcome, RailStatus, failure_reason
from soko.payouts.ports import PayoutRailUnavailable
from soko.payouts.tables import mpesa_b2c_payouts as books
from soko.rails.mpesa.callbacks import B2CResult, QueueTimeout, TransactionStatusResult
from soko.rails.mpesa.daraja import (
    DarajaClient,
    DarajaOutcomeUnknown,
    DarajaRejected,
    DarajaUnavailable,
)

log = logging.getLogger("soko.payouts.mpesa")

#: M-Pesa's B2C limits, in cents: KES 10 to KES 250,000, whole shillings.
B2C_MINOR_MIN: Final = 10_00
B2C_MINOR_MAX: Final = 250_000_00
#: States in which M-Pesa's answer is still awaited.
_OPEN: Final = ("sending", "submitted", "unknown")
#: What transaction status says of a B2C payment that did not pay (and never will).
_FAILED_STATUSES: Final = frozenset({"failed", "expired", "cancelled", "declined"})


class MpesaPayoutRail:
    """Pays merchants out to M-Pesa numbers by B2C, from the short code's float."""

    name = "mpesa"

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        daraja: DarajaClient,
        *,
        shortcode: str,
        status_after_seconds: int,
    ) -> None:
        assert status_after_seconds >= 0, status_after_seconds
        self._engine = engine
        self._clock = clock
        self._daraja = daraja
        self._shortcode = shortcode
        self._status_after = timedelta(seconds=status_after_seconds)
        #: The M-Pesa float of this short code: payouts' holds credit it, as B2C money leaves it.
        self.ledger_account: tuple[AccountCode, str | None] = (AccountCode.MPESA_FLOAT, shortcode)

    # --- PayoutRail ---

    def submit(self, payout_id: str, amount: int, currency: str, destination: Destination) -> str:
        now = self._clock.now()
        refusal = _refusal(amount, currency, destination)
        phone = destination.phone.removeprefix("+") if isinstance(destination, MobileMoney) else ""
        try:
            with self._engine.begin() as connection:
                if connection.execute(sa.select(books.c.state).where(
                        books.c.payout_id == payout_id)).first() is not None:  # fmt: skip
                    # Sent before (its answer may have been lost): never send it again.
                    return payout_id
                connection.execute(
                    books.insert(),
                    {
                        "payout_id": payout_id,
                        "shortcode": self._shortcode,
                        "phone": phone[:12] or "-",
                        "amount": amount,
                        "state": "failed" if refusal else "sending",
                        "reason": refusal,
                        "submitted_at": now,
                        "updated_at": now,
                    },
                )
        except sa.exc.IntegrityError:
            return payout_id  # another worker wrote it first: it sends, not us
        except sa.exc.DBAPIError as error:
            raise PayoutRailUnavailable(f"mpesa rail books: {error.orig}") from error
        if refusal:
            return payout_id
        try:
            accepted = self._daraja.b2c_payment(
                originator_conversation_id=payout_id,
                amount_minor=amount,
                phone=phone,
                remarks="Soko payout",
                occasion=payout_id,
            )
        except DarajaOutcomeUnknown as error:
            log.warning("payout %s: B2C answer lost (%s); a status query settles it",
                        payout_id, error.reason)  # fmt: skip
            self._update(payout_id, ("sending",), state="unknown")
        except DarajaRejected as error:
            reason = failure_reason(f"M-Pesa refused: {error.error_message}")
            self._update(payout_id, ("sending",), state="failed", result_code=error.error_code,
                         reason=reason)  # fmt: skip
        except DarajaUnavailable as error:
            # Surely never reached Daraja: forget it, so the next try sends it.
            with self._engine.begin() as connection:
                connection.execute(
                    books.delete().where(books.c.payout_id == payout_id, books.c.state == "sending")
                )
            raise PayoutRailUnavailable(f"mpesa rail: {error}") from error
        else:
            # A Result may have come first; then the books already hold the outcome.
            self._update(payout_id, ("sending",), state="submitted",
                         conversation_id=accepted.conversation_id or None)  # fmt: skip
        return payout_id

    def status(self, reference: str) -> RailStatus:
        row = self._row(reference)
        assert row is not None, f"mpesa rail has no payout {reference}"
        if row.state == "paid":
            return RailStatus(RailOutcome.PAID)
        if row.state == "failed":
            return RailStatus(RailOutcome.FAILED, row.reason)
        asked = row.status_asked_at or row.submitted_at
        if self._clock.now() - asked >= self._status_after:
            self._ask_status(reference)
        return RailStatus(RailOutcome.PENDING)

    def _ask_status(self, payout_id: str) -> None:
        try:
            accepted = self._daraja.transaction_status(originator_conversation_id=payout_id)
        except (DarajaUnavailable, DarajaRejected) as error:
            raise PayoutRailUnavailable(f"mpesa status query: {error}") from error
        self._update(payout_id, _OPEN, status_query_id=accepted.originator_conversation_id,
                     status_asked_at=self._clock.now())  # fmt: skip

    # --- the callback inbox (soko.deposits.ports.B2CInbox) ---

    def record_result(self, result: B2CResult) -> bool:
        header = result.header
        row = self._row(header.originator_conversation_id)
        if row is None:
            return False
        if result.paid is not None:
            if result.paid.amount_minor != row.amount:
                log.warning("payout %s: a Result for %s cents, not %s; ignored",
                            row.payout_id, result.paid.amount_minor, row.amount)  # fmt: skip
                return False
            return self._update(row.payout_id, _OPEN, state="paid", receipt=result.paid.receipt,
                                result_code=header.result_code)  # fmt: skip
        reason = failure_reason(f"M-Pesa {header.result_code}: {header.result_desc}")
        return self._update(row.payout_id, _OPEN, state="failed", result_code=header.result_code,
                            reason=reason)  # fmt: skip

    def record_timeout(self, timeout: QueueTimeout) -> bool:
        row = self._row(timeout.originator_conversation_id)
        if row is None:
            return False
        # Expired in M-Pesa's queue: never processed, so nothing was paid.
        reason = failure_reason(f"M-Pesa queue timeout: {timeout.result_desc or 'not processed'}")
        return self._update(row.payout_id, _OPEN, state="failed", result_code=timeout.result_code,
                            reason=reason)  # fmt: skip

    def record_status(self, result: TransactionStatusResult) -> bool:
        header = result.header
        with self._engine.connect() as connection:
            row = connection.execute(
                sa.select(books).where(books.c.status_query_id == header.originator_conversation_id)
            ).first()
        found = result.found
        if row is None and found is not None and found.original_originator_conversation_id:
            row = self._row(found.original_originator_conversation_id)
        if row is None:
            return False
        if found is None:
            # M-Pesa has no such transaction. One whose request may never have arrived is
            # failed; one Daraja accepted is still in its queue: its Result or timeout decides.
            if row.state in ("sending", "unknown"):
                reason = failure_reason(f"not found at M-Pesa ({header.result_desc})")
                return self._update(row.payout_id, ("sending", "unknown"), state="failed",
                                    result_code=header.result_code, reason=reason)  # fmt: skip
            return False
        status = found.status.strip().lower()
        if status == "completed" and found.amount_minor == row.amount:
            return self._update(row.payout_id, _OPEN, state="paid", receipt=found.receipt,
                                result_code=header.result_code)  # fmt: skip
        if status in _FAILED_STATUSES:
            return self._update(row.payout_id, _OPEN, state="failed",
                                reason=failure_reason(f"M-Pesa says {found.status}"))  # fmt: skip
        return False

    def paid_receipts(self) -> list[tuple[str, int]]:
        with self._engine.connect() as connection:
            rows = connection.execute(
                sa.select(books.c.receipt, books.c.amount).where(
                    books.c.state == "paid", books.c.shortcode == self._shortcode
                )
            ).all()
        return [(row.receipt, row.amount) for row in rows]

    # --- books ---

    def _row(self, payout_id: str) -> Any:
        try:
            with self._engine.connect() as connection:
                return connection.execute(
                    sa.select(books).where(books.c.payout_id == payout_id)
                ).first()
        except sa.exc.DBAPIError as error:
            raise PayoutRailUnavailable(f"mpesa rail books: {error.orig}") from error

    def _update(self, payout_id: str, states: tuple[str, ...], **values: object) -> bool:
        values["updated_at"] = self._clock.now()
        with self._engine.begin() as connection:
            result = connection.execute(
                books.update()
                .where(books.c.payout_id == payout_id, books.c.state.in_(states))
                .values(**values)
            )
        return result.rowcount == 1


def _refusal(amount: int, currency: str, destination: Destination) -> str | None:
    """Why M-Pesa could never pay this payout (it fails at once, the money back), or None."""
    if not isinstance(destination, MobileMoney):
        return "M-Pesa pays mobile numbers only, not bank accounts"
    if currency != "KES" or not destination.phone.startswith("+254"):
        return "M-Pesa pays Kenyan numbers in KES only"
    if amount % 100 or not B2C_MINOR_MIN <= amount <= B2C_MINOR_MAX:
        return "M-Pesa pays whole shillings from KES 10 to KES 250,000"
    return None
