"""Reading uploaded spreadsheets: the fixtures real programs write, the encodings and
delimiters PR officers' files come in, the header names they use, and files that cannot be
read (which must give a sentence, never a crash)."""

from __future__ import annotations

import codecs
import csv
import io
import random
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm.spreadsheets import (
    FIELDS,
    MULTI_FIELDS,
    Table,
    UnreadableFile,
    guess_mapping,
    open_table,
    split_values,
)

FIXTURES = Path(__file__).parent / "fixtures" / "import"

SERBIAN_ALBANIAN = [
    ["Ime", "Prezime", "E-mail", "Medij", "Grad"],
    ["Đorđe", "Ćosić", "djordje@sever.example.rs", "Radio Sever", "Severna Mitrovica"],
    ["Nataša", "Živković", "natasa@glas.example.rs", "Glas Gračanice", "Gračanica"],
    ["Šćepan", "Đurić", "scepan@kim.example.rs", "Radio KiM", "Čaglavica"],
    ["Arbër", "Këlmendi", "arber@koha.example.net", "Koha Ditore", "Prishtinë"],
    ["Drita", "Çeku", "drita@rtk.example.net", "RTK", "Ferizaj"],
]
# Bytes that make CSV parsing and detection interesting, for the property test at the end.
_PIECES = (b",", b";", b"\t", b'"', b"\r", b"\n", b"a", b"\x00", b"\xc4\x8d", b"\x8d", b"\xff",
           b"\xfe", b" ", b"sep=;", codecs.BOM_UTF8, b"x@y.example.org", b"\xd0\xcf\x11\xe0",
           b"PK\x03\x04")  # fmt: skip


def _open(name: str, **kwargs: object) -> Table:
    return open_table((FIXTURES / name).read_bytes(), name, **kwargs)  # type: ignore[arg-type]


def _csv(rows: list[list[str]], delimiter: str = ",", newline: str = "\r\n") -> str:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator=newline).writerows(rows)
    return out.getvalue()


def _named(table: Table) -> dict[str, str]:
    """Header → field, as the mapping screen shows it."""
    return {table.headers[i]: f for i, f in guess_mapping(table.headers).items()}


def _unreadable(data: bytes, filename: str = "contacts.csv", **kwargs: object) -> str:
    with pytest.raises(UnreadableFile) as caught:
        open_table(data, filename, **kwargs)  # type: ignore[arg-type]
    return str(caught.value)


# --- the fixtures ----------------------------------------------------------------------------


def test_serbian_excel_csv_reads_as_windows_1250_with_semicolons():
    table = _open("serbian_excel_windows1250.csv")
    assert (table.file_format, table.encoding, table.delimiter) == ("csv", "windows-1250", ";")
    assert table.headers == ["Ime", "Prezime", "E-mail", "Telefon", "Medij", "Funkcija", "Grad"]
    assert _named(table) == {
        "Ime": "given_name",
        "Prezime": "family_name",
        "E-mail": "emails",
        "Telefon": "phones",
        "Medij": "outlet",
        "Funkcija": "title",
        "Grad": "city",
    }
    rows = list(table.rows())
    assert [n for n, _ in rows] == [2, 3, 4, 6, 7, 8]  # row 5 is the emptied one
    assert table.row_count == 6
    assert rows[0][1][:2] == ["Đorđe", "Ćosić"]
    assert rows[1][1][:2] == ["Nataša", "Živković"]
    assert rows[2][1][1] == "Šćekić" and rows[2][1][6] == "Čaglavica"
    assert rows[3][1][:2] == ["Arbër", "Këlmendi"] and rows[3][1][6] == "Prishtinë"
    assert rows[4][1][4] == "RTK; Radio Kosova"  # a quoted semicolon stays in its cell


