"""The SMS catalogue: every text a feature sends (marked `N_` outside the channels) has its
translation in every language, with the same facts, in GSM 7-bit, and fits one SMS with the
widest facts it can be given, so that `notify.sms.compose` never has to cut one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file

import soko
from soko.kernel import i18n
from soko.kernel.money import Money
from soko.notify.sms import compose, fits, gsm7_septets

SRC = Path(soko.__file__).parent
PLACEHOLDER = re.compile(r"\{(\w+)\}")
#: The widest value each fact of a text takes (an amount of a billion, a name at its cut width,
#: the whole id of a loan, an offer or a payout, a bank's SWIFT code).
WIDEST = {
    "amount": "TZS 999,999,999.99",
    "balance": "TZS 999,999,999.99",
    "fee": "TZS 999,999,999.99",
    "debit": "TZS 999,999,999.99",
    "target": "TZS 999,999,999.99",
    "limit": "TZS 999,999,999.99",
    "owed": "TZS 999,999,999.99",
    "back": "TZS 999,999,999.99",
    "name": "N" * 24,
    "ref": "R" * 12,
    "days": "366",
    "count": "999",
    "code": "123456",
    "loan": "loan_" + "L" * 26,
    "offer": "off_" + "O" * 26,
    "payout": "po_" + "P" * 26,
    # A payout's destination, as the longest language names it (payouts.domain.BANK_WORDS).
    "where": "benki KCBLKENXXXX akaunti ...7890",
    "bank": "KCBLKENXXXX",
    "digits": "7890",
    "rate": "12.25%",
    "share": "12.25%",
    # A payout's failure reason is cut to the room left (payouts.service.sms_text).
    "reason": "",
}


def sms_texts() -> set[str]:
    """Every text marked `N_(...)` in a module outside the channels: the features' SMS texts."""
    return {
        message
        for module in sorted(SRC.rglob("*.py"))
        if "channels" not in module.relative_to(SRC).parts
        for _, message, _, _ in extract_from_file("python", str(module), keywords={"N_": None})
        if isinstance(message, str)
    }


def test_the_features_mark_their_sms_texts() -> None:
    found = sms_texts()
    assert "Soko: {ref} confirmed. {name} refunded you {amount}. Balance {balance}." in found
    assert len(found) >= 20


@pytest.mark.parametrize("language", [code for code in i18n.LANGUAGES if code != i18n.SOURCE])
def test_every_sms_text_is_translated_with_the_same_facts_in_gsm7(language: str) -> None:
    catalogue = i18n.catalogue(language)
    wanted = sms_texts()
    missing = sorted(wanted - set(catalogue))
    assert not missing, missing
    for text in wanted:
        translated = catalogue[text]
        assert sorted(PLACEHOLDER.findall(translated)) == sorted(PLACEHOLDER.findall(text)), text
        assert gsm7_septets(translated) is not None, translated
        assert translated.endswith(".") == text.endswith("."), (text, translated)


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_every_sms_text_fits_one_message_with_its_widest_facts(language: str) -> None:
    translate = i18n.translator(language)
    for text in sms_texts():
        facts = PLACEHOLDER.findall(text)
        if not facts:
            continue  # a word put into another text (a name for the operator, the seller)
        filled = translate(text).format(**{fact: WIDEST[fact] for fact in facts})
        assert fits(filled) and gsm7_septets(filled) is not None, (len(filled), filled)


def test_a_text_is_composed_in_the_readers_language_with_local_amounts() -> None:
    text = "Soko: {amount} released to you for order {ref}."
    amount = Money.parse("1500", "TZS")
    assert compose(i18n.wording_for("sw", "KE"), text, amount=amount, ref="ABCD1234") == (
        "Soko: TZS 1,500.00 imetolewa kwako kwa oda ABCD1234."
    )
    assert compose(i18n.wording_for(None, "TZ"), text, amount=amount, ref="X").startswith(
        "Soko: TZS 1,500.00 imetolewa"
    )
    assert compose(i18n.wording_for(None, "KE"), text, amount=amount, ref="X") == (
        "Soko: TZS 1,500.00 released to you for order X."
    )
    # French groups digits with a space; a name of a language Soko lacks falls back.
    assert i18n.wording_for("fr", "FR").money(amount).startswith("TZS 1")
    assert i18n.wording_for("zz", "TZ").language == "sw"
