"""Errors of payouts: destinations and the payouts themselves.

The hierarchy (the kinds are in soko/kernel/errors.py)::

    DomainError
    ├── InvalidInput                 kind=invalid
    │   └── BankCodeInvalid, BankAccountNumberInvalid, BankAccountNameInvalid,
    │       MobileMoneyCurrencyMismatch
    └── NotFound                     kind=not_found
        └── PayoutNotFound
"""

from __future__ import annotations

from soko.kernel.errors import InvalidInput, NotFound

# --- payouts ----------------------------------------------------------------------------------


class PayoutNotFound(NotFound):
    code = "payout_not_found"
    title = "The payout does not exist."


class BankCodeInvalid(InvalidInput):
    code = "bank_code_invalid"
    title = "A bank code is 2 to 11 letters and digits (a clearing code or a SWIFT BIC)."


class BankAccountNumberInvalid(InvalidInput):
    code = "bank_account_number_invalid"
    title = "A bank account number is 5 to 34 letters and digits."


class BankAccountNameInvalid(InvalidInput):
    code = "bank_account_name_invalid"
    title = "The account holder's name is 1 to 80 printable characters."


class MobileMoneyCurrencyMismatch(InvalidInput):
    code = "mobile_money_currency_mismatch"
    title = "A mobile-money number receives only its own country's currency."
