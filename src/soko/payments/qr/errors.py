"""Errors reading EMVCo merchant-presented QR codes.

The hierarchy (the kinds are in soko/kernel/errors.py)::

    DomainError
    ├── InvalidInput                 kind=invalid
    │   └── QrMalformed, QrChecksumInvalid, QrCurrencyUnknown, QrFieldInvalid
    └── Rejected                     kind=rejected
        └── QrNotPayable
"""

from __future__ import annotations

from soko.kernel.errors import InvalidInput, Rejected

# --- EMVCo merchant-presented QR codes (payments/qr/domain.py) ---------------------------------


class QrMalformed(InvalidInput):
    code = "qr_malformed"
    title = "The QR payload breaks an EMVCo rule (structure, field format or a required field)."


class QrChecksumInvalid(InvalidInput):
    code = "qr_checksum_invalid"
    title = "The QR payload's CRC (tag 63) does not match its content: it was damaged or altered."


class QrCurrencyUnknown(InvalidInput):
    code = "qr_currency_unknown"
    title = "The QR code's currency (tag 53) is not an ISO 4217 numeric code Soko knows."


class QrFieldInvalid(InvalidInput):
    code = "qr_field_invalid"
    title = "A value does not fit its EMVCo QR field (characters or length)."


class QrNotPayable(Rejected):
    code = "qr_not_payable"
    title = "The QR code is valid EMVCo but carries no merchant account of this operator."
