"""QR code images of EMVCo payloads: SVG text and PNG bytes, drawn by segno."""

from __future__ import annotations

import io
from typing import Final

import segno

#: Error correction M (15% of the symbol may be lost): what EMV QRCPS recommends for printed
#: merchant codes, and kept at M exactly (no boosting) so the symbol size is predictable.
ERROR_CORRECTION: Final = "m"
#: The ISO/IEC 18004 quiet zone is four modules; scanners miss codes drawn closer to an edge.
QUIET_ZONE_MODULES: Final = 4
#: Pixels per module (user units in the SVG, which stays vector): a typical payload (version
#: 5-7) comes out at 360-456 pixels, sharp on a phone screen and on a printed sticker.
SCALE: Final = 8


def _symbol(payload: str) -> segno.QRCode:
    # Byte mode (micro codes and boosting off): every EMVCo reader decodes it to the same text.
    return segno.make_qr(payload, error=ERROR_CORRECTION, boost_error=False)


def qr_svg(payload: str) -> str:
    """The code as a standalone SVG document, with its natural width and height and a viewBox:
    without the viewBox, CSS that shrinks the box (`max-width: 100%` on a narrow phone) clips
    the drawing to its top-left corner instead of scaling it, and no phone can scan that."""
    symbol = _symbol(payload)
    buffer = io.BytesIO()
    symbol.save(buffer, kind="svg", border=QUIET_ZONE_MODULES, scale=SCALE, title="Payment QR code")
    width, height = symbol.symbol_size(scale=SCALE, border=QUIET_ZONE_MODULES)
    svg = buffer.getvalue().decode("utf-8")
    opening = f'width="{width:g}" height="{height:g}"'
    assert opening in svg, svg[:200]
    return svg.replace(opening, f'{opening} viewBox="0 0 {width:g} {height:g}"', 1)


def qr_png(payload: str) -> bytes:
    """The code as a black-on-white PNG."""
    buffer = io.BytesIO()
    _symbol(payload).save(buffer, kind="png", border=QUIET_ZONE_MODULES, scale=SCALE)
    return buffer.getvalue()
