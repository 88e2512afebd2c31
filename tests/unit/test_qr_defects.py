"""Two QR defects found by trying the pay page as a new user would: the SVG had no viewBox (a
narrow screen clipped it to its top-left corner), and a long city was cut inside a word."""

from __future__ import annotations

import re

import pytest

from soko.kernel.money import Currency
from soko.payments.qr.domain import CITY_LENGTH_MAX, MerchantQr, fit_words
from soko.payments.qr.images import qr_svg


def _code(city: str) -> MerchantQr:
    return MerchantQr.fitted(
        guid="dev.soko", merchant_id="123456", category_code="5411",
        currency=Currency.of("KES"), country="KE", names=("Duka",), city=city,
    )  # fmt: skip


def test_the_svg_scales_instead_of_clipping() -> None:
    svg = qr_svg(_code("Nairobi").payload())
    root = re.search(r"<svg\b[^>]*>", svg)
    assert root is not None
    opening = root.group(0)
    width = re.search(r'\bwidth="(\d+)"', opening)
    height = re.search(r'\bheight="(\d+)"', opening)
    assert width is not None and height is not None
    # A box shrunk by CSS scales the drawing only if the SVG says which user units it spans.
    assert f'viewBox="0 0 {width.group(1)} {height.group(1)}"' in opening


@pytest.mark.parametrize(
    ("city", "printed"),
    [
        ("Kampala", "Kampala"),
        ("Dar es Salaam Kariakoo", "Dar es Salaam"),
        ("Kampala Central Division", "Kampala Central"),
        ("Nairobi Central Business District", "Nairobi Central"),
        ("Bujumbura Mairie", "Bujumbura"),
        ("  Mombasa   Old Town  ", "Mombasa Old"),
        ("Ouagadougouville", "Ouagadougouvill"),  # one word too long: nothing shorter names it
        ("Zürich Oerlikon Nord", "Zurich Oerlikon"),
    ],
)
def test_the_city_is_cut_at_a_word_boundary(city: str, printed: str) -> None:
    assert fit_words(city, CITY_LENGTH_MAX) == printed
    assert _code(city).merchant_city == printed
