"""Credit's reasons in every language: each sentence the credit feature writes (`said("...")`)
has its translation, with the same facts, and a stored reason reads back as it was written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file

import soko
from soko.credit.domain import Reason, Words, said
from soko.kernel import i18n

CREDIT = Path(soko.__file__).parent / "credit"
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def credit_sentences() -> set[str]:
    return {
        message
        for module in sorted(CREDIT.glob("*.py"))
        for _, message, _, _ in extract_from_file("python", str(module), keywords={"said": None})
        if isinstance(message, str)
    }


def test_credit_marks_its_sentences() -> None:
    found = credit_sentences()
    assert "You sold on {days} of the last {window} days." in found
    assert "Your loan is behind: {owed} is owed." in found  # the service's, too
    assert len(found) >= 60


@pytest.mark.parametrize("language", [code for code in i18n.LANGUAGES if code != i18n.SOURCE])
def test_every_credit_sentence_is_translated_with_the_same_facts(language: str) -> None:
    catalogue = i18n.catalogue(language)
    wanted = credit_sentences()
    assert not sorted(wanted - set(catalogue))
    for text in wanted:
        assert sorted(PLACEHOLDER.findall(catalogue[text])) == sorted(PLACEHOLDER.findall(text))


def test_a_reason_is_said_in_the_readers_language_with_its_facts() -> None:
    reason = Reason("active_days", said("You sold on {days} of the last {window} days.",
                                        days=12, window=91))  # fmt: skip
    assert reason.text == "You sold on 12 of the last 91 days."
    assert reason.said(i18n.translator("sw")) == "Uliuza siku 12 kati ya siku 91 zilizopita."
    record = reason.as_record()
    assert record["text"] == reason.text and record["facts"] == {"days": "12", "window": "91"}
    assert Reason.from_record(record) == reason


def test_a_reason_stored_before_templates_reads_as_its_english_text() -> None:
    old = Reason.from_record({"code": "active_days", "text": "You sold on {12} days."})
    assert old == Reason("active_days", Words("You sold on {12} days."))
    assert old.text == old.said(i18n.translator("sw")) == "You sold on {12} days."
