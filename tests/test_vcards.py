"""vCards: what phones and address books export, read into import records; and our own
export, read back by us and by vobject."""

from __future__ import annotations

from pathlib import Path

import pytest
import vobject

from crm.vcards import ContactCard, UnreadableCards, export_vcards, parse_vcards

FIXTURES = Path(__file__).parent / "fixtures" / "vcard"


def records(name: str) -> list[dict[str, list[str]]]:
    return [record for _, record in parse_vcards((FIXTURES / name).read_bytes())]


def test_iphone_export_reads_every_card_with_names_emails_phones_and_outlet() -> None:
    arben, djordje, vjose = records("iphone-3.0.vcf")
    assert arben["given_name"] == ["Arbën"] and arben["family_name"] == ["Krasniqi"]
    assert arben["full_name"] == ["Arbën Krasniqi"]
    assert arben["emails"] == ["arben.krasniqi@koha.example", "lajme@koha.example"]
    assert arben["phones"] == ["+383 44 123 456", "038 222 111"]
    assert arben["outlet"] == ["Koha Ditore"]
    assert arben["title"] == ["Gazetar hulumtues"]
    assert arben["city"] == ["Prishtinë"] and arben["region"] == ["Prishtinë"]
    assert arben["tags"] == ["investigative", "rule of law"]
    # An escaped comma, a line break, and a note folded over several lines.
    assert arben["notes"][0].startswith("Takon në kafe, preferon telefonatat para orës 10.\n")
    assert arben["notes"][0].endswith("mos dërgo njoftime të gjata.")
    assert "photo" not in arben and "PHOTO" not in str(arben)
    assert djordje["given_name"] == ["Ђорђе"] and djordje["family_name"] == ["Јовановић"]
    assert djordje["outlet"] == ["Радио Контакт Плус"]
    assert djordje["city"] == ["Северна Митровица"]
    assert vjose["notes"][0].endswith("Preferon materialet në shqip dhe anglisht.")


def test_preferred_email_and_phone_come_first() -> None:
    [drita] = records("contact-4.0.vcf")
    assert drita["emails"][0] == "drita.hoxha@prizrenpress.example"
    _, djordje, _ = records("iphone-3.0.vcf")
    assert djordje["phones"][0] == "+383 45 987 654"


def test_social_profiles_come_from_socialprofile_labelled_urls_and_x_properties() -> None:
    arben, _, vjose = records("iphone-3.0.vcf")
    assert arben["x"] == ["arbenk"]  # X-SOCIALPROFILE;type=twitter;x-user=arbenk
    assert arben["linkedin"] == ["https://www.linkedin.com/in/arben-krasniqi-example"]
    assert vjose["x"] == ["https://x.com/vjoseberisha"]  # a URL on x.com
    *_, besnik = records("android-2.1.vcf")
    assert besnik["x"] == ["@besnikgashi"]  # X-TWITTER
    [drita] = records("contact-4.0.vcf")
    assert drita["mastodon"] == ["https://mastodon.social/@dritahoxha"]
    assert drita["instagram"] == ["https://www.instagram.com/dritahoxha"]


def test_android_quoted_printable_names_keep_their_letters_in_any_charset() -> None:
    fjolla, dragan, besnik = records("android-2.1.vcf")
    assert fjolla["given_name"] == ["Fjollë"] and fjolla["family_name"] == ["Çitaku"]
    assert fjolla["outlet"] == ["Radio Televizioni i Kosovës"]
    assert fjolla["title"] == ["Reportere për mjedisin"]
    # A soft line break inside a quoted-printable note.
    assert fjolla["notes"] == ["E takuam në konferencën për cilësin e ajrit në Prishtinë."]
    assert fjolla["phones"] == ["+38349111222", "038 200 300"]
    assert fjolla["emails"] == ["fjolla.citaku@rtk.example", "desk@rtk.example"]
    # CHARSET=WINDOWS-1250, as older Serbian phones write it.
    assert dragan["family_name"] == ["Ćosić"] and dragan["full_name"] == ["Dragan Ćosić"]
    assert besnik["outlet"] == ["Zëri"]


def test_vcard_4_with_bom_reads_uri_phones_languages_and_structured_names() -> None:
    [drita] = records("contact-4.0.vcf")
    assert drita["given_name"] == ["Drita"] and drita["family_name"] == ["Hoxha"]
    assert drita["salutation"] == ["Znj."]
    assert drita["phones"] == ["+383-44-555-666"]  # tel: URI
    assert drita["outlet"] == ["Prizren Press"]  # the department is not the outlet
    assert drita["languages"] == ["sq"]  # Turkish is not a language Beatbook mails in
    assert drita["city"] == ["Prizren"]
    assert drita["tags"] == ["environment", "air pollution"]
    assert drita["notes"] == ["Shkruan për ndotjen e ajrit, mbeturinat dhe lumenjtë."]


