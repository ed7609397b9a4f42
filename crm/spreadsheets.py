"""Reading uploaded spreadsheets for the contact import: bytes in, a header row and rows out.

Lists arrive as Excel-on-Windows CSVs in Windows-1250, Google and Outlook exports, Excel's
"Unicode text" (UTF-16, tabs) and .xlsx workbooks. This module guesses what a PR officer should
not have to know (encoding, delimiter, which column is which field) and, when a file cannot be
read, says why in one sentence. No database: crm/imports.py drives it.

`open_table` is synchronous and CPU-bound (a 100,000-row file takes a moment): call it from a
job or through `asyncio.to_thread`, not directly in a request handler.
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import re
import unicodedata
import warnings
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import PurePath

import openpyxl
from charset_normalizer import from_bytes

from crm.i18n import N_
from crm.search import fold

FIELDS: dict[str, str] = {
    "full_name": N_("Full name"),
    "given_name": N_("Given name"),
    "family_name": N_("Family name"),
    "emails": N_("Email"),
    "phones": N_("Phone"),
    "outlet": N_("Outlet"),
    "title": N_("Job title"),
    "beats": N_("Beats"),
    "tags": N_("Tags"),
    "preferred_language": N_("Preferred language"),
    "languages": N_("Languages"),
    "city": N_("City"),
    "region": N_("Region"),
    "notes": N_("Notes"),
    "salutation": N_("Salutation"),
    "x": N_("X (Twitter)"),
    "linkedin": N_("LinkedIn"),
    "facebook": N_("Facebook"),
    "instagram": N_("Instagram"),
    "mastodon": N_("Mastodon"),
    "do_not_contact": N_("Do not contact"),
}
MULTI_FIELDS: frozenset[str] = frozenset(
    {"emails", "phones", "tags", "beats", "notes", "languages"}
)
# What the upload form offers when detection got it wrong ("" = detect).
ENCODINGS: dict[str, str] = {
    "utf-8": N_("UTF-8"),
    "utf-16": N_("UTF-16 (Excel “Unicode text”)"),
    "windows-1250": N_("Windows-1250 (Albanian, Serbian Latin, Central European)"),
    "windows-1252": N_("Windows-1252 (Western European)"),
    "iso-8859-2": N_("ISO-8859-2 (Latin-2)"),
    "windows-1251": N_("Windows-1251 (Cyrillic)"),
}
DELIMITERS: dict[str, str] = {",": N_("Comma"), ";": N_("Semicolon"), "\t": N_("Tab")}

_CSV_EXTENSIONS = {".csv", ".txt", ".tsv", ".tab", ""}
_XLSX_EXTENSIONS = {".xlsx", ".xlsm", ".xltx", ".xltm"}
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls, and any password-protected workbook
_BINARY_MAGIC = (b"%PDF", b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"{\\rtf", b"MZ", b"\x1f\x8b")
_SAMPLE = 65_536
_CONTROL_BYTES = bytes([*range(1, 9), 11, *range(14, 26), *range(27, 32), 127])
_SEP_LINE = re.compile(r"\ufeff?sep=(.)[ \t]*(?:\r\n|\r|\n|$)")


class UnreadableFile(Exception):
    """The file cannot be read at all; str(exc) is a clear sentence for the PR officer.

    `reason` is a short code (empty, binary, xls, format, damaged, encoding, csv, columns, rows)
    for callers that want to translate or count."""

    def __init__(self, message: str, reason: str = "unreadable") -> None:
        super().__init__(message)
        self.reason = reason


def _no_lines() -> Iterator[str]:
    return iter(())


@dataclass
class Table:
    """A spreadsheet's header and a way to walk its rows, without holding them in memory."""

    file_format: str  # "csv" | "xlsx"
    encoding: str  # detected or given ("" for xlsx)
    delimiter: str  # "," ";" "\t" ("" for xlsx)
    headers: list[str] = field(default_factory=list)
    row_count: int = 0  # non-blank data rows, known once the file is open
    _lines: Callable[[], Iterator[str]] = field(default=_no_lines, repr=False, compare=False)
    _separator: str = field(default=",", repr=False)
    _header_row: int = field(default=1, repr=False)

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """(row number as the spreadsheet shows it — header is row 1 — , cells as strings,
        padded/truncated to len(headers)), skipping blank rows. Can be called more than once
        (preview, dry run, import) and streams: it never holds all the rows."""
        width, header_row = len(self.headers), self._header_row
        for number, cells in self._records():
            if number <= header_row or not "".join(cells).strip():
                continue
            size = len(cells)
            if size > width:
                cells = cells[:width]
            elif size < width:
                cells += [""] * (width - size)
            yield number, cells

    def _records(self) -> Iterator[tuple[int, list[str]]]:
        """Every record with its number, blank ones included (they count as spreadsheet rows)."""
        reader = csv.reader(self._lines(), delimiter=self._separator)
        try:
            yield from enumerate(reader, start=1)
        except csv.Error as exc:
            raise UnreadableFile(
                N_(
                    "The file could not be read past line %(line)s: %(error)s. "
                    "Check that the line is complete and its quotes are balanced.",
                    line=reader.line_num,
                    error=str(exc),
                ),
                "csv",
            ) from None


