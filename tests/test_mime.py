"""Campaign messages built from a prepared structure: headers, parts, tokens, DKIM, SMTP."""

from __future__ import annotations

import base64
import quopri
import random
import re
import socket
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from typing import Any

import aiosmtplib
import dkim
import pytest
from aiosmtpd.controller import Controller
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from outreach.mime import (
    Attachment,
    DkimKey,
    PreparedMessage,
    header_safe,
    new_message_id,
    quoted_printable,
    read_reply_token,
    reply_address,
    reply_token,
    sending_domain,
)

SECRET = b"reply-secret-for-tests"
FROM = "press@qendra.example.org"
TEXT = "Të nderuar Arta,\n\nJu ftojmë në konferencën për shtyp: ë ç.\n\nMe respekt,\nQendra\n"
HTML = "<p>Të nderuar Arta,</p><p>Ju ftojmë në konferencën për shtyp: ë ç.</p>"
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(255, -1, -1)) * 20


def prepare(**overrides: Any) -> PreparedMessage:
    values: dict[str, Any] = {
        "from_name": "Qendra për Drejtësi",
        "from_address": FROM,
        "list_id": "press.qendra.example.org",
        "list_name": "Njoftime për media",
    }
    return PreparedMessage(**(values | overrides))


def fill(prepared: PreparedMessage, **overrides: Any) -> bytes:
    values: dict[str, Any] = {
        "to_name": "Arta Krasniqi",
        "to_address": "arta@koha.example.net",
        "subject": "Ftesë: konferencë për shtyp",
        "text": TEXT,
        "html": HTML,
        "message_id": new_message_id(prepared.domain),
        "reply_to": reply_address(SECRET, 42, "reply.qendra.example.org"),
        "unsubscribe_url": "https://qendra.example.org/u/abc123",
        "unsubscribe_mailto": "mailto:unsubscribe+abc123@reply.qendra.example.org",
    }
    return prepared.fill(**(values | overrides))


def parse(raw: bytes) -> EmailMessage:
    message = BytesParser(policy=default_policy).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    for part in message.walk():
        assert not part.defects, part.defects
    return message


def text_of(message: EmailMessage, subtype: str) -> str:
    part = message.get_body((subtype,))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


# --- headers ---------------------------------------------------------------------------------


