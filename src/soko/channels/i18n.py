"""Languages for the channels: the kernel's catalogues and money format, under their first name.

The catalogues moved to `soko.kernel.i18n` so that features can write SMS texts in the reader's
language (ADR 0021); the channels keep importing them from here.
"""

from __future__ import annotations

from soko.kernel.i18n import (
    COUNTRY_LANGUAGES,
    DOMAIN,
    LANGUAGES,
    LOCALE_DIR,
    NAMES,
    SOURCE,
    Translate,
    Wording,
    catalogue,
    default_language,
    format_day,
    format_money,
    format_month,
    format_when,
    language_for,
    languages_for,
    translator,
    wording_for,
)

__all__ = [
    "COUNTRY_LANGUAGES",
    "DOMAIN",
    "LANGUAGES",
    "LOCALE_DIR",
    "NAMES",
    "SOURCE",
    "Translate",
    "Wording",
    "catalogue",
    "default_language",
    "format_day",
    "format_money",
    "format_month",
    "format_when",
    "language_for",
    "languages_for",
    "translator",
    "wording_for",
]