def open_table(
    data: bytes,
    filename: str,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    max_rows: int = 200_000,
    max_columns: int = 500,
) -> Table:
    """Open an uploaded CSV or .xlsx file; raise UnreadableFile with the reason if it cannot be
    read. A header row without data is not an error: it gives a Table with no rows."""
    if not data.strip(b"\x00 \t\r\n\xef\xbb\xbf\xfe\xff"):
        raise UnreadableFile(N_("The file is empty."), "empty")
    if _file_kind(data, filename) == "xlsx":
        text = _xlsx_as_csv(data, max_rows, max_columns)
        table = Table("xlsx", "", "", _lines=lambda: iter(io.StringIO(text, newline="")))
    else:
        table = _csv_table(data, encoding, delimiter)
    _scan(table, max_rows, max_columns)
    return table


# --- file type -------------------------------------------------------------------------------


def _file_kind(data: bytes, filename: str) -> str:
    ext = PurePath(filename or "").suffix.lower()
    if data.startswith(_OLE2):
        raise UnreadableFile(
            N_(
                "This is an old Excel (.xls) or a password-protected workbook, which Beatbook "
                "cannot read. Open it in Excel or LibreOffice and save it as .xlsx or CSV, then "
                "upload that."
            ),
            "xls",
        )
    if ext in (".xls", ".xlsb", ".ods", ".numbers", ".odt"):
        raise UnreadableFile(
            N_(
                "Beatbook cannot read %(ext)s files. Open it in Excel or LibreOffice and save it "
                "as .xlsx or CSV, then upload that.",
                ext=ext,
            ),
            "xls",
        )
    if data.startswith(b"PK\x03\x04") and (ext in _XLSX_EXTENSIONS or _is_workbook(data)):
        return "xlsx"  # an .xlsx renamed to .csv is read all the same
    if ext in _XLSX_EXTENSIONS:
        raise UnreadableFile(
            N_(
                "This .xlsx file is damaged or is not an Excel workbook: open it in Excel and "
                "save it again, or save it as CSV."
            ),
            "damaged",
        )
    if ext not in _CSV_EXTENSIONS:
        raise UnreadableFile(
            N_(
                "Beatbook reads CSV (.csv, .txt) and Excel (.xlsx) files, not %(ext)s files.",
                ext=ext,
            ),
            "format",
        )
    if data.startswith((b"PK\x03\x04", *_BINARY_MAGIC)):
        raise _binary()
    return "csv"


