"""HTML to PDF with WeasyPrint, for reports to attach to a donor report. The HTML is
self-contained (inline styles and SVG): nothing is fetched while printing."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from crm.i18n import N_

log = logging.getLogger(__name__)

UNAVAILABLE = N_(
    "PDF export needs the Pango library on the server (on Debian: apt-get install "
    "libpango-1.0-0 libpangoft2-1.0-0). The printable page works without it."
)
FAILED = N_(
    "The PDF of this report could not be made. Print the report page from your browser, or "
    "download the CSV, instead; if it keeps happening, tell whoever runs Beatbook."
)
RENDERS = 2  # PDFs made at once: each takes a thread and a lot of memory for a while
_renders = asyncio.Semaphore(RENDERS)


class PdfUnavailable(Exception):
    pass


class PdfFailed(Exception):
    """WeasyPrint is there but could not print this page."""


def _no_fetch(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    raise ValueError(f"not fetched while printing: {url[:80]}")


async def pdf_of(html: str) -> bytes:
    try:
        import weasyprint
    except (ImportError, OSError) as exc:  # OSError: the Pango library is missing
        raise PdfUnavailable(UNAVAILABLE) from exc

    def write() -> bytes:
        return weasyprint.HTML(string=html, url_fetcher=_no_fetch).write_pdf() or b""

    await _renders.acquire()
    # The slot is free again when the thread ends, not when the request does: a client
    # that gives up does not stop the thread, and its render still takes a slot.
    render = asyncio.ensure_future(asyncio.to_thread(write))
    render.add_done_callback(_finished)
    try:
        return await asyncio.shield(render)
    except Exception as exc:
        raise PdfFailed(FAILED) from exc


def _finished(render: asyncio.Future[bytes]) -> None:
    _renders.release()
    if not render.cancelled() and render.exception() is not None:
        log.warning("PDF not made", exc_info=render.exception())
