"""Languages: every channel's and every SMS's words in English and Kiswahili, money the local way.

The words are gettext catalogues, read with babel at start-up from
`channels/locale/<language>/LC_MESSAGES/*.po` (no compile step: the .po is the catalogue). They
live in the kernel so that features can write their SMS texts in the reader's language (features
may not import the channels); `soko.channels.i18n` re-exports every name (ADR 0021).
English is the source language: its msgids are the texts, so it needs no catalogue. A text is
looked up with `translator(language)(text)`, then filled in with `str.format`, so a translation
may put the facts (`{amount}`, `{name}`) in its own order.

Adding a language (French, say): add `locale/fr/LC_MESSAGES/` with a msgstr for every
msgid of the `locale/sw/LC_MESSAGES/*.po` files, and the language's own name to `NAMES`. It is
offered everywhere at once; `COUNTRY_LANGUAGES` decides which countries default to it.
tests/ussd/test_i18n.py, tests/web/test_web_i18n.py and tests/unit/test_sms_texts.py check that
every catalogue translates every text the channels and the SMS use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Final

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

from soko.kernel.money import Money

#: The source language: texts are written in it.
SOURCE: Final = "en"
#: Where the catalogues are: under the channels, where the screens' texts were first written.
LOCALE_DIR: Final = Path(__file__).parent.parent / "channels" / "locale"
DOMAIN: Final = "soko"
#: Each language by its own name, as a language menu lists it.
NAMES: Final = {"en": "English", "sw": "Kiswahili", "fr": "Français"}
#: The languages a country's people are offered, its default first. Kiswahili is the national
#: language of Tanzania and what most there use, so it is Tanzania's default. In Kenya, English
#: is what phone menus and texts use by habit (M-Pesa opens in English), and in Uganda English
#: is the official language and Kiswahili a second one: both default to English with Kiswahili
#: offered. Elsewhere English is the default.
COUNTRY_LANGUAGES: Final = {"KE": ("en", "sw"), "TZ": ("sw", "en"), "UG": ("en", "sw")}

Translate = Callable[[str], str]


def N_(text: str) -> str:  # noqa: N802 - gettext's name for "translated later"
    """Marks a text for the catalogues where it is written; it is translated where shown."""
    return text


def _load() -> dict[str, dict[str, str]]:
    """Every catalogue under LOCALE_DIR: msgid -> msgstr, leaving out untranslated and fuzzy.

    A language's texts may be split over several files (`soko.po` for USSD, `sms.po`, `web.po`
    and one per group of web pages): they are read as one catalogue."""
    catalogues: dict[str, dict[str, str]] = {SOURCE: {}}
    for po in sorted(LOCALE_DIR.glob("*/LC_MESSAGES/*.po")):
        language = po.parent.parent.name
        with po.open("rb") as file:
            catalogue = read_po(file, locale=language, domain=DOMAIN)
        catalogues.setdefault(language, {}).update(
            (str(message.id), str(message.string))
            for message in catalogue
            if message.id and message.string and not message.fuzzy
            and isinstance(message.id, str) and isinstance(message.string, str)
        )  # fmt: skip
    return catalogues


_CATALOGUES: Final = _load()
#: The languages Soko has texts in, the source first.
LANGUAGES: Final = tuple(sorted(_CATALOGUES, key=lambda code: (code != SOURCE, code)))


def catalogue(language: str) -> dict[str, str]:
    """The language's translations, msgid -> msgstr (empty for the source language)."""
    return dict(_CATALOGUES[language])


def translator(language: str) -> Translate:
    """The function that gives each text in `language` (the text itself where it has none)."""
    table = _CATALOGUES.get(language, {})

    def translate(text: str) -> str:
        return table.get(text, text)

    return translate


def languages_for(country: str | None) -> tuple[str, ...]:
    """The languages offered in `country`, its default first; then any other Soko has."""
    preferred = [c for c in COUNTRY_LANGUAGES.get(country or "", (SOURCE,)) if c in LANGUAGES]
    return (*preferred, *(c for c in LANGUAGES if c not in preferred))


def default_language(country: str | None) -> str:
    return languages_for(country)[0]


def language_for(chosen: str | None, country: str | None) -> str:
    """The language to speak: the person's choice if Soko has it, else their country's."""
    return chosen if chosen in _CATALOGUES else default_language(country)


def _locale(language: str, country: str | None) -> Locale:
    for name in (f"{language}_{country}", language, SOURCE):
        try:
            return Locale.parse(name)
        except (UnknownLocaleError, ValueError):
            continue
    raise AssertionError("babel has no English")  # pragma: no cover


#: Spaces some locales group digits with (no-break, narrow no-break): plain spaces instead,
#: so that an amount fits an SMS or a USSD screen (GSM 7-bit has neither).
_SPACES: Final = str.maketrans({"\u00a0": " ", "\u202f": " "})


def format_money(money: Money, language: str, country: str | None = None) -> str:
    """An amount as people read it: the currency code, then the digits grouped the local way,
    with exactly the currency's decimals (`KES 1,500.00`, `UGX 20,000`); never rounded."""
    exponent = money.currency.exponent
    pattern = "#,##0" + ("." + "0" * exponent if exponent else "")
    digits = format_decimal(
        Decimal(money.to_decimal_string()), format=pattern, locale=_locale(language, country),
        decimal_quantization=False,
    )  # fmt: skip
    return f"{money.currency.code} {digits.translate(_SPACES)}"


def format_when(at: datetime, timezone: tzinfo, language: str) -> str:
    """A time in `timezone`, the month in the reader's words: `06 Dec 2026 14:02`,
    `06 Des 2026 14:02`."""
    return format_datetime(at, "dd MMM yyyy HH:mm", tzinfo=timezone, locale=_locale(language, None))


def format_day(day: date, language: str) -> str:
    """A calendar day, the month in the reader's words: `06 Dec 2026`, `06 Des 2026`."""
    return format_date(day, "dd MMM yyyy", locale=_locale(language, None))


def format_month(day: date, language: str) -> str:
    """The month of `day` by its name, as a heading says it: `December 2026`, `Desemba 2026`."""
    return format_date(day, "LLLL yyyy", locale=_locale(language, None))


@dataclass(frozen=True, slots=True)
class Wording:
    """One reader's words: texts in their language, amounts grouped the way their country does."""

    language: str
    country: str | None = None

    def _(self, text: str) -> str:
        return translator(self.language)(text)

    def money(self, amount: Money) -> str:
        return format_money(amount, self.language, self.country)


def wording_for(chosen: str | None, country: str | None) -> Wording:
    """The words for a person who chose `chosen` (or nothing yet) and lives in `country`."""
    return Wording(language_for(chosen, country), country)
