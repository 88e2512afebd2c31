"""The web app's words: every text a page or a web module marks, `_("...")` or `N_("...")`,
has its translation in every language Soko has, with the same facts to fill in."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

from soko.channels import i18n
from soko.channels import web as web_package

WEB = Path(web_package.__file__).parent
PLACEHOLDER = re.compile(r"\{\w+\}")
#: `_("...")` or `_('...')` in a template (Jinja).
TEMPLATE_TEXT = re.compile(r"""\b_\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')\s*\)""")


def template_texts() -> set[str]:
    found: set[str] = set()
    for template in sorted((WEB / "templates").glob("*.html")):
        for double, single in TEMPLATE_TEXT.findall(template.read_text()):
            found.add(double or single)
    return found


def module_texts() -> set[str]:
    return {
        message
        for module in sorted(WEB.glob("*.py"))
        for _, message, _, _ in extract_from_file(
            "python", str(module), keywords={"_": None, "N_": None}
        )
        if isinstance(message, str)
    }


def test_the_pages_mark_their_texts() -> None:
    assert {"Wallets", "Sign out"} <= template_texts()
    assert "This form is out of date. Please try again." in module_texts()


@pytest.mark.parametrize("language", [code for code in i18n.LANGUAGES if code != i18n.SOURCE])
def test_every_web_text_is_translated_with_the_same_facts(language: str) -> None:
    catalogue = i18n.catalogue(language)
    wanted = template_texts() | module_texts()
    missing = sorted(wanted - set(catalogue))
    assert not missing, missing
    for text in wanted:
        translated = catalogue[text]
        assert sorted(PLACEHOLDER.findall(translated)) == sorted(PLACEHOLDER.findall(text)), text


def test_a_text_in_several_catalogue_files_has_one_translation() -> None:
    """Page groups keep their own .po files; a text two of them share must read the same in
    both, or which one wins would depend on the files' order."""
    for language_dir in sorted(i18n.LOCALE_DIR.iterdir()):
        seen: dict[str, tuple[str, str]] = {}
        for po in sorted((language_dir / "LC_MESSAGES").glob("*.po")):
            with po.open("rb") as file:
                catalogue = read_po(file, locale=language_dir.name)
            for message in catalogue:
                if not message.id or not message.string or not isinstance(message.id, str):
                    continue
                earlier = seen.setdefault(message.id, (po.name, str(message.string)))
                assert earlier[1] == message.string, (message.id, earlier, po.name)