def _is_workbook(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "xl/workbook.xml" in archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return False


def _binary() -> UnreadableFile:
    return UnreadableFile(
        N_(
            "This file is not a spreadsheet: it holds binary data (an image, a PDF or a Word "
            "document renamed to .csv?). Export the list as CSV or .xlsx and upload that."
        ),
        "binary",
    )


# --- CSV: encoding and delimiter -------------------------------------------------------------


def _csv_table(data: bytes, encoding: str | None, delimiter: str | None) -> Table:
    enc = _given_encoding(encoding) if encoding else _detect_encoding(data)
    wide = enc.startswith(("utf-16", "utf-32"))
    if not wide:
        _refuse_binary(data[:_SAMPLE])
    decoder = codecs.getincrementaldecoder(enc)(errors="replace")
    sample = decoder.decode(data[:_SAMPLE], final=len(data) <= _SAMPLE).replace("\0", "")
    if wide:  # binary read as UTF-16 gives control characters and undecodable pairs (�)
        _refuse_binary(sample.replace("\ufffd", "\x01").encode("utf-8"))
    sep_line = _SEP_LINE.match(sample)
    if sep_line:
        sample = sample[sep_line.end() :]
    separator = _given_delimiter(delimiter) if delimiter else None
    separator = separator or (
        sep_line.group(1) if sep_line else _sniff_delimiter(sample, cut=len(data) > _SAMPLE)
    )
    has_nul = wide or b"\0" in data

    def lines() -> Iterator[str]:
        stream = io.TextIOWrapper(io.BytesIO(data), encoding=enc, errors="replace", newline="")
        it: Iterator[str] = iter(stream)
        if has_nul:
            it = (line.replace("\0", "") for line in it)
        if sep_line:
            next(it, None)
        return it

    return Table("csv", enc, separator, _lines=lines, _separator=separator)


def _given_encoding(name: str) -> str:
    try:
        codec = codecs.lookup(name.strip())
        if not getattr(codec, "_is_text_encoding", True):  # base64, rot13, zlib…
            raise LookupError(name)
        codecs.getincrementaldecoder(codec.name)(errors="replace").decode(b"a,b", final=True)
    except (LookupError, UnicodeError, ValueError):
        message = N_("“%(name)s” is not an encoding Beatbook knows.", name=name[:40])
        raise UnreadableFile(message, "encoding") from None
    return _DISPLAY_NAMES.get(codec.name, codec.name)


def _given_delimiter(value: str) -> str:
    value = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";"}.get(value.lower(), value)
    if len(value) != 1 or value in '"\r\n' or value.isalnum():
        raise UnreadableFile(N_("Choose comma, semicolon or tab as the separator."), "csv")
    return value