def test_every_header_decodes_back_to_the_input() -> None:
    prepared = prepare()
    message_id = new_message_id(prepared.domain)
    date = datetime(2025, 3, 14, 10, 30, tzinfo=timezone(timedelta(hours=1)))
    raw = fill(
        prepared,
        to_name="Поштовани Jovanović",
        subject="Ftesë për gazetarët: ë ç — Поштовани",
        message_id=message_id,
        date=date,
    )
    message = parse(raw)
    assert message["From"] == "Qendra për Drejtësi <press@qendra.example.org>"
    assert message["To"] == "Поштовани Jovanović <arta@koha.example.net>"
    assert message["Subject"] == "Ftesë për gazetarët: ë ç — Поштовани"
    assert message["Date"].datetime == date
    assert message["Message-ID"] == message_id
    assert message["Reply-To"] == reply_address(SECRET, 42, "reply.qendra.example.org")
    assert message["MIME-Version"] == "1.0"
    assert message["List-Id"] == "Njoftime për media <press.qendra.example.org>"
    assert message["List-Unsubscribe"] == (
        "<https://qendra.example.org/u/abc123>, "
        "<mailto:unsubscribe+abc123@reply.qendra.example.org>"
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_non_ascii_names_are_rfc2047_encoded_and_ascii_names_stay_readable() -> None:
    raw = fill(prepare(), to_name='Arta "Ari" Krasniqi')
    head = raw.partition(b"\r\n\r\n")[0]
    assert b"From: =?utf-8?q?Qendra_p=C3=ABr_Drejt=C3=ABsi?= <press@qendra.example.org>" in head
    assert b'To: "Arta \\"Ari\\" Krasniqi" <arta@koha.example.net>' in head
    assert parse(raw)["To"].addresses[0].display_name == 'Arta "Ari" Krasniqi'


@pytest.mark.parametrize(
    "subject",
    [
        "Press conference on the annual report " * 6,
        "Konferencë për shtyp mbi raportin vjetor të Qendrës për Drejtësi " * 4,
        "Поштовани, позивамо вас на конференцију за медије " * 4,
        "x" * 300,
        "Looks like =?utf-8?q?an_encoded_word?= but is not",
    ],
)
def test_long_subjects_fold_at_78_and_decode_back(subject: str) -> None:
    raw = fill(prepare(), subject=subject)
    head = raw.partition(b"\r\n\r\n")[0]
    assert all(len(line) <= 78 for line in head.split(b"\r\n"))
    assert parse(raw)["Subject"] == " ".join(subject.split())


def test_message_id_is_on_the_from_domain_not_the_host_name() -> None:
    prepared = prepare(from_address="Press@Qendra.Example.org")
    assert prepared.domain == sending_domain("Qendra <press@qendra.example.org>")
    assert prepared.domain == "qendra.example.org"
    message_id = parse(fill(prepared))["Message-ID"]
    assert re.fullmatch(r"<[a-z2-7]{24}@qendra\.example\.org>", message_id)
    with pytest.raises(ValueError, match="Message-ID"):
        fill(prepared, message_id=f"<abc@{socket.getfqdn()}.invalid>")


def test_message_ids_are_unique() -> None:
    assert len({new_message_id("qendra.example.org") for _ in range(1000)}) == 1000


def test_date_defaults_to_now_and_must_have_a_time_zone() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    assert parse(fill(prepare()))["Date"].datetime >= before
    with pytest.raises(ValueError, match="time zone"):
        fill(prepare(), date=datetime(2025, 3, 14, 10, 30))


# --- header injection ----------------------------------------------------------------------


def test_header_safe_turns_control_characters_into_spaces() -> None:
    assert header_safe("Hi\r\nBcc: x@evil") == "Hi Bcc: x@evil"
    assert header_safe("a\x00b\tc\u2028d\x85e\u202ef  ") == "a b c d e f"


def test_line_breaks_in_names_and_subject_cannot_add_headers() -> None:
    prepared = prepare(from_name="Qendra\r\nBcc: x@evil", list_name="News\nBcc: y@evil")
    raw = fill(
        prepared,
        subject="Hi\r\nBcc: x@evil",
        to_name="Arta\r\nBcc: z@evil\r\n\r\nbody",
    )
    message = parse(raw)
    assert message["Bcc"] is None
    assert message["Subject"] == "Hi Bcc: x@evil"
    assert message["To"].addresses[0].display_name == "Arta Bcc: z@evil body"
    assert message["To"].addresses[0].addr_spec == "arta@koha.example.net"
    assert len(message.get_all("To") or []) == 1


@pytest.mark.parametrize(
    "field, value",
    [
        ("to_address", "arta@koha.example.net\r\nBcc: x@evil"),
        ("to_address", "arta@koha.example.net>, <x@evil"),
        ("to_address", "not an address"),
        ("reply_to", "reply@example.org\nBcc: x@evil"),
        ("unsubscribe_url", "https://qendra.example.org/u/1\r\nBcc: x@evil"),
        ("unsubscribe_url", "javascript:alert(1)"),
        ("unsubscribe_mailto", "mailto:u@example.org>, <https://evil"),
        ("message_id", "<abc@qendra.example.org>\r\nBcc: x@evil"),
    ],
)
def test_malformed_addresses_and_urls_are_rejected(field: str, value: str) -> None:
    with pytest.raises(ValueError):
        fill(prepare(), **{field: value})


# --- parts ------------------------------------------------------------------------------------


def test_text_and_html_parts_are_quoted_printable_utf8_and_decode_back() -> None:
    message = parse(fill(prepare(), text="Поштовани,\n\nё ç ë\n", html="<p>Поштовани, ë</p>"))
    assert message.get_content_type() == "multipart/alternative"
    plain, html = message.iter_parts()
    for part, subtype in ((plain, "plain"), (html, "html")):
        assert part.get_content_type() == f"text/{subtype}"
        assert part.get_content_charset() == "utf-8"
        assert part["Content-Transfer-Encoding"] == "quoted-printable"
    assert text_of(message, "plain") == "Поштовани,\n\nё ç ë\n"
    assert "<body>\n<p>Поштовани, ë</p>\n</body>" in text_of(message, "html")


def test_an_html_fragment_gets_a_document_and_a_document_stays_as_it_is() -> None:
    wrapped = text_of(parse(fill(prepare(), html="<p>ë</p>")), "html")
    assert wrapped.startswith('<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head>')
    document = '<!DOCTYPE html>\n<HTML lang="sq"><body><p>ë</p></body></HTML>\n'
    assert text_of(parse(fill(prepare(), html=document)), "html") == document


def test_attachments_wrap_the_alternative_in_multipart_mixed() -> None:
    prepared = prepare(
        attachments=[
            Attachment("report.pdf", "application/pdf", PDF),
            Attachment("photo.png", "image/png", PNG),
        ]
    )
    message = parse(fill(prepared))
    assert message.get_content_type() == "multipart/mixed"
    alternative, pdf, png = message.iter_parts()
    assert [p.get_content_type() for p in alternative.iter_parts()] == ["text/plain", "text/html"]
    assert text_of(message, "plain") == TEXT
    assert (pdf.get_filename(), pdf.get_content_type(), pdf.get_content()) == (
        "report.pdf",
        "application/pdf",
        PDF,
    )
    assert (png.get_filename(), png.get_content()) == ("photo.png", PNG)
    assert pdf.get_content_disposition() == "attachment"


@pytest.mark.parametrize(
    "filename",
    [
        "Raporti për të drejtat ë ç.pdf",
        "Извештај о раду 2024 — Поштовани новинари, ово је дугачак назив датотеке.pdf",
        'quote " and back\\slash.pdf',
    ],
)
def test_non_ascii_attachment_filenames_use_rfc2231(filename: str) -> None:
    raw = fill(prepare(attachments=[Attachment(filename, "application/pdf", PDF)]))
    assert b"filename*" in raw
    attachment = list(parse(raw).iter_attachments())[0]
    assert attachment.get_filename() == filename
    assert attachment.get_param("name") == filename


def test_text_lines_starting_with_dot_or_from_are_escaped_and_survive() -> None:
    text = ".\n.hidden line\nFrom here on\n" + "x" * 75 + ".soft break\n" + "y" * 75 + "From x\n"
    raw = fill(prepare(), text=text)
    body = raw.partition(b"\r\n\r\n")[2]
    assert not re.search(rb"(?m)^(\.|From )", body)
    assert b"\r\n=2E\r\n=2Ehidden line\r\n=46rom here on\r\n" in body
    assert text_of(parse(raw), "plain") == text


def test_trailing_whitespace_and_long_lines_survive_quoted_printable() -> None:
    text = "trailing spaces   \ntab\t\n" + "ë" * 500 + "\n" + "word " * 200 + "\r\nend"
    assert text_of(parse(fill(prepare(), text=text)), "plain") == text.replace("\r\n", "\n") + "\n"


def test_an_escaped_trailing_space_never_runs_a_line_past_76() -> None:
    text = "".join("x" * n + " \n" for n in range(70, 78))  # binascii.b2a_qp makes 78 here
    encoded = quoted_printable(text)
    assert max(map(len, encoded.split(b"\r\n"))) <= 76
    assert quopri.decodestring(encoded).decode().replace("\r\n", "\n") == text


def test_quoted_printable_holds_its_rules_for_random_text() -> None:
    rng = random.Random(2045)
    pieces = [*"ab .F\t=ë\nП", "From ", "\r\n", "\r", " \n", "\x00", "x" * 70]
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 120)))
        encoded = quoted_printable(text)
        lines = encoded.split(b"\r\n")
        assert lines[-1] == b"" and max(map(len, lines)) <= 76, encoded
        assert not re.search(rb"[\r\n]", b"".join(lines)), encoded
        assert not re.search(rb"(?m)^(\.|From )|[ \t]\r\n", encoded), encoded
        expected = text.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n")
        decoded = quopri.decodestring(encoded).decode().replace("\r\n", "\n")
        assert decoded == expected + ("" if expected.endswith("\n") else "\n"), text


