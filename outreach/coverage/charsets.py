"""A page's bytes read as text, as browsers read them: a byte order mark, the HTTP charset,
the page's `<meta>` charset, UTF-8, then a guess."""

from __future__ import annotations

import codecs
import re

import charset_normalizer

_META_CHARSET = re.compile(
    rb"""<meta[^>]{0,500}?charset\s*=\s*["']?\s*([a-z0-9_.:-]{1,40})""", re.I
)
_PARAM_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([a-z0-9_.:-]{1,40})""", re.I)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Labels that browsers read as another encoding (WHATWG): "latin1" pages are windows-1252.
_ALIASES = {
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "l1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "unicode": "utf-8",
}
# Python codecs that decode "successfully" into nonsense, or are not about text at all.
_NOT_CHARSETS = {"unicode-escape", "raw-unicode-escape", "punycode", "idna", "utf-7", "undefined"}


def decode(body: bytes, content_type: str) -> str:
    """The page as text: BOM, then the HTTP charset, then <meta>, then UTF-8, then a guess."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return body.decode(codec, errors="replace").lstrip("\ufeff")
    labels = []
    if header := _PARAM_CHARSET.search(content_type):
        labels.append(header.group(1))
    if meta := _META_CHARSET.search(body[:16_384]):
        labels.append(meta.group(1).decode("ascii"))
    for declared in filter(None, map(_codec, labels)):
        if declared != "utf-8":
            return body.decode(declared, errors="replace")
        # A page that says UTF-8 and is not (an old page behind a new server) falls through
        # to the next declaration, then to guessing.
        if (text := _utf8(body)) is not None:
            return text
    if (text := _utf8(body)) is not None:
        return text
    best = charset_normalizer.from_bytes(body[:65_536]).best()
    guessed = _codec(best.encoding) if best is not None else None
    return body.decode(guessed or "utf-8", errors="replace")


def _codec(label: str) -> str | None:
    label = label.strip().strip("\"'").lower()
    try:
        name = codecs.lookup(_ALIASES.get(label, label)).name
        b"a".decode(name)
    except (LookupError, ValueError):
        return None
    if name in _NOT_CHARSETS or name.startswith("utf-16") or name.startswith("utf-32"):
        # A page read as ASCII to find its <meta> cannot really be UTF-16.
        return "utf-8" if name.startswith("utf-") else None
    return "utf-8" if name == "utf-8" else name


def _utf8(body: bytes) -> str | None:
    """Strict UTF-8, forgiving only a character cut in half at the 2 MB limit."""
    try:
        return codecs.getincrementaldecoder("utf-8")().decode(body, final=False)
    except UnicodeDecodeError:
        return None
