"""Every maximum Soko enforces, in one place (TigerBeetle style: a bound on every loop)."""

from __future__ import annotations

from typing import Final

#: Amounts and ledger counters are signed 64-bit integers of minor units (BIGINT columns).
AMOUNT_MINOR_MAX: Final = 2**63 - 1

#: Transfers posted atomically in one batch (TigerBeetle's own batch limit is 8189).
TRANSFERS_PER_BATCH_MAX: Final = 8189

#: The longest a pending transfer may be held before it expires: one year.
PENDING_TIMEOUT_SECONDS_MAX: Final = 366 * 24 * 3600

#: Pending transfers expired by one call of the expiry job.
EXPIRIES_PER_BATCH_MAX: Final = 500

#: Page sizes for every list.
PAGE_SIZE_DEFAULT: Final = 50
PAGE_SIZE_MAX: Final = 500

#: Attempts of one transaction that hits a serialization failure or deadlock before giving up.
TRANSACTION_ATTEMPTS_MAX: Final = 25

#: Idempotency keys: length bound, and how long a stored response is kept.
IDEMPOTENCY_KEY_LENGTH_MAX: Final = 255
IDEMPOTENCY_KEY_RETENTION_SECONDS: Final = 7 * 24 * 3600
IDEMPOTENCY_KEYS_FORGOTTEN_PER_BATCH_MAX: Final = 1000

#: Characters in an amount's decimal text ("1500.50"), checked before any conversion.
AMOUNT_TEXT_LENGTH_MAX: Final = 40

#: Accounts locked by one precompiled statement (storage/driver.py); more take several.
ACCOUNTS_LOCKED_PER_STATEMENT_MAX: Final = 16

#: Free-text references on transfers.
REFERENCE_LENGTH_MAX: Final = 64

#: Problems listed by one `soko reconcile` report section before it says "and N more".
RECONCILE_PROBLEMS_SHOWN_MAX: Final = 50