def test_lines_are_crlf_and_never_longer_than_78_let_alone_998() -> None:
    key = DkimKey("bb1", "qendra.example.org", private_key_pem())
    attachments = [Attachment("Raporti ë " * 20 + ".pdf", "application/pdf", PDF * 5)]
    raw = fill(
        prepare(attachments=attachments, dkim=key),
        subject="ë" * 400,
        to_name="Поштовани " * 30,
        text="ë" * 3000 + "\n" + "a" * 3000,
        html="<p>" + "b" * 5000 + "</p>",
    )
    assert raw.endswith(b"\r\n")
    lines = raw.split(b"\r\n")
    assert not any(b"\r" in line or b"\n" in line for line in lines)
    assert max(map(len, lines)) <= 78  # the recommendation, well inside the 998 limit
    for part in parse(raw).walk():
        if not part.is_multipart():
            assert max(len(line) for line in str(part.get_payload()).splitlines()) <= 76


# --- reply tokens -----------------------------------------------------------------------------


@pytest.mark.parametrize("delivery_id", [0, 1, 42, 2**31, 2**63, 2**64 - 1])
def test_reply_token_round_trips(delivery_id: int) -> None:
    token = reply_token(SECRET, delivery_id)
    assert re.fullmatch(r"[a-z2-7]+", token)
    assert read_reply_token(SECRET, token) == delivery_id
    assert read_reply_token(SECRET, token.upper()) == delivery_id  # some servers shout