def test_google_contacts_export_maps_values_not_labels():
    table = _open("google_contacts.csv")
    assert (table.encoding, table.delimiter) == ("utf-8", ",")
    assert len(table.headers) == 36
    mapping = _named(table)
    assert mapping["First Name"] == "given_name" and mapping["Last Name"] == "family_name"
    assert mapping["E-mail 1 - Value"] == mapping["E-mail 2 - Value"] == "emails"
    assert mapping["Phone 1 - Value"] == mapping["Phone 2 - Value"] == "phones"
    assert mapping["Organization Name"] == "outlet"
    assert mapping["Organization Title"] == "title"
    assert mapping["Notes"] == "notes" and mapping["Labels"] == "tags"
    assert mapping["Address 1 - City"] == "city"
    for unmapped in ("E-mail 1 - Label", "Phone 1 - Label", "Middle Name", "File As",
                     "Phonetic First Name", "Website 1 - Value", "Birthday"):  # fmt: skip
        assert unmapped not in mapping
    rows = dict(table.rows())
    arben = dict(zip(table.headers, rows[2], strict=True))
    assert arben["Notes"] == "Mbulon korrupsionin.\nTakim në tetor 2025."
    assert arben["Address 1 - City"] == "Prishtinë"
    jelena = dict(zip(table.headers, rows[3], strict=True))
    assert jelena["Last Name"] == "Đorđević"
    assert split_values(jelena["E-mail 1 - Value"]) == [
        "jelena.djordjevic@danas.example.rs",
        "jd@mail.example.com",
    ]


def test_outlook_export_reads_as_windows_1252():
    table = _open("outlook_export.csv")
    assert (table.encoding, table.delimiter) == ("windows-1252", ",")
    assert len(table.headers) == 92
    mapping = _named(table)
    assert mapping["Title"] == "salutation"  # Outlook's Title is Mr./Ms.
    assert mapping["Job Title"] == "title" and mapping["Company"] == "outlet"
    assert {h for h, f in mapping.items() if f == "emails"} == {
        "E-mail Address",
        "E-mail 2 Address",
        "E-mail 3 Address",
    }
    assert {"Business Phone", "Mobile Phone", "Home Phone", "Primary Phone"} <= {
        h for h, f in mapping.items() if f == "phones"
    }
    for unmapped in ("E-mail Type", "E-mail Display Name", "Business Fax", "Assistant's Phone",
                     "Pager", "Middle Name", "Web Page"):  # fmt: skip
        assert unmapped not in mapping
    assert mapping["Business City"] == "city" and "Home City" not in mapping
    assert mapping["Categories"] == "tags" and mapping["Notes"] == "notes"
    names = [(cells[1], cells[3]) for _, cells in table.rows()]
    assert names == [
        ("Arbën", "Krasniqi"),
        ("Hélène", "Lefèvre"),
        ("José", "Muñoz"),
        ("Søren", "Østergaard"),
        ("Drita", "Çeku"),
    ]


def test_excel_unicode_text_reads_as_utf16_with_tabs_and_cyrillic_headers():
    table = _open("excel_unicode_text.txt")
    assert (table.encoding, table.delimiter) == ("utf-16", "\t")
    assert table.headers[:3] == ["Име", "Презиме", "Е-пошта"]
    assert _named(table) == {
        "Име": "given_name",
        "Презиме": "family_name",
        "Е-пошта": "emails",
        "Телефон": "phones",
        "Медиј": "outlet",
        "Функција": "title",
        "Град": "city",
        "Белешке": "notes",
    }
    rows = list(table.rows())
    assert [n for n, _ in rows] == [2, 3, 4]
    assert rows[0][1][7] == "Прати локалну самоуправу.\nЗвати пре 10 ч."
    assert rows[1][1][:2] == ["Ђорђе", "Петровић"]
    assert rows[2][1][:2] == ["Љубица", "Његош"]


