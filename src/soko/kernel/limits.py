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
#: Wrong PINs in a row that lock the PIN (ADR 0019). Each lock lasts the next of these times,
#: the last one for every further lock, until a right PIN (or an operator) starts again.
PIN_ATTEMPTS_MAX: Final = 5
PIN_LOCK_SECONDS: Final = (15 * 60, 3600, 24 * 3600)
#: A try counted before its hash is checked, and never answered (its process died), counts as
#: wrong after this long; until then it holds its place among the tries a lock allows.
PIN_CHECK_SECONDS_MAX: Final = 30
#: Wrong PINs (and numbers without an account) one client address may try on the public forms
#: and POST /v1/sessions in one window; a number without an account takes PIN_ATTEMPTS_MAX wrong
#: tries per window, as a number with one does before its first lock.
PIN_TRIES_WINDOW_SECONDS: Final = 15 * 60
PIN_TRIES_PER_ADDRESS_MAX: Final = 20
#: The longest subject a try window is kept under ("address:" and an IPv6 address, "phone:" and
#: an E.164 number).
PIN_TRY_SUBJECT_LENGTH_MAX: Final = 64
#: Address windows and unknown numbers' PIN states one worker tick forgets, of each.
PIN_TRIES_FORGOTTEN_PER_BATCH_MAX: Final = 1000
#: A user session (bearer token) lives this long.
SESSION_SECONDS_MAX: Final = 15 * 60
#: A web app session slides while in use: it ends after this long without a page, and at the
#: latest this long after signing in. It is extended only once less than half the idle window
#: remains, so a busy person's pages do not each write to the database.
WEB_SESSION_IDLE_SECONDS: Final = 30 * 60
WEB_SESSION_SECONDS_MAX: Final = 12 * 3600
#: One-time codes sent by SMS (signing up, a forgotten PIN): their digits, how long one is good
#: for, the tries one code allows, and how many are sent to one number in an hour.
CODE_DIGITS: Final = 6
CODE_SECONDS: Final = 10 * 60
CODE_TRIES_MAX: Final = 5
CODE_SENDS_PER_WINDOW_MAX: Final = 3
CODE_SENDS_WINDOW_SECONDS: Final = 3600
#: Payment requests: the merchant's reference fits the EMV QR "reference label" (25 characters);
#: a request may be paid from a minute to 30 days after it is made (default a day).
PAYMENT_REQUEST_REFERENCE_LENGTH_MAX: Final = 25
PAYMENT_REQUEST_SECONDS_MIN: Final = 60
PAYMENT_REQUEST_SECONDS_MAX: Final = 30 * 24 * 3600
PAYMENT_REQUEST_SECONDS_DEFAULT: Final = 24 * 3600
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

#: EMVCo merchant-presented QR codes (payments/qr/domain.py): the longest payload read, the EMV
#: QRCPS limit of 512 characters, checked before any parsing. The per-field lengths (name 25,
#: city 15, amount 13...) are the format's own and live with it in payments/qr/domain.py.
QR_PAYLOAD_LENGTH_MAX: Final = 512

#: The API: the largest request body read (every request is a small JSON object), and the field
#: errors listed in one `request_invalid` problem.
REQUEST_BODY_BYTES_MAX: Final = 64 * 1024
FIELD_ERRORS_SHOWN_MAX: Final = 20

#: Webhooks. Endpoints one merchant may register; the longest URL; the largest event body.
WEBHOOK_ENDPOINTS_PER_OWNER_MAX: Final = 10
WEBHOOK_URL_LENGTH_MAX: Final = 2048
WEBHOOK_EVENT_BODY_BYTES_MAX: Final = 16 * 1024
#: Random bytes in an endpoint's signing secret (Standard Webhooks allows 24 to 64).
WEBHOOK_SECRET_BYTES: Final = 32
#: Retries: the n-th failed attempt waits about min(cap, base * 2^(n-1)) (equal jitter: half of
#: it fixed, half random), and the delivery is dead after the last attempt. 15 attempts span
#: about a day and a half: a receiver down overnight still gets its events.
WEBHOOK_ATTEMPTS_MAX: Final = 15
WEBHOOK_RETRY_BASE_SECONDS: Final = 30
WEBHOOK_RETRY_CAP_SECONDS: Final = 6 * 3600
#: One POST: seconds to connect, and again to send or to wait for each read.
WEBHOOK_TIMEOUT_SECONDS: Final = 5
#: Deliveries one worker claims per transaction, and how long the claim hides them from other
#: workers: longer than the batch can take to send, so a slow batch is not sent twice; a crashed
#: worker's claim runs out and another worker sends them.
WEBHOOK_DELIVERIES_PER_BATCH_MAX: Final = 20
WEBHOOK_LEASE_SECONDS: Final = 4 * WEBHOOK_DELIVERIES_PER_BATCH_MAX * WEBHOOK_TIMEOUT_SECONDS
#: Bytes of a receiver's reply read, and characters of an error kept on the delivery.
WEBHOOK_RESPONSE_BYTES_MAX: Final = 4096
DELIVERY_ERROR_LENGTH_MAX: Final = 200