def test_a_broken_card_is_reported_by_number_and_the_others_still_read() -> None:
    found = list(parse_vcards((FIXTURES / "broken.vcf").read_bytes()))
    assert [n for n, _ in found] == [1, 2, 3, 4]
    assert found[0][1]["full_name"] == ["Leutrim Morina"]
    assert found[1][1] == {
        "_error": ["This card could not be read: line 10 of the file is not a vCard property."]
    }
    assert found[2][1]["emails"] == ["ilir@nacionale.example"]
    assert "cut off" in found[3][1]["_error"][0]


def test_unix_line_ends_and_utf16_files_are_read() -> None:
    text = "BEGIN:VCARD\nVERSION:3.0\nN:Këlmendi;Arta;;;\nFN:Arta Këlmendi\nEND:VCARD\n"
    for data in (text.encode(), text.encode("utf-16")):
        [(number, record)] = list(parse_vcards(data))
        assert number == 1 and record["family_name"] == ["Këlmendi"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"  \r\n", "empty"),
        (b"Given name;Family name\r\nArta;Kelmendi\r\n", "no vCard"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        (b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00", "binary"),
    ],
)
def test_a_file_that_is_not_a_vcard_is_refused_with_a_clear_message(
    data: bytes, message: str
) -> None:
    with pytest.raises(UnreadableCards, match=message):
        parse_vcards(data)


def card() -> ContactCard:
    return ContactCard(
        given_name="Ђорђе",
        family_name="Јовановић-Këlmendi",
        emails=["djordje@kontakt.example", "dj@mail.example", "third@example.org"],
        phones=["+383 45 987 654", "+381 28 123 456"],
        outlet="Radio Kontakt Plus; Sjever",
        title="Urednik, vesti",
        city="Mitrovicë",
        region="Mitrovica",
        notes="Piše o manjinama.\nZove posle 10h; ne voli duge mejlove, \\ ni priloge." * 3,
        social={"x": "@djordje", "mastodon": "https://mastodon.social/@dj"},
        categories=["manjine", "a, b"],
        uid="urn:uuid:9d1c2f38-1a4e-4a8e-9a43-7f3a1c6b2d10",
    )


@pytest.mark.parametrize("version", ["3.0", "4.0"])
def test_exported_cards_read_back_to_the_same_contact(version: str) -> None:
    text = "".join(export_vcards([card(), card()], version))
    found = list(parse_vcards(text.encode()))
    assert [n for n, _ in found] == [1, 2]
    record = found[0][1]
    c = card()
    assert record["given_name"] == [c.given_name]
    assert record["family_name"] == [c.family_name]
    assert record["emails"] == c.emails
    assert record["phones"] == c.phones
    assert record["outlet"] == [c.outlet]
    assert record["title"] == [c.title]
    assert record["city"] == [c.city] and record["region"] == [c.region]
    assert record["notes"] == [c.notes]
    assert record["x"] == ["@djordje"] and record["mastodon"] == [c.social["mastodon"]]
    assert record["tags"] == c.categories
    assert "do_not_contact" not in record


@pytest.mark.parametrize("version", ["3.0", "4.0"])
def test_export_is_valid_vcard_text_folded_at_75_octets(version: str) -> None:
    text = "".join(export_vcards([card()], version))
    assert text.startswith(f"BEGIN:VCARD\r\nVERSION:{version}\r\n")
    assert text.endswith("END:VCARD\r\n")
    assert "\n" not in text.replace("\r\n", "")
    lines = text.split("\r\n")[:-1]
    assert all(len(line.encode()) <= 75 for line in lines)
    assert any(line.startswith(" ") for line in lines)  # the long note was folded
    text.encode().decode("utf-8")  # folding never cuts a character in two
    assert "TITLE:Urednik\\, vesti\r\n" in text


def test_vobject_reads_our_vcard_3_export_too() -> None:
    """A second parser: what a phone's address book would see."""
    text = "".join(export_vcards([card()], "3.0"))
    parsed = vobject.readOne(text)
    assert parsed.fn.value == "Ђорђе Јовановић-Këlmendi"
    assert parsed.n.value.given == "Ђорђе"
    assert [e.value for e in parsed.contents["email"]] == card().emails
    assert parsed.org.value == ["Radio Kontakt Plus; Sjever"]
    assert parsed.note.value == card().notes
    assert parsed.categories.value == ["manjine", "a, b"]


def test_do_not_contact_is_visible_on_the_card_and_survives_a_round_trip() -> None:
    c = card()
    c.do_not_contact = True
    c.notes = "Asked us to stop."
    text = "".join(export_vcards([c], "4.0"))
    assert "NOTE:Do not contact.\\nAsked us to stop." in text
    [(_, record)] = list(parse_vcards(text.encode()))
    assert record["do_not_contact"] == ["yes"]
    assert record["notes"] == ["Asked us to stop."]


def test_export_refuses_an_unknown_version() -> None:
    with pytest.raises(ValueError, match="3.0, 4.0"):
        list(export_vcards([card()], "2.1"))
