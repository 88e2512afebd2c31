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
#: Rows in one CSV statement export (the newest ones).
STATEMENT_CSV_ROWS_MAX: Final = 10_000

#: Attempts of one transaction that hits a serialization failure or deadlock before giving up.
TRANSACTION_ATTEMPTS_MAX: Final = 25

#: Idempotency keys: length bound, and how long a stored response is kept.
IDEMPOTENCY_KEY_LENGTH_MAX: Final = 255
IDEMPOTENCY_KEY_RETENTION_SECONDS: Final = 7 * 24 * 3600
IDEMPOTENCY_KEYS_FORGOTTEN_PER_BATCH_MAX: Final = 1000

#: Characters in an amount's decimal text ("1500.50"), checked before any conversion.
AMOUNT_TEXT_LENGTH_MAX: Final = 40

#: Accounts locked by one precompiled statement (storage/driver.py); more take several.
ACCOUNTS_LOCKED_PER_STATEMENT_MAX: Final = 64

#: Free-text references on transfers.
REFERENCE_LENGTH_MAX: Final = 64

#: Problems listed by one `soko reconcile` report section before it says "and N more".
RECONCILE_PROBLEMS_SHOWN_MAX: Final = 50

#: People.
PHONE_TEXT_LENGTH_MAX: Final = 32
NAME_LENGTH_MAX: Final = 80
NATIONAL_ID_LENGTH_MAX: Final = 32
MESSAGE_LENGTH_MAX: Final = 140
#: Wrong PINs in a row that lock the PIN until an operator unlocks it.
PIN_ATTEMPTS_MAX: Final = 5
#: A user session (bearer token) lives this long.
SESSION_SECONDS_MAX: Final = 15 * 60
#: Money sent to a number with no wallet waits this long for its owner, then goes back
#: (the default of SOKO_UNCLAIMED_TRANSFER_SECONDS, which may not exceed the hold maximum).
UNCLAIMED_TRANSFER_SECONDS: Final = 7 * 24 * 3600
#: Held payments paid out to a number in the transaction that registers it; more wait for its
#: next wallet opening.
CLAIMS_PER_REGISTRATION_MAX: Final = 100

#: KYC limits in MINOR units, per currency, per tier: (per transaction, daily outgoing, monthly
#: outgoing, maximum balance). Tier 0 is phone only, 1 national id recorded, 2 documents
#: verified. Modelled on Kenyan and Ugandan mobile-money tiers; an operator overrides them with
#: SOKO_KYC_LIMITS. A currency missing here cannot be held in a wallet.
KYC_LIMITS: Final[dict[str, dict[int, tuple[int, int, int, int]]]] = {
    "KES": {
        0: (10_000_00, 20_000_00, 50_000_00, 20_000_00),
        1: (70_000_00, 150_000_00, 500_000_00, 100_000_00),
        2: (250_000_00, 500_000_00, 3_000_000_00, 500_000_00),
    },
    "UGX": {
        0: (500_000, 1_000_000, 3_000_000, 1_000_000),
        1: (4_000_000, 8_000_000, 30_000_000, 5_000_000),
        2: (7_000_000, 20_000_000, 100_000_000, 20_000_000),
    },
    "TZS": {
        0: (200_000_00, 400_000_00, 1_000_000_00, 400_000_00),
        1: (1_500_000_00, 3_000_000_00, 10_000_000_00, 2_000_000_00),
        2: (5_000_000_00, 10_000_000_00, 60_000_000_00, 10_000_000_00),
    },
    "RWF": {
        0: (100_000, 200_000, 500_000, 200_000),
        1: (1_000_000, 2_000_000, 6_000_000, 1_500_000),
        2: (2_000_000, 5_000_000, 20_000_000, 5_000_000),
    },
    "NGN": {
        0: (50_000_00, 100_000_00, 300_000_00, 300_000_00),
        1: (200_000_00, 500_000_00, 2_000_000_00, 1_000_000_00),
        2: (5_000_000_00, 10_000_000_00, 50_000_000_00, 20_000_000_00),
    },
    "GHS": {
        0: (1_000_00, 2_000_00, 5_000_00, 2_000_00),
        1: (5_000_00, 15_000_00, 50_000_00, 20_000_00),
        2: (25_000_00, 50_000_00, 250_000_00, 100_000_00),
    },
    "USD": {
        0: (100_00, 200_00, 500_00, 200_00),
        1: (700_00, 1_500_00, 5_000_00, 1_000_00),
        2: (2_500_00, 5_000_00, 30_000_00, 5_000_00),
    },
}

#: The API: the largest request body read (every request is a small JSON object), and the field
#: errors listed in one `request_invalid` problem.
REQUEST_BODY_BYTES_MAX: Final = 64 * 1024
FIELD_ERRORS_SHOWN_MAX: Final = 20
