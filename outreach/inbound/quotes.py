"""What a journalist newly wrote in a reply: the quoted press release, the "On … wrote:" line,
Outlook's "From: … Sent: …" block and the signature taken off, in the languages Beatbook's
recipients write in (English, Albanian, Serbian in Latin and Cyrillic script).

HTML is stripped where the client marks its quote (Gmail, Outlook, Apple Mail, Thunderbird),
then converted to text and run through the same rules as plain text, which catch what the
markup did not. Every rule errs towards keeping text: losing a line the journalist wrote is
worse than showing a signature.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

# --- plain text -----------------------------------------------------------------------------

# The end of an attribution line, "… wrote:" in each client language we meet.
_WROTE = re.compile(
    r"(?:\bwrote|\bshkroi|\bka shkruar|\bje napisa(?:o|la)(?:/(?:la|napisala))?"
    r"|\bје написа(?:о|ла)(?:/(?:ла|написала))?)\s*:$",
    re.IGNORECASE,
)
# How an attribution starts: "On …", Albanian "Më …", Serbian "Dana …", a date ("26/11/2026",
# "26. nov") or a weekday abbreviation ("Thu, …", "enj, …", "čet, …", "чет, …").
_ATTRIBUTION_START = re.compile(r"^(?:On|Më|Dana)\s|^\d|^[^\W\d_]{2,4}\.?,\s", re.IGNORECASE)
# What every attribution has and a sentence ending in "wrote:" rarely does: a time or a date
# ("10:15", "26.11") or an address.
_DATED = re.compile(r"\d{1,2}[:.]\d{2}|@")

_FIELD = r"^\*{0,2}(?:%s)\s*:\s*\*{0,2}(?:\s|$)"
_FROM = re.compile(_FIELD % "From|Nga|Od|Од", re.IGNORECASE)
_DATE = re.compile(
    _FIELD % "Sent|Date|Dërguar|Data|Poslato|Poslano|Datum|Послато|Послано|Датум", re.IGNORECASE
)
_TO = re.compile(_FIELD % "To|Për|Za|За", re.IGNORECASE)
_SUBJECT = re.compile(_FIELD % "Subject|Subjekti|Lënda|Tema|Predmet|Тема|Предмет", re.IGNORECASE)
_UNDERSCORES = re.compile(r"^_{10,}$")
_ORIGINAL = re.compile(
    r"^-{2,}\s*(?:Original Message|Mesazhi origjinal|Originalna poruka|Оригинална порука)"
    r"\s*-{2,}$",
    re.IGNORECASE,
)
_MOBILE_SIGNATURE = re.compile(
    r"^(?:Sent from my \S.{0,40}|(?:Sent from|Get) Outlook for (?:Android|iOS)"
    r"|Dërguar nga iPhone-i im|Poslato sa mog iPhone-a|Послато са мог iPhone-а)"
    r"\s*(?:<https?://[^>]*>)?$",
    re.IGNORECASE,
)


def _lines(text: str) -> list[str]:
    """Lines with CRLF/CR made LF and trailing whitespace gone."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return [line.rstrip() for line in text.split("\n")]


def _trim(lines: list[str]) -> str:
    """The lines joined, without blank lines at either end."""
    return "\n".join(lines).strip("\n")


def _quoted(line: str) -> bool:
    return line.startswith(">")


def _attribution_at(lines: list[str], i: int) -> int | None:
    """Where the attribution ending on line i starts (i, or i - 1 when Gmail wrapped it)."""
    line = lines[i]
    if not _WROTE.search(line) or _quoted(line):
        return None
    if _ATTRIBUTION_START.search(line) and _DATED.search(line):
        return i
    previous = lines[i - 1] if i else ""
    if _ATTRIBUTION_START.search(previous) and _DATED.search(previous + line):
        return i - 1
    return None


def _signature_start(lines: list[str], start: int = 0) -> int:
    """The "-- " line at or after start (len(lines) when there is none)."""
    return next((i for i in range(start, len(lines)) if lines[i] == "--"), len(lines))