def _refuse_binary(sample: bytes) -> None:
    """Text files hold few control characters; images, PDFs and executables hold many. NUL is
    not counted: stray NULs are removed from cells rather than refusing the file."""
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    if controls > max(2, len(sample) // 200):
        raise _binary()


def _sniff_delimiter(sample: str, *, cut: bool) -> str:
    """csv.Sniffer's answer if it splits the lines as consistently as the best delimiter found
    by counting, else the counted one: Sniffer alone picks commas inside notes too easily."""
    lines = sample.splitlines(keepends=True)
    if cut and len(lines) > 1:
        lines.pop()  # the sample ends in the middle of a line
    head = "".join(lines[:50])
    scores = {d: _consistency(head, d) for d in ",;\t"}
    best = max(scores, key=lambda d: scores[d])
    try:
        sniffed = csv.Sniffer().sniff(head[:16_384], delimiters=",;\t").delimiter
    except csv.Error:
        return best
    return sniffed if scores.get(sniffed) == scores[best] else best


def _consistency(text: str, delimiter: str) -> tuple[int, int]:
    """(rows as wide as the header, header width); (0, 0) if the header does not split."""
    try:
        widths = [len(r) for r in csv.reader(io.StringIO(text), delimiter=delimiter) if any(r)]
    except csv.Error:
        return (0, 0)
    if not widths or widths[0] < 2:
        return (0, 0)
    return (sum(1 for w in widths[1:] if w == widths[0]), widths[0])


# Encodings named the way Excel's and LibreOffice's dialogs name them.
_DISPLAY_NAMES = {
    "utf-8": "utf-8",
    "utf-8-sig": "utf-8-sig",
    "utf-16": "utf-16",
    "utf-16-le": "utf-16-le",
    "utf-16-be": "utf-16-be",
    "cp1250": "windows-1250",
    "cp1251": "windows-1251",
    "cp1252": "windows-1252",
    "iso8859-2": "iso-8859-2",
    "iso8859-1": "iso-8859-1",
    "latin-1": "iso-8859-1",
}
# Tried on every legacy file; first wins a tie: most lists in Kosovo are typed on Windows set
# to Albanian or Serbian (Latin), whose code page is 1250.
_CANDIDATES = ("cp1250", "cp1252", "iso8859-2", "cp1251")
_BALKAN = set("čćđšžČĆĐŠŽëËçÇ")
_SERBIAN_CYRILLIC = set("абвгдђежзијклљмнњопрстћуфхцчџшАБВГДЂЕЖЗИЈКЛЉМНЊОПРСТЋУФХЦЧЏШ")
_PUNCTUATION = set("«»„“”‘’‚–—…€°·•\u00a0")
_MIXED_SCRIPT = re.compile(r"[A-Za-z][\u0400-\u04ff]|[\u0400-\u04ff][A-Za-z]")


def _detect_encoding(data: bytes) -> str:
    for bom, name in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            return name
    head = data[:4096]
    pairs = max(1, len(head) // 2)
    if head[1::2].count(0) > 0.4 * pairs and head[0::2].count(0) < 0.05 * pairs:
        return "utf-16-le"
    if head[0::2].count(0) > 0.4 * pairs and head[1::2].count(0) < 0.05 * pairs:
        return "utf-16-be"
    if data.isascii() or _is_utf8(data):
        return "utf-8"
    return _best_single_byte(data.replace(b"\0", b""))


def _is_utf8(data: bytes) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        for start in range(0, len(data), 1 << 20):
            decoder.decode(data[start : start + (1 << 20)])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _best_single_byte(data: bytes) -> str:
    """charset-normalizer's guess, checked against the code pages lists here are written in:
    each candidate is scored by the letters it produces (č ć đ š ž ë ç score high, stray
    symbols and control characters low), since Windows-1250, ISO-8859-2 and Windows-1252
    decode the same bytes into different but plausible-looking text."""
    high = data.translate(None, bytes(range(128)))
    counts = {b: high.count(b) for b in set(high)}
    best = from_bytes(data[: 4 * _SAMPLE]).best()
    guess = codecs.lookup(best.encoding).name if best else None
    candidates = [c for c in (guess, *_CANDIDATES) if c]
    sample = b"\n".join(line for line in data[: 4 * _SAMPLE].splitlines() if not line.isascii())
    scores: dict[str, float] = {}
    for name in dict.fromkeys(candidates):
        score = _score(name, counts, sample)
        if score is not None:
            scores[name] = score + (0.5 if name == guess else 0)
    if not scores:
        return "windows-1250"
    winner = max(scores, key=lambda c: scores[c])
    return _DISPLAY_NAMES.get(winner, winner)


def _score(encoding: str, counts: dict[int, int], sample: bytes) -> float | None:
    """How plausible the text is in this encoding; None if it cannot decode the file."""
    try:
        text = bytes(sorted(counts)).decode(encoding)
        decoded_sample = sample.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None
    if len(text) != len(counts):
        return None  # a multi-byte encoding: not what Windows writes for these languages
    score = sum(_char_weight(ch) * counts[b] for ch, b in zip(text, sorted(counts), strict=True))
    return score - 5 * len(_MIXED_SCRIPT.findall(decoded_sample))


@lru_cache(maxsize=1024)
def _char_weight(ch: str) -> int:
    if ch in _BALKAN:
        return 3
    if ch in _SERBIAN_CYRILLIC:
        return 2
    if ch in _PUNCTUATION:
        return 0
    category = unicodedata.category(ch)
    if category == "Cc" or ch == "\ufffd":
        return -10
    if category.startswith("L"):
        latin1 = "\u00c0" <= ch <= "\u00ff"
        return 1 if latin1 or "\u0400" <= ch <= "\u04ff" else -1
    return -3


# --- xlsx ------------------------------------------------------------------------------------


def _xlsx_as_csv(data: bytes, max_rows: int, max_columns: int) -> str:
    """The first sheet as CSV text, one line per sheet row so row numbers stay true. Reading a
    workbook is slow; converting once lets rows() be walked again cheaply."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    filled = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # openpyxl warns about styles and extensions it skips
        try:
            workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception:
            raise _damaged_xlsx() from None
        try:
            sheet = next(s for s in workbook.worksheets if hasattr(s, "iter_rows"))
            sheet.reset_dimensions()  # trust the cells, not the size the file claims
            for values in sheet.iter_rows(values_only=True):
                cells = [_cell_text(v) for v in values]
                while cells and not cells[-1].strip():
                    cells.pop()
                if cells:
                    filled += 1
                    _check_limits(filled - 1, len(cells), max_rows, max_columns)
                writer.writerow(cells)
        except UnreadableFile:
            raise
        except Exception:
            raise _damaged_xlsx() from None
        finally:
            workbook.close()
    return buffer.getvalue()


def _damaged_xlsx() -> UnreadableFile:
    return UnreadableFile(
        N_(
            "This Excel file is damaged or incomplete (was the upload cut short?). Open it in "
            "Excel and save it again, or save it as CSV."
        ),
        "damaged",
    )


def _cell_text(value: object) -> str:
    """A cell as the PR officer would type it: phone numbers stored as numbers keep all their
    digits (38344123456, not 3.8344123456e+10); dates are written ISO-style."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.replace("\0", "")
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return ""
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return format(Decimal(repr(value)), "f")
    if isinstance(value, datetime):
        if value.time() == time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="seconds" if value.second else "minutes")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.isoformat(timespec="seconds" if value.second else "minutes")
    if isinstance(value, timedelta):
        return str(value)
    return str(value)


# --- header and limits -----------------------------------------------------------------------


def _scan(table: Table, max_rows: int, max_columns: int) -> None:
    """One pass over the file: find the header (the first non-blank row), count the data rows,
    and widen the header to the last column that holds data, so nothing typed under an
    unnamed column is lost while trailing empty columns disappear."""
    header_row, headers, count, used = 0, [], 0, 0
    for number, cells in table._records():
        if not "".join(cells).strip():
            continue
        if not header_row:
            headers = [c.strip() for c in cells]
            headers[0] = headers[0].lstrip("\ufeff").strip()
            while headers and not headers[-1]:
                headers.pop()
            _check_limits(0, len(headers), max_rows, max_columns)
            header_row = number
            continue
        count += 1
        if len(cells) > used:
            used = max(used, _filled_width(cells))
        _check_limits(count, used, max_rows, max_columns)
    if not header_row:
        raise UnreadableFile(N_("The file is empty."), "empty")
    table.headers = headers + [""] * (used - len(headers))
    table.row_count = count
    table._header_row = header_row


def _filled_width(cells: list[str]) -> int:
    width = len(cells)
    while width and not cells[width - 1].strip():
        width -= 1
    return width


def _check_limits(rows: int, columns: int, max_rows: int, max_columns: int) -> None:
    if columns > max_columns:
        raise UnreadableFile(
            N_(
                "The file has %(columns)s columns; Beatbook reads at most %(limit)s. Delete "
                "the columns you do not need and upload it again.",
                columns=f"{columns:,}",
                limit=f"{max_columns:,}",
            ),
            "columns",
        )
    if rows > max_rows:
        raise UnreadableFile(
            N_(
                "The file has more than %(limit)s rows; Beatbook imports at most %(limit)s "
                "at a time. Split it into smaller files.",
                limit=f"{max_rows:,}",
            ),
            "rows",
        )


# --- guessing which column is which ----------------------------------------------------------

# Folded header (see _key) → field. Cyrillic headers fold to Latin, so "Презиме" is "prezime".
_ALIASES: dict[str, str] = {
    alias: name
    for name, aliases in {
        "full_name": "full name|fullname|name and surname|first and last name|contact name|"
        "display name|journalist|journalist name|emri i plote|emri dhe mbiemri|emri mbiemri|"
        "emer mbiemer|emri e mbiemri|emri i gazetarit|gazetar|gazetari|gazetarja|ime i prezime|"
        "ime prezime|puno ime|ime i prezime novinara|novinar|novinarka",
        "given_name": "first name|firstname|first|given name|givenname|forename|emri i pare",
        "family_name": "last name|lastname|last|surname|family name|familyname|mbiemri|mbiemer|"
        "mbiemeri|prezime",
        "emails": "email|emails|e mail|e mails|mail|email address|e mail address|emaili|"
        "e maili|email adresa|e mail adresa|adresa e emailit|adresa e email|adresa email|"
        "posta elektronike|e posta|eposta|elektronska posta|imejl|mejl|primary email|work email",
        "phones": "phone|phones|telephone|tel|tel no|phone number|telephone number|mobile|"
        "mobile phone|cell|cell phone|mobile number|business phone|business phone 2|home phone|"
        "home phone 2|primary phone|company main phone|other phone|car phone|work phone|telefon|"
        "telefoni|telefonat|nr tel|nr telefoni|nr i telefonit|numri i telefonit|numri telefonit|"
        "celular|celulari|mobil|mobili|nr mobil|broj telefona|br tel|broj tel|mobilni|"
        "mobilni telefon|mob|kontakt telefon",
        "outlet": "outlet|media|media outlet|media house|company|organization|organisation|"
        "organization name|organisation name|employer|publication|newspaper|mediumi|"
        "shtepia mediale|redaksia|gazeta|medij|mediji|medija|redakcija|medijska kuca|novine|"
        "kompania|organizata|emri i medias|naziv medija",
        "title": "title|job title|position|role|function|job|occupation|profession|pozicioni|"
        "pozita|funksioni|roli|titulli|detyra|profesioni|funkcija|pozicija|radno mesto|"
        "radno mjesto|zanimanje|uloga|organization title",
        "beats": "beat|beats|topic|topics|area|areas|coverage|coverage area|desk|section|fusha|"
        "fushat|tema|temat|teme|resor|resori|rubrika|oblast|oblasti|podrucje|tematika",
        "tags": "tags|tag|labels|label|categories|category|group|groups|group membership|list|"
        "lists|etiketa|etiketat|kategoria|kategorite|grupi|grupa|grupe|oznake|oznaka|"
        "kategorija|kategorije|lista",
        "preferred_language": "language|preferred language|gjuha|gjuha e preferuar|jezik|"
        "preferirani jezik",
        "languages": "languages|gjuhet|jezici|spoken languages",
        "city": "city|town|municipality|location|qyteti|qytet|komuna|vendbanimi|vendndodhja|"
        "grad|mesto|mjesto|opstina|lokacija|business city|home city|other city",
        "region": "region|state|province|district|rajoni|regjioni|qarku|okrug|regija|"
        "business state|home state",
        "notes": "notes|note|comments|comment|remarks|description|shenime|shenim|komente|"
        "koment|verejtje|pershkrimi|beleske|beleska|napomena|napomene|komentar|komentari|opis",
        "salutation": "salutation|gender|sex|prefix|name prefix|honorific|pershendetja|gjinia|"
        "pol|oslovljavanje",
        "x": "x|twitter|x twitter|twitter x|twitter handle",
        "linkedin": "linkedin",
        "facebook": "facebook|fb",
        "instagram": "instagram|ig",
        "mastodon": "mastodon|fediverse",
        "do_not_contact": "do not contact|do not email|dnc|unsubscribed|opt out|opted out|"
        "mos kontakto|ne kontaktirati|ne kontaktiraj",
    }.items()
    for alias in aliases.split("|")
}
# "Name", "Emri", "Ime": the given name beside a family-name column, else the whole name.
_AMBIGUOUS_NAMES = {"name", "emri", "emer", "ime", "naziv"}
# Google's "E-mail 1 - Label", Outlook's "E-mail Type": descriptions of a value, never values.
_NOT_VALUES = re.compile(
    r"\b(label|type|display name|yomi|phonetic|fax|assistant s|pager|tty|telex|isdn|social)\b"
)
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^e ?mail ?\d*( address| value| adresa)?$"), "emails"),
    (re.compile(r"^phone \d+ value$"), "phones"),
    (re.compile(r"^organi[sz]ation \d+ name$"), "outlet"),
    (re.compile(r"^organi[sz]ation \d+ title$"), "title"),
    (re.compile(r"^address \d+ city$"), "city"),
    (re.compile(r"^address \d+ region$"), "region"),
    # Headers that say more than the aliases: "Email i gazetarit", "Telefon (mobilni)".
    (re.compile(r"\b(e ?mail|emaili|email adresa)\b"), "emails"),
    (re.compile(r"\b(phone|tel|telefon|telefoni|mobile|mobilni|celular)\b"), "phones"),
    (re.compile(r"^(media|medij|medija|mediji|redakcija|outlet)\b"), "outlet"),
)