#: SMS: one message (GSM-7 septets; 70 characters outside GSM-7), attempts and their schedule,
#: and the batch one worker claims.
SMS_SEPTETS_MAX: Final = 160
SMS_UCS2_UNITS_MAX: Final = 70
SMS_ATTEMPTS_MAX: Final = 6
SMS_RETRY_BASE_SECONDS: Final = 30
SMS_RETRY_CAP_SECONDS: Final = 3600
SMS_TIMEOUT_SECONDS: Final = 10
SMS_PER_BATCH_MAX: Final = 50
SMS_LEASE_SECONDS: Final = 4 * SMS_PER_BATCH_MAX * SMS_TIMEOUT_SECONDS

#: Payouts. A destination: bank codes (clearing codes to 11-character BICs) and account numbers
#: (an IBAN is at most 34); a rail's failure reason as kept and shown.
BANK_CODE_LENGTH_MIN: Final = 2
BANK_CODE_LENGTH_MAX: Final = 11
BANK_ACCOUNT_NUMBER_LENGTH_MIN: Final = 5
BANK_ACCOUNT_NUMBER_LENGTH_MAX: Final = 34
PAYOUT_FAILURE_REASON_LENGTH_MAX: Final = 100
#: Payouts one worker claims per tick, and how long a claim hides them from other workers:
#: longer than the rail calls of a whole batch can take, so a live worker keeps its payouts; a
#: killed worker's claim runs out and another takes over (SOKO_PAYOUT_LEASE_SECONDS).
PAYOUTS_PER_TICK_MAX: Final = 20
PAYOUT_LEASE_SECONDS: Final = 120
PAYOUT_LEASE_SECONDS_MAX: Final = 3600
#: Status polls space out from the minimum, doubling, up to the maximum; after a rail error the
#: next try waits from the retry minimum, doubling, up to its cap.
PAYOUT_POLL_SECONDS_MIN: Final = 1
PAYOUT_POLL_SECONDS_MAX: Final = 300
PAYOUT_RETRY_SECONDS_MIN: Final = 5
PAYOUT_RETRY_SECONDS_MAX: Final = 900
#: The sandbox rail completes a payout this long after it was submitted
#: (SOKO_SANDBOX_PAYOUT_SECONDS), at most a day.
SANDBOX_PAYOUT_SECONDS: Final = 30
SANDBOX_PAYOUT_SECONDS_MAX: Final = 24 * 3600

#: Escrow. The buyer has this long after delivery to dispute before the money is released (the
#: default of SOKO_ESCROW_INSPECTION_SECONDS; Alipay's guaranteed trade gives about ten days
#: after shipping, we count from delivery), and the carrier this long after the ship-by date
#: to deliver (SOKO_ESCROW_DELIVERY_SECONDS).
ESCROW_INSPECTION_SECONDS: Final = 3 * 24 * 3600
ESCROW_DELIVERY_SECONDS: Final = 14 * 24 * 3600
#: A ship-by date is at most this far ahead.
ESCROW_SHIP_BY_SECONDS_MAX: Final = 90 * 24 * 3600
#: Items on one order, their names, and the quantity of one item.
ESCROW_ITEMS_MAX: Final = 50
ESCROW_ITEM_NAME_LENGTH_MAX: Final = 80
ESCROW_ITEM_QUANTITY_MAX: Final = 100_000
#: Digits of a delivery code, and wrong codes before it locks.
DELIVERY_CODE_DIGITS: Final = 6
DELIVERY_CODE_ATTEMPTS_MAX: Final = 5
#: A dispute's message and seller's answer, its evidence references.
DISPUTE_TEXT_LENGTH_MAX: Final = 1000
DISPUTE_EVIDENCE_MAX: Final = 20
DISPUTE_EVIDENCE_LENGTH_MAX: Final = 200
#: Orders whose timer one worker tick runs, each in its own transaction.
ESCROW_TIMERS_PER_BATCH_MAX: Final = 100