def _inline_reply(lines: list[str], start: int) -> int | None:
    """When the attribution ending before start heads an inline or bottom-posted reply (the
    sender's own lines follow its "> " lines), the end of what to drop with it: only the
    attribution when answers are interleaved with several quotes (they give the answers
    their sense), the whole quote when the answer is all below it. None when the quote is
    the history of a top-posted reply, to be cut."""
    end = start
    while end < len(lines) and (not lines[end].strip() or _quoted(lines[end])):
        end += 1
    if not any(_quoted(line) for line in lines[start:end]):
        return None
    rest = lines[end : _signature_start(lines, end)]
    if not any(x.strip() and not _MOBILE_SIGNATURE.match(x.strip()) for x in rest):
        return None
    return start if any(_quoted(line) for line in rest) else end


def _outlook_header_at(lines: list[str], i: int) -> bool:
    """Whether line i opens Outlook's "From: / Sent: / To: / Subject:" block (in any of our
    languages): the other three fields must follow in the same block of lines, so a sentence
    that starts "From:" is not taken for one."""
    if not _FROM.match(lines[i]):
        return False
    block = []
    for line in lines[i + 1 : i + 12]:
        if not line.strip():
            break
        block.append(line)
    return all(any(field.match(line) for line in block) for field in (_DATE, _TO, _SUBJECT))


def _quote_start(lines: list[str]) -> int | None:
    """The first line of the quoted history, or None when there is no marked quote. Removes
    from lines the attributions (and a bottom-posted reply's quote) that head no history."""
    i = 0
    while i < len(lines):
        attribution = _attribution_at(lines, i)
        if attribution is not None:
            inline_end = _inline_reply(lines, i + 1)
            if inline_end is None:
                return attribution
            del lines[attribution:inline_end]
            i = attribution
            continue
        if _ORIGINAL.match(lines[i].strip()):
            return i
        if _outlook_header_at(lines, i):
            before = i - 1
            while before >= 0 and not lines[before].strip():
                before -= 1
            return before if before >= 0 and _UNDERSCORES.match(lines[before]) else i
        i += 1
    return None


def _drop_trailing_quote(lines: list[str]) -> list[str]:
    """Without the block of "> " lines that ends the text, and the line just before it when
    that is an attribution in a language we do not know (a date, an address, a colon)."""
    end = len(lines)
    while end and (not lines[end - 1].strip() or _quoted(lines[end - 1])):
        end -= 1
    if not any(_quoted(line) for line in lines[end:]):
        return lines
    last = lines[end - 1] if end else ""
    if last.endswith(":") and "@" in last and re.search(r"\d", last):
        end -= 1
    return lines[:end]


def _drop_signature(lines: list[str]) -> list[str]:
    """Without the "-- " signature and the lines mobile clients add."""
    lines = lines[: _signature_start(lines)]  # "-- " is "--" once trailing spaces are gone
    return [line for line in lines if not _MOBILE_SIGNATURE.match(line.strip())]


def _strip_plain(text: str) -> str:
    """The rules for plain text; the whole text when they would leave nothing."""
    lines = _lines(text)
    whole = _trim(lines)
    start = _quote_start(lines)
    if start is not None:
        lines = lines[:start]
    lines = _drop_signature(_drop_trailing_quote(lines))
    return _trim(lines) or whole


# --- HTML -----------------------------------------------------------------------------------

_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
         "track", "wbr"}  # fmt: skip
_BLOCK = {"address", "article", "blockquote", "dd", "div", "dl", "dt", "footer", "h1", "h2",
          "h3", "h4", "h5", "h6", "header", "hr", "li", "ol", "p", "pre", "section", "table",
          "tr", "ul"}  # fmt: skip
_HIDDEN = {"head", "script", "style", "title", "template"}
# Elements holding a quote or a signature and nothing else: dropped with their content.
_QUOTE_CLASSES = {"gmail_quote", "gmail_attr", "gmail_signature", "gmail_signature_prefix",
                  "moz-cite-prefix", "moz-signature", "yahoo_quoted"}  # fmt: skip
# Elements after which everything is quoted history: Outlook puts its "From:" block in them
# and the original message after them, as their siblings.
_CUT_IDS = {
    "divrplyfwdmsg",
    "appendonsend",
    "stopspelling",
    "mail-editor-reference-message-container",
}


def _drops(tag: str, attrs: dict[str, str]) -> bool:
    classes = set(attrs.get("class", "").split())
    if classes & _QUOTE_CLASSES or attrs.get("id") == "ms-outlook-mobile-signature":
        return True
    return tag == "blockquote" and attrs.get("type", "").lower() == "cite"


