"""QR codes drawn on the server as inline SVG: no script, no style attribute, no data: URI."""

from __future__ import annotations

import qrcode
from django.utils.html import format_html
from django.utils.safestring import SafeString

QUIET_ZONE = 4  # modules of white around the code, as the QR standard asks


def qr_svg(data: str, *, title: str, css_class: str = "app-qr-code") -> SafeString:
    """An ``<svg>`` of ``data`` as a QR code, one path of dark modules on a white square.

    ``title`` is the accessible name (``role="img"`` with a ``<title>``). The path holds only
    numbers, so nothing of ``data`` reaches the markup as text.
    """
    code = qrcode.QRCode(border=QUIET_ZONE, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(data)
    code.make(fit=True)
    matrix = code.get_matrix()  # includes the quiet zone
    size = len(matrix)
    path = "".join(f"M{x} {y}h1v1h-1z" for y, row in enumerate(matrix) for x, dark in enumerate(row) if dark)
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" class="{}" viewBox="0 0 {} {}" width="{}" height="{}" '
        'role="img" aria-labelledby="qr-title" shape-rendering="crispEdges">'
        '<title id="qr-title">{}</title>'
        '<rect width="{}" height="{}" fill="#ffffff"/><path d="{}" fill="#0b0c0c"/></svg>',
        css_class,
        size,
        size,
        size * 5,
        size * 5,
        title,
        size,
        size,
        path,
    )