def test_tokens_in_mail_already_sent_keep_their_form() -> None:
    # Pinned: a token printed in a footer months ago must still name its delivery.
    assert reply_token(SECRET, 12345) == "aaaaaaaaaaydslcvxs7v4kczaodh4r35"
    assert reply_token(SECRET, 2**63) == "qaaaaaaaaaaaayvpzwuuvpnemzx67cit"
    assert read_reply_token(SECRET, "aaaaaaaaaaydslcvxs7v4kczaodh4r35") == 12345


def test_reply_address_local_part_fits_64_characters() -> None:
    address = reply_address(SECRET, 2**63, "reply.qendra.example.org")
    local, _, domain = address.partition("@")
    assert local.startswith("reply+") and len(local) <= 64
    assert domain == "reply.qendra.example.org"


def test_a_changed_character_makes_a_token_invalid() -> None:
    token = reply_token(SECRET, 12345)
    for i, char in enumerate(token):
        flipped = token[:i] + ("b" if char == "a" else "a") + token[i + 1 :]
        assert read_reply_token(SECRET, flipped) is None, i


def test_a_token_names_only_its_own_delivery() -> None:
    first, second = reply_token(SECRET, 7), reply_token(SECRET, 8)
    assert first != second
    assert (read_reply_token(SECRET, first), read_reply_token(SECRET, second)) == (7, 8)
    assert read_reply_token(b"another secret", first) is None


@pytest.mark.parametrize("token", ["", "abc", "a" * 32, "ё" * 32, "!" * 32, "a" * 40])
def test_garbage_tokens_read_as_none(token: str) -> None:
    assert read_reply_token(SECRET, token) is None


def test_delivery_ids_outside_64_bits_are_refused() -> None:
    for delivery_id in (-1, 2**64):
        with pytest.raises(ValueError):
            reply_token(SECRET, delivery_id)


# --- DKIM -------------------------------------------------------------------------------------


_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_key_pem() -> bytes:
    return _KEY.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def dns_txt(name: bytes, timeout: int = 5) -> bytes:
    """The DNS a verifier would ask: the public key at bb1._domainkey.qendra.example.org."""
    assert name == b"bb1._domainkey.qendra.example.org."
    public = _KEY.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


def test_dkim_signature_verifies_and_covers_the_list_headers() -> None:
    key = DkimKey("bb1", "qendra.example.org", private_key_pem())
    attachments = [Attachment("Raporti ë.pdf", "application/pdf", PDF)]
    raw = fill(prepare(attachments=attachments, dkim=key), subject="Поштовани ë")
    assert dkim.verify(raw, dnsfunc=dns_txt)
    signature = parse(raw)["DKIM-Signature"]
    assert "c=relaxed/relaxed" in signature.replace(" ", "")
    signed = re.search(r"h=([^;]+)", signature.replace(" ", ""))
    assert signed is not None
    assert set(signed[1].lower().split(":")) == {
        "from", "to", "subject", "date", "message-id", "reply-to", "list-unsubscribe",
        "list-unsubscribe-post", "list-id", "mime-version", "content-type",
    }  # fmt: skip


def test_a_changed_message_fails_dkim() -> None:
    key = DkimKey("bb1", "qendra.example.org", private_key_pem())
    raw = fill(prepare(dkim=key))
    assert not dkim.verify(raw.replace(b"Arta", b"Besa", 1), dnsfunc=dns_txt)


def test_a_bad_dkim_key_fails_when_the_campaign_is_prepared() -> None:
    with pytest.raises(dkim.DKIMException):
        prepare(dkim=DkimKey("bb1", "qendra.example.org", b"not a key"))


# --- SMTP -------------------------------------------------------------------------------------


class Inbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.original_content)
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_message_arrives_over_smtp_byte_for_byte() -> None:
    text = ".\n.hidden line\n..two dots\n" + "x" * 75 + ".after a soft break\n"
    key = DkimKey("bb1", "qendra.example.org", private_key_pem())
    attachments = [Attachment("Raporti ë.pdf", "application/pdf", PDF)]
    raw = fill(prepare(attachments=attachments, dkim=key), text=text)
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        await aiosmtplib.send(
            raw,
            sender=FROM,
            recipients=["arta@koha.example.net"],
            hostname="127.0.0.1",
            port=controller.port,
        )
    finally:
        controller.stop()
    assert inbox.messages == [raw]
    arrived = parse(inbox.messages[0])
    assert text_of(arrived, "plain") == text
    assert dkim.verify(inbox.messages[0], dnsfunc=dns_txt)