def _cuts(attrs: dict[str, str]) -> bool:
    element_id = attrs.get("id", "").lower().removeprefix("x_")  # Outlook prefixes re-quoted ids
    if element_id in _CUT_IDS:
        return True
    style = re.sub(r"\s+", "", attrs.get("style", "")).lower()
    # Outlook desktop's header block: a blue-grey (2007-10) or grey (2013+) rule above it.
    return (
        "border:none" in style
        and re.search(r"border-top:solid#(?:e1e1e1|b5c4df)", style) is not None
    )


class _TextWriter(HTMLParser):
    """Text of an HTML body; with strip_quotes, without the parts clients mark as quoted."""

    def __init__(self, strip_quotes: bool) -> None:
        super().__init__(convert_charrefs=True)  # entities arrive decoded
        self.strip_quotes = strip_quotes
        self.parts: list[str] = []
        self.line_start = True  # nothing visible written since the last line break
        self.open: list[str] = []  # tags not yet closed
        self.hidden_from: int | None = None  # depth of the hidden or dropped element
        self.pre = 0
        self.done = False  # past the start of the quoted history

    def _write(self, text: str) -> None:
        if self.hidden_from is None and not self.done:
            self.parts.append(text)
            self.line_start = text.endswith("\n") or (self.line_start and not text.strip(" "))

    def _block_edge(self) -> None:
        """A block starts or ends: a line break, unless the line is empty (as browsers do, so
        nested or adjacent <div>s make no blank lines, but <div><br></div> makes one)."""
        if not self.line_start:
            self._write("\n")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "body" and "head" in self.open:  # an unclosed <head>
            self._close("head")
        if self.strip_quotes and self.hidden_from is None and _cuts(values):
            self.done = True
        if tag == "p" and "MsoNormal" not in values.get("class", ""):
            self._block_edge()  # a paragraph has a blank line before it; Word's have no margin
            self._write("\n")
        elif tag in _BLOCK:
            self._block_edge()
        elif tag == "br":
            self._write("\n")
        elif tag in ("td", "th"):
            self._write(" ")
        if tag in _VOID:
            return
        self.open.append(tag)
        self.pre += tag == "pre"
        if self.hidden_from is None and (
            tag in _HIDDEN or (self.strip_quotes and _drops(tag, values))
        ):
            self.hidden_from = len(self.open)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.open:
            self._close(tag)
            if tag in _BLOCK:
                self._block_edge()

    def _close(self, tag: str) -> None:
        """Close tag and whatever was left open inside it (browsers do the same)."""
        while self.open:
            closed = self.open.pop()
            self.pre -= closed == "pre"
            if self.hidden_from is not None and len(self.open) < self.hidden_from:
                self.hidden_from = None
            if closed == tag:
                return

    def handle_data(self, data: str) -> None:
        # Outside <pre>, source line breaks and runs of spaces show as one space. Not \s: a
        # no-break space is content (Word writes empty paragraphs as &nbsp;).
        self._write(data if self.pre else re.sub(r"[ \t\r\n\f]+", " ", data))

    def text(self) -> str:
        lines = "".join(self.parts).replace("\xa0", " ").split("\n")
        return re.sub(r"\n{3,}", "\n\n", "\n".join(line.strip() for line in lines)).strip("\n")


def _convert(html: str, strip_quotes: bool) -> str:
    writer = _TextWriter(strip_quotes)
    writer.feed(html)
    writer.close()
    return writer.text()


def html_to_text(html: str) -> str:
    """Readable text of an incoming HTML body: block elements and <br> become line breaks,
    scripts/styles/head dropped, entities decoded, runs of blank lines collapsed."""
    return _convert(html, strip_quotes=False)


def _strip_html(html: str) -> str:
    """The rules for HTML: marked quotes and signatures dropped, then the plain-text rules."""
    return _strip_plain(_convert(html, strip_quotes=True)) or html_to_text(html)


# --- the reply ------------------------------------------------------------------------------


def reply_text(plain: str | None, html: str | None) -> str:
    """What the sender newly wrote: the reply without quoted history or signature. Uses the
    plain text when there is one, else the HTML (converted to text). Never raises; never
    returns an empty string when the sender wrote something (if stripping would leave nothing,
    return the whole text trimmed instead)."""
    try:
        if plain and plain.strip():
            return _strip_plain(plain)
        if html and html.strip():
            return _strip_html(html)
        return ""
    except Exception:  # a reply must reach the timeline even if a rule trips on odd input
        return (plain if plain and plain.strip() else html or "").strip()