def test_xlsx_reads_the_first_sheet_with_numbers_and_dates_as_text():
    table = _open("contacts.xlsx")
    assert (table.file_format, table.encoding, table.delimiter) == ("xlsx", "", "")
    assert table.headers[:4] == ["Emri", "Mbiemri", "Email", "Telefoni"]
    mapping = _named(table)
    assert mapping["Emri"] == "given_name" and mapping["Mbiemri"] == "family_name"
    assert mapping["Telefoni"] == "phones" and mapping["Media"] == "outlet"
    assert mapping["Tema"] == "beats" and mapping["Shënime"] == "notes"
    rows = list(table.rows())
    assert [n for n, _ in rows] == [2, 3, 5]  # row 4 is empty in the sheet
    first, second, third = (dict(zip(table.headers, c, strict=True)) for _, c in rows)
    assert first["Telefoni"] == "38344123456"  # stored as a number
    assert second["Telefoni"] == "38349765432"  # stored as a float
    assert third["Telefoni"] == "+383 45 222 333"
    assert first["Takimi i fundit"] == "2026-11-26"
    assert second["Takimi i fundit"] == "2025-03-04 14:30"
    assert (first["Aktiv"], second["Aktiv"]) == ("TRUE", "FALSE")
    assert first["Mbiemri"] == "Këlmendi" and second["Mbiemri"] == "Çeku"
    assert third["Shënime"] == "Thirr pas orës 10.\nJo SMS."


def test_duplicates_and_errors_fixture_keeps_row_numbers_and_broken_rows():
    table = _open("duplicates_and_errors.csv")
    assert (table.encoding, table.delimiter) == ("utf-8-sig", ",")
    assert table.headers[0] == "Name"  # no BOM left in the first header
    assert _named(table) == {
        "Name": "full_name",
        "Email": "emails",
        "Phone": "phones",
        "Outlet": "outlet",
        "Position": "title",
        "Beats": "beats",
        "Tags": "tags",
        "Notes": "notes",
    }
    rows = dict(table.rows())
    assert sorted(rows) == [2, 3, 4, 6, 7, 8, 9, 10, 13]
    assert (rows[2][0], rows[2][3]) == ("Arbën Krasniqi", "Koha Ditore")
    assert (rows[3][0], rows[3][3]) == ("Arben Krasniqi", "Koha")
    assert rows[6][1] == "  LINDITA.Berisha@Zeri.example.net "
    assert rows[8][0] == "" and rows[8][1] == "no.name@kallxo.example.net"
    assert len(split_values(rows[9][1])) == 2
    assert rows[10][7] == "Prefers calls.\nDo not send embargoed material."


