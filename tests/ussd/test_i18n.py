"""The catalogues: every text the USSD channel shows has its translation in every language, with
the same facts to fill in, in letters a feature phone shows (GSM 7-bit)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file

from soko.channels import i18n
from soko.channels.ussd import menus, messages
from soko.kernel.money import Money
from soko.notify.sms import gsm7_septets

USSD_MODULES = [Path(menus.__file__), Path(messages.__file__)]
PLACEHOLDER = re.compile(r"\{\w+\}")


def texts() -> set[str]:
    """Every text marked in the USSD modules with `_(...)` or `N_(...)`, and the error table."""
    found = {
        message
        for module in USSD_MODULES
        for _, message, _, _ in extract_from_file(
            "python", str(module), keywords={"_": None, "N_": None}
        )
        if isinstance(message, str)
    }
    return found | set(messages.SCREENS.values())


@pytest.mark.parametrize("language", [code for code in i18n.LANGUAGES if code != i18n.SOURCE])
def test_every_text_is_translated_with_the_same_facts_in_gsm7(language: str) -> None:
    catalogue = i18n.catalogue(language)
    wanted = texts()
    assert len(wanted) > 150
    missing = wanted - set(catalogue)
    assert not missing, missing
    for text in wanted:
        translated = catalogue[text]
        assert sorted(PLACEHOLDER.findall(translated)) == sorted(PLACEHOLDER.findall(text)), text
        assert gsm7_septets(translated) is not None, translated
        assert translated.endswith(".") == text.endswith("."), (text, translated)


def test_a_text_without_translation_stays_in_english() -> None:
    assert i18n.translator("sw")("Not a text Soko has") == "Not a text Soko has"
    assert i18n.translator("zz")("My orders") == "My orders"
    assert i18n.translator("sw")("My orders") == "Oda zangu"


@pytest.mark.parametrize(
    ("amount", "currency", "language", "shown"),
    [
        ("1500", "KES", "en", "KES 1,500.00"),
        ("1500.5", "KES", "sw", "KES 1,500.50"),
        ("-20000", "UGX", "sw", "UGX -20,000"),
        ("1234567.891", "KWD", "en", "KWD 1,234,567.891"),
        # French groups with a narrow no-break space: a plain one, so it fits an SMS.
        ("1500.5", "EUR", "fr", "EUR 1 500,50"),
    ],
)
def test_money_is_shown_the_local_way_and_never_rounded(
    amount: str, currency: str, language: str, shown: str
) -> None:
    assert i18n.format_money(Money.parse(amount, currency), language) == shown


def test_each_country_has_its_default_and_every_language_is_offered() -> None:
    assert i18n.default_language("TZ") == "sw"
    assert i18n.default_language("KE") == i18n.default_language("UG") == "en"
    assert i18n.default_language("NG") == "en"
    for country in ("KE", "TZ", "UG", "NG", None):
        assert set(i18n.languages_for(country)) == set(i18n.LANGUAGES)