def _key(header: str) -> str:
    return " ".join(fold(header).replace("-", " ").replace("_", " ").replace(".", " ").split())


def _guess(key: str) -> str | None:
    if key in _ALIASES:
        return _ALIASES[key]
    if _NOT_VALUES.search(key):
        return None
    return next((name for pattern, name in _PATTERNS if pattern.search(key)), None)


def guess_mapping(headers: list[str]) -> dict[int, str]:
    """Column index → import field, from the header names alone. Several columns may feed a
    MULTI_FIELDS field; for the others the first column wins. Unknown columns are left out."""
    keys = [_key(h) for h in headers]
    guesses = {i: _guess(k) for i, k in enumerate(keys) if k not in _AMBIGUOUS_NAMES}
    found = set(guesses.values())
    for i, key in enumerate(keys):
        if key in _AMBIGUOUS_NAMES:
            is_given = "family_name" in found and "given_name" not in found
            guesses[i] = "given_name" if is_given else "full_name"
    if "job title" in keys:  # Outlook: "Title" is Mr./Ms., the job is "Job Title"
        guesses.update({i: "salutation" for i, k in enumerate(keys) if k == "title"})
    mapping: dict[int, str] = {}
    taken: set[str] = set()
    for i in sorted(guesses):
        name = guesses[i]
        if name and (name in MULTI_FIELDS or name not in taken):
            mapping[i] = name
            taken.add(name)
    return mapping


_SPLIT = re.compile(r"\s*(?:[\r\n;,]|:::)\s*")
_HAS_SEPARATOR = re.compile(r"[\r\n;,]|:::")


def split_values(cell: str) -> list[str]:
    """Several values typed in one cell: "a@x.org; b@y.org", "a@x.org, b@y.org", one per line,
    Google's "a@x.org ::: b@y.org", or addresses separated by spaces only."""
    values: list[str] = []
    parts = _SPLIT.split(cell) if _HAS_SEPARATOR.search(cell) else (cell,)
    for part in parts:
        part = part.strip()
        words = part.split()
        if len(words) > 1 and all("@" in w for w in words):
            values.extend(words)
        elif part:
            values.append(part)
    return values