def test_fixtures_are_what_the_script_writes():
    """The committed files are the generator's output, so either can be trusted."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_fixtures", FIXTURES / "make_fixtures.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name, make in module.FIXTURES.items():
        assert (FIXTURES / name).read_bytes() == make(), name


# --- encodings -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("codec", "expected"),
    [
        ("utf-8", "utf-8"),
        ("utf-8-sig", "utf-8-sig"),
        ("utf-16", "utf-16"),  # BOM, little-endian here
        ("utf-16-be-bom", "utf-16"),
        ("cp1250", "windows-1250"),
        ("iso8859-2", "iso-8859-2"),
    ],
)
def test_encodings_are_detected_and_balkan_letters_come_out_right(codec: str, expected: str):
    text = _csv(SERBIAN_ALBANIAN, delimiter=";")
    if codec == "utf-16-be-bom":
        data = codecs.BOM_UTF16_BE + text.encode("utf-16-be")
    else:
        data = text.encode(codec)
    table = open_table(data, "lista.csv")
    assert table.encoding == expected
    assert [cells for _, cells in table.rows()] == SERBIAN_ALBANIAN[1:]


def test_windows_1252_names_are_not_read_as_central_european():
    rows = [["First Name", "Last Name"], ["Hélène", "Lefèvre"], ["José", "Muñoz"],
            ["Søren", "Østergaard"], ["Arbën", "Çeku"]]  # fmt: skip
    table = open_table(_csv(rows).encode("cp1252"), "outlook.csv")
    assert table.encoding == "windows-1252"
    assert [cells for _, cells in table.rows()] == rows[1:]


def test_serbian_cyrillic_in_windows_1251():
    rows = [["Име", "Презиме", "Град"], ["Ђорђе", "Ћосић", "Звечан"],
            ["Милица", "Јовановић", "Лепосавић"]]  # fmt: skip
    table = open_table(_csv(rows, delimiter=";").encode("cp1251"), "cirilica.csv")
    assert table.encoding == "windows-1251"
    assert [cells for _, cells in table.rows()] == rows[1:]


def test_albanian_only_text_reads_right_from_any_windows_code_page():
    rows = [["Emri", "Mbiemri"], ["Arbën", "Këlmendi"], ["Çlirim", "Gashi"]]
    for codec in ("cp1250", "cp1252", "iso8859-2"):
        table = open_table(_csv(rows).encode(codec), "sq.csv")
        assert [cells for _, cells in table.rows()] == rows[1:], codec


def test_utf16_without_bom_is_recognised():
    data = _csv(SERBIAN_ALBANIAN, delimiter="\t").encode("utf-16-le")
    table = open_table(data, "unicode.txt")
    assert table.encoding == "utf-16-le"
    assert table.headers == SERBIAN_ALBANIAN[0]


def test_chosen_encoding_overrides_detection():
    data = _csv(SERBIAN_ALBANIAN, delimiter=";").encode("cp1250")
    table = open_table(data, "lista.csv", encoding="windows-1252")
    assert table.encoding == "windows-1252"
    assert next(table.rows())[1][:2] == ["Ðorðe", "Æosiæ"]  # what the officer asked for
    utf8 = open_table(_csv(SERBIAN_ALBANIAN).encode("utf-8"), "l.csv", encoding="iso-8859-2")
    assert utf8.encoding == "iso-8859-2"
    assert "Ä" in next(utf8.rows())[1][0]


def test_unknown_encoding_is_refused_with_a_sentence():
    for name in ("klingon-8", "base64", "rot13", "idna"):
        assert "not an encoding" in _unreadable(b"a,b\r\n1,2\r\n", encoding=name), name


# --- delimiters and CSV quirks ---------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_delimiter_is_detected_even_with_the_others_inside_cells(delimiter: str):
    rows = [
        ["Name", "Email", "Notes"],
        ["Arbën Krasniqi", "a@koha.example.net", "Calls back; slow, but reliable"],
        ["Jelena Đorđević", "j@danas.example.rs", "EU, dialogue; rule of law"],
        ["Besnik Gashi", "b@nacionale.example.net", "Environment\tair"],
    ]
    table = open_table(_csv(rows, delimiter=delimiter).encode(), "list.csv")
    assert table.delimiter == delimiter
    assert [cells for _, cells in table.rows()] == rows[1:]


def test_chosen_delimiter_overrides_detection():
    table = open_table(b"Name;Email\r\nA;c@x.example.org\r\n", "a.csv", delimiter=",")
    assert table.delimiter == "," and table.headers == ["Name;Email"]
    assert list(table.rows()) == [(2, ["A;c@x.example.org"])]
    assert open_table(b"a\tb\r\n1\t2\r\n", "a.csv", delimiter="tab").delimiter == "\t"
    assert "separator" in _unreadable(b"a,b\r\n", delimiter="ab")


def test_excel_sep_line_sets_the_delimiter_and_is_not_a_row():
    data = "sep=;\r\nIme;Prezime\r\nĐorđe;Ćosić\r\n".encode("cp1250")
    table = open_table(data, "a.csv")
    assert table.delimiter == ";"
    assert table.headers == ["Ime", "Prezime"]
    assert list(table.rows()) == [(2, ["Đorđe", "Ćosić"])]


def test_blank_rows_are_skipped_but_still_counted_in_row_numbers():
    data = b"Name,Email\n\nA,a@x.example.org\n,\n  ,  \nB,b@x.example.org\n"
    table = open_table(data, "a.csv")
    assert list(table.rows()) == [(3, ["A", "a@x.example.org"]), (6, ["B", "b@x.example.org"])]
    assert table.row_count == 2


def test_leading_blank_lines_before_the_header():
    table = open_table(b"\r\n\r\nName,Email\r\nA,a@x.example.org\r\n", "a.csv")
    assert table.headers == ["Name", "Email"]
    assert list(table.rows()) == [(4, ["A", "a@x.example.org"])]


def test_quoted_newlines_stay_in_one_cell_and_one_row_number():
    data = b'Name,Notes\r\nA,"line one\r\nline two"\r\nB,x\r\n'
    assert list(open_table(data, "a.csv").rows()) == [
        (2, ["A", "line one\r\nline two"]),
        (3, ["B", "x"]),
    ]


def test_trailing_empty_columns_disappear_but_data_under_unnamed_columns_stays():
    data = b"Name;Email;;;\r\nA;a@x.example.org;;;\r\nB;b@x.example.org;extra;;\r\nC\r\n"
    table = open_table(data, "a.csv")
    assert table.headers == ["Name", "Email", ""]
    assert list(table.rows()) == [
        (2, ["A", "a@x.example.org", ""]),
        (3, ["B", "b@x.example.org", "extra"]),
        (4, ["C", "", ""]),
    ]


def test_nul_bytes_are_removed_from_cells():
    data = (
        b"Name,Email\r\nArb\x00en,a\x00@koha.example.net\r\n\x00\x00\x00\r\nB,b@x.example.org\r\n"
    )
    table = open_table(data, "a.csv")
    assert list(table.rows()) == [
        (2, ["Arben", "a@koha.example.net"]),
        (4, ["B", "b@x.example.org"]),
    ]


def test_old_mac_line_ends_and_a_missing_final_newline():
    table = open_table(b"Name,Email\rA,a@x.example.org\rB,b@x.example.org", "a.csv")
    assert [n for n, _ in table.rows()] == [2, 3]


def test_rows_can_be_walked_again():
    table = _open("serbian_excel_windows1250.csv")
    assert list(table.rows()) == list(table.rows())
    xlsx = _open("contacts.xlsx")
    assert list(xlsx.rows()) == list(xlsx.rows())


def test_a_header_row_only_gives_a_table_with_no_rows():
    table = open_table("Ime;Prezime;E-mail\r\n".encode("cp1250"), "prazno.csv")
    assert table.headers == ["Ime", "Prezime", "E-mail"]
    assert list(table.rows()) == [] and table.row_count == 0


def test_a_single_column_file():
    table = open_table(b"Email\na@x.example.org\nb@y.example.org\n", "emails.csv")
    assert table.headers == ["Email"]
    assert [c for _, c in table.rows()] == [["a@x.example.org"], ["b@y.example.org"]]


def test_an_xlsx_renamed_to_csv_is_read_as_a_workbook():
    table = open_table((FIXTURES / "contacts.xlsx").read_bytes(), "contacts.csv")
    assert table.file_format == "xlsx" and table.headers[0] == "Emri"


# --- files that cannot be read ---------------------------------------------------------------


def test_empty_files_are_refused():
    assert _unreadable(b"") == "The file is empty."
    assert _unreadable(b" \r\n\r\n") == "The file is empty."
    assert _unreadable(codecs.BOM_UTF8) == "The file is empty."
    assert _unreadable(b",,,\r\n,,,\r\n") == "The file is empty."


def test_binary_files_renamed_to_csv_are_refused():
    png = b"\x89PNG\r\n\x1a\n" + bytes(random.Random(1).randrange(256) for _ in range(5000))
    assert "binary" in _unreadable(png)
    noise = bytes(random.Random(2).randrange(256) for _ in range(20_000))
    assert "binary" in _unreadable(noise)
    assert "binary" in _unreadable(b"\x00\x01\x02" * 500 + b"\xff\xfe\x00")
    pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"
    assert "binary" in _unreadable(pdf)
    docx = io.BytesIO()
    import zipfile

    with zipfile.ZipFile(docx, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    assert "binary" in _unreadable(docx.getvalue())


def test_a_truncated_xlsx_is_refused():
    data = (FIXTURES / "contacts.xlsx").read_bytes()
    for cut in (len(data) // 2, len(data) - 30, 100):
        assert "damaged" in _unreadable(data[:cut], "contacts.xlsx")


def test_a_corrupt_sheet_inside_an_xlsx_is_refused():
    data = (FIXTURES / "contacts.xlsx").read_bytes()
    out = io.BytesIO()
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            content = src.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                content = content[: len(content) // 2]
            dst.writestr(info, content)
    assert "damaged" in _unreadable(out.getvalue(), "contacts.xlsx")


def test_old_xls_and_other_formats_get_a_save_as_hint():
    ole2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600
    assert "save it as .xlsx or CSV" in _unreadable(ole2, "lista.xls")
    assert "save it as .xlsx or CSV" in _unreadable(ole2, "lista.xlsx")  # password-protected
    assert "save it as .xlsx or CSV" in _unreadable(b"<html></html>", "lista.xls")
    assert "save it as .xlsx or CSV" in _unreadable(b"PK\x03\x04...", "lista.ods")
    assert "not .pdf files" in _unreadable(b"%PDF-1.4", "lista.pdf")
    assert "not an Excel workbook" in _unreadable(b"Name,Email\r\n", "lista.xlsx")


def test_ten_thousand_columns_are_refused_with_the_numbers():
    header = ",".join(f"Column {i}" for i in range(10_000)) + "\r\n"
    message = _unreadable((header + "x," * 9_999 + "x\r\n").encode())
    assert "10,000 columns" in message and "500" in message
    wide_data = b"Name,Email\r\n" + b"x," * 9_999 + b"x\r\n"
    assert "10,000 columns" in _unreadable(wide_data)


def test_ten_thousand_columns_in_a_workbook_are_refused():
    book = openpyxl.Workbook()
    book.active.append([f"C{i}" for i in range(10_000)])
    out = io.BytesIO()
    book.save(out)
    assert "10,000 columns" in _unreadable(out.getvalue(), "wide.xlsx")


def test_too_many_rows_are_refused_with_the_limit():
    data = _csv([["Name"]] + [[f"Person {i}"] for i in range(6)]).encode()
    assert "more than 5 rows" in _unreadable(data, max_rows=5)
    assert open_table(data, "a.csv", max_rows=6).row_count == 6
    book = openpyxl.Workbook()
    for i in range(7):
        book.active.append([f"Person {i}"])
    out = io.BytesIO()
    book.save(out)
    assert "more than 5 rows" in _unreadable(out.getvalue(), "a.xlsx", max_rows=5)


def test_a_runaway_quote_gives_a_sentence_not_a_crash():
    data = b'Name,Notes\r\nA,"never closed\r\n' + b"x" * 200_000 + b"\r\n"
    assert "could not be read" in _unreadable(data)


# --- header guessing -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (["Emri i plotë", "Email", "Telefoni", "Media", "Pozicioni", "Qyteti", "Shënime"],
         ["full_name", "emails", "phones", "outlet", "title", "city", "notes"]),
        (["Emri", "Mbiemri", "E-mail adresa", "Nr. tel", "Redakcija", "Funksioni", "Tema"],
         ["given_name", "family_name", "emails", "phones", "outlet", "title", "beats"]),
        (["Ime i prezime", "E-mail", "Medij", "Funkcija", "Grad", "Beleške", "Resor"],
         ["full_name", "emails", "outlet", "title", "city", "notes", "beats"]),
        (["Име", "Презиме", "Е-пошта", "Телефон", "Медиј", "Град"],
         ["given_name", "family_name", "emails", "phones", "outlet", "city"]),
        (["Name", "Email", "Phone", "Outlet", "Title", "Beat", "Tags", "Language"],
         ["full_name", "emails", "phones", "outlet", "title", "beats", "tags",
          "preferred_language"]),
        (["Emri", "Email"], ["full_name", "emails"]),
        (["Ime", "Email"], ["full_name", "emails"]),
        (["Name", "Surname", "EMAIL", "mobile"],
         ["given_name", "family_name", "emails", "phones"]),
        (["Twitter", "LinkedIn", "Facebook", "Instagram", "Mastodon", "Do not contact"],
         ["x", "linkedin", "facebook", "instagram", "mastodon", "do_not_contact"]),
        (["Gjuhët", "Jezik", "Rajoni", "Etiketat", "Gjinia"],
         ["languages", "preferred_language", "region", "tags", "salutation"]),
    ],
)  # fmt: skip
def test_header_names_in_english_albanian_and_serbian(headers: list[str], expected: list[str]):
    assert guess_mapping(headers) == dict(enumerate(expected))


def test_old_google_format_keeps_name_as_full_name_beside_given_and_family():
    headers = ["Name", "Given Name", "Additional Name", "Family Name", "E-mail 1 - Type",
               "E-mail 1 - Value", "Organization 1 - Name", "Organization 1 - Title",
               "Group Membership"]  # fmt: skip
    assert guess_mapping(headers) == {
        0: "full_name",
        1: "given_name",
        3: "family_name",
        5: "emails",
        6: "outlet",
        7: "title",
        8: "tags",
    }


def test_headers_are_matched_without_case_diacritics_or_spaces():
    assert guess_mapping(["  EMRI I PLOTE ", "e_mail", "SHENIME", "beleske"]) == {
        0: "full_name",
        1: "emails",
        2: "notes",
        3: "notes",
    }


def test_descriptive_headers_still_find_email_and_phone():
    assert guess_mapping(["Email i gazetarit", "Telefon (mobilni)", "Social media"]) == {
        0: "emails",
        1: "phones",
    }


def test_a_single_valued_field_goes_to_the_first_column_only():
    assert guess_mapping(["City", "Grad", "Email", "Email 2"]) == {
        0: "city",
        2: "emails",
        3: "emails",
    }


def test_unknown_and_empty_headers_are_left_unmapped():
    assert guess_mapping(["", "Favourite colour", "Birthday"]) == {}


def test_fields_and_multi_fields_are_consistent():
    assert MULTI_FIELDS <= set(FIELDS)
    mapped = {f for headers in (["Name", "Email"], ["Emri", "Mbiemri"]) for f in
              guess_mapping(headers).values()}  # fmt: skip
    assert mapped <= set(FIELDS)


# --- several values in one cell --------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "values"),
    [
        ("a@x.org; b@y.org", ["a@x.org", "b@y.org"]),
        ("a@x.org, b@y.org", ["a@x.org", "b@y.org"]),
        ("a@x.org\nb@y.org\r\nc@z.org", ["a@x.org", "b@y.org", "c@z.org"]),
        ("a@x.org ::: b@y.org", ["a@x.org", "b@y.org"]),
        ("a@x.org b@y.org", ["a@x.org", "b@y.org"]),
        ("  a@x.org  ", ["a@x.org"]),
        ("+383 44 123 456", ["+383 44 123 456"]),
        ("Rule of law, Corruption;EU", ["Rule of law", "Corruption", "EU"]),
        ("", []),
        (" ; , ", []),
    ],
)
def test_split_values(cell: str, values: list[str]):
    assert split_values(cell) == values


def test_table_rows_are_padded_and_truncated_to_the_header():
    table = open_table(b"A,B,C\r\n1\r\n1,2,3\r\n", "a.csv")
    assert [c for _, c in table.rows()] == [["1", "", ""], ["1", "2", "3"]]


def test_cells_of_every_excel_type_become_text():
    book = openpyxl.Workbook()
    book.active.append(["Value"])
    for value in (0.5, 1e-7, 383441234567890, 1.5e20, -3, datetime(2026, 11, 26, 9, 5, 7)):
        book.active.append([value])
    out = io.BytesIO()
    book.save(out)
    table = open_table(out.getvalue(), "types.xlsx")
    assert [c[0] for _, c in table.rows()] == [
        "0.5",
        "0.0000001",
        "383441234567890",
        "150000000000000000000",
        "-3",
        "2026-11-26 09:05:07",
    ]


@settings(max_examples=300, deadline=None)
@given(
    data=st.one_of(
        st.binary(max_size=400),
        st.lists(st.sampled_from(list(_PIECES)), max_size=80).map(b"".join),
    ),
    filename=st.sampled_from(["a.csv", "a.txt", "a.xlsx", "a"]),
)
def test_any_upload_gives_a_table_or_a_sentence(data: bytes, filename: str):
    try:
        table = open_table(data, filename, max_rows=50)
    except UnreadableFile as exc:
        assert str(exc).endswith(".")
        return
    assert all(len(cells) == len(table.headers) for _, cells in table.rows())


def test_binary_that_looks_like_utf16_is_refused():
    numbers = random.Random(3)
    data = b"".join(numbers.randrange(0, 40).to_bytes(2, "little") for _ in range(3000))
    assert "binary" in _unreadable(data)
    noise = codecs.BOM_UTF16_LE + bytes(numbers.randrange(256) for _ in range(4000))
    assert "binary" in _unreadable(noise)
