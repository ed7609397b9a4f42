"""HTML to PDF with WeasyPrint, for reports to attach to a donor report. The HTML is
self-contained (inline styles and SVG): nothing is fetched while printing."""

from __future__ import annotations

import asyncio
from typing import Any

from crm.i18n import N_

UNAVAILABLE = N_(
    "PDF export needs the Pango library on the server (on Debian: apt-get install "
    "libpango-1.0-0 libpangoft2-1.0-0). The printable page works without it."
)


class PdfUnavailable(Exception):
    pass


def _no_fetch(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    raise ValueError(f"not fetched while printing: {url[:80]}")


async def pdf_of(html: str) -> bytes:
    try:
        import weasyprint
    except (ImportError, OSError) as exc:  # OSError: the Pango library is missing
        raise PdfUnavailable(UNAVAILABLE) from exc

    def write() -> bytes:
        return weasyprint.HTML(string=html, url_fetcher=_no_fetch).write_pdf() or b""

    return await asyncio.to_thread(write)