#: Shipments and carriers. A carrier's code (a lowercase slug), a tracking number, and the id a
#: carrier (or an operator) gives a tracking event.
CARRIER_CODE_LENGTH_MIN: Final = 2
CARRIER_CODE_LENGTH_MAX: Final = 32
TRACKING_NUMBER_LENGTH_MAX: Final = 40
CARRIER_EVENT_ID_LENGTH_MAX: Final = 128
#: A carrier's webhook: how far its webhook-timestamp may be from our clock, either way (Standard
#: Webhooks' tolerance: a captured request cannot be replayed later), the largest body read, and
#: the signatures looked at in one webhook-signature header (more than one while rotating).
CARRIER_CLOCK_TOLERANCE_SECONDS: Final = 5 * 60
CARRIER_EVENT_BODY_BYTES_MAX: Final = 4096
CARRIER_SIGNATURES_MAX: Final = 5
#: A tracking event happened at most this long ago (an older date is a typo).
TRACKING_EVENT_AGE_SECONDS_MAX: Final = 366 * 24 * 3600
#: Tracking events shown with a shipment: its latest ones (a parcel has a dozen or so).
TRACKING_EVENTS_SHOWN_MAX: Final = 100

#: USSD (channels/ussd/). A screen is at most 160 GSM-7 characters, "CON " or "END " included
#: (a USSD message holds 182, but some networks and handsets show only 160); the aggregator's
#: `text` (every input of the session joined by "*") and the number of inputs in it are
#: bounded, so a replayed dialogue stays cheap; a session id and a service code are at most this
#: long; "My orders" lists at most this many open orders a page ("9 More" shows the next).
USSD_SCREEN_CHARS_MAX: Final = 160
USSD_TEXT_LENGTH_MAX: Final = 500
USSD_INPUTS_MAX: Final = 30
USSD_SESSION_ID_LENGTH_MAX: Final = 128
USSD_SERVICE_CODE_LENGTH_MAX: Final = 32
USSD_ORDERS_SHOWN_MAX: Final = 5
#: A dial dropped mid-flow can be resumed by dialling again within this many seconds.
USSD_RESUME_SECONDS: Final = 180
#: The same amount to the same party again within this many seconds asks "Send again?" first.
USSD_REPEAT_SECONDS: Final = 300
#: A mini-statement shows this many movements.
USSD_STATEMENT_ENTRIES: Final = 5
#: "Last payments" on the merchant menu shows this many.
USSD_LAST_PAYMENTS: Final = 3
#: The shared token an aggregator authenticates with (SOKO_USSD_TOKEN) is at least this long.
USSD_TOKEN_LENGTH_MIN: Final = 16

# --- merchant credit ----------------------------------------------------------------------------

#: The most instalments a loan may be split into (ten years of weekly ones).
LOAN_INSTALMENTS_MAX: Final = 520
#: Active loans the worker reads per batch when it collects what is due.
LOANS_PER_BATCH_MAX: Final = 200
#: Repayments shown with a loan, newest first.
LOAN_REPAYMENTS_SHOWN_MAX: Final = 100
#: Loans the portfolio report reads at most (beyond this it needs a report table).
PORTFOLIO_LOANS_MAX: Final = 100_000
#: FX (soko/fx/). How long a quote may be accepted (SOKO_FX_QUOTE_SECONDS: 5 minutes by default;
#: long enough to read it on a phone, short enough that the rate under it has hardly moved), the
#: oldest rate the setting SOKO_FX_RATE_MAX_AGE_SECONDS may allow, and rows in a positions report.
FX_QUOTE_SECONDS_DEFAULT: Final = 300
FX_QUOTE_SECONDS_MIN: Final = 10
FX_QUOTE_SECONDS_MAX: Final = 3600
FX_RATE_MAX_AGE_SECONDS_MAX: Final = 31 * 24 * 3600
#: Rates shown by GET /v1/fx/rates: the newest of each pair, at most this many pairs.
FX_RATES_SHOWN_MAX: Final = 1000
#: How long fetching the rate file at SOKO_FX_RATES_URL may take (soko/fx/rate_feed.py).
FX_RATE_FEED_TIMEOUT_SECONDS: Final = 20
