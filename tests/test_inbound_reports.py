"""Bounces, auto-replies and complaints read from real-shaped mail (tests/fixtures/inbound/…),
and what is none of them: a person's reply, garbage, an empty message."""

from __future__ import annotations

import json
import time
from datetime import date
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from outreach.inbound.reports import auto_reply_of, bounce_of, complaint_of

FIXTURES = Path(__file__).parent / "fixtures" / "inbound"


def _expected(folder: str) -> list[dict[str, Any]]:
    return json.loads((FIXTURES / folder / "expected.json").read_text(encoding="utf-8"))


def _cases(folder: str) -> list[Any]:
    return [pytest.param(case, id=case["file"]) for case in _expected(folder)]


def _parse(raw: bytes) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    return message


def _load(folder: str, case: dict[str, Any]) -> EmailMessage:
    return _parse((FIXTURES / folder / case["file"]).read_bytes())


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("p", "div", "br", "tr", "li"):
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _text(message: EmailMessage) -> str:
    """What the caller passes as `text`: the plain part, else the HTML as text."""
    body = message.get_body(("plain", "html"))
    if body is None:
        return ""
    content = body.get_content()
    assert isinstance(content, str)
    if body.get_content_subtype() != "html":
        return content
    reader = _Text()
    reader.feed(content)
    return "".join(reader.parts)


def test_every_fixture_is_listed() -> None:
    for folder in ("bounce", "auto_reply", "complaint"):
        listed = {case["file"] for case in _expected(folder)}
        assert listed == {p.name for p in (FIXTURES / folder).glob("*.eml")}, folder


@pytest.mark.parametrize("case", _cases("bounce"))
def test_bounce(case: dict[str, Any]) -> None:
    message = _load("bounce", case)
    bounce = bounce_of(message)
    assert bounce is not None
    assert bounce.kind == case["kind"]
    assert bounce.address == case["address"]
    assert bounce.status == case["status"]
    assert case["diagnostic_contains"] in bounce.diagnostic
    assert len(bounce.diagnostic) <= 500 and "\n" not in bounce.diagnostic
    assert bounce.original_message_id == case["original_message_id"]
    assert auto_reply_of(message, _text(message)) is None
    assert complaint_of(message) is None


@pytest.mark.parametrize("case", _cases("auto_reply"))
def test_auto_reply(case: dict[str, Any]) -> None:
    message = _load("auto_reply", case)
    reply = auto_reply_of(message, _text(message))
    assert reply is not None
    assert reply.signal
    expected = case["away_until"]
    assert reply.away_until == (date.fromisoformat(expected) if expected else None)
    assert bounce_of(message) is None
    assert complaint_of(message) is None


@pytest.mark.parametrize("case", _cases("complaint"))
def test_complaint(case: dict[str, Any]) -> None:
    message = _load("complaint", case)
    complaint = complaint_of(message)
    assert complaint is not None
    assert complaint.address == case["address"]
    assert complaint.feedback_type == case["feedback_type"]
    assert complaint.original_message_id == case["original_message_id"]
    assert bounce_of(message) is None
    assert auto_reply_of(message, _text(message)) is None


def test_the_corpus_covers_every_kind() -> None:
    kinds = [case["kind"] for case in _expected("bounce")]
    least = {"hard": 5, "soft": 3, "delayed": 3, "policy": 3}
    assert all(kinds.count(kind) >= n for kind, n in least.items()), kinds
    assert len(_expected("auto_reply")) >= 6 and len(_expected("complaint")) >= 3


HUMAN_REPLY = """\
Return-Path: <arber.krasniqi@kallxo.example>
Delivered-To: reply+aaaaaaaaaaiaktsfi366iyopff5itb63@replies.qendra.org
From: =?utf-8?q?Arb=C3=ABr_Krasniqi?= <arber.krasniqi@kallxo.example>
To: reply+aaaaaaaaaaiaktsfi366iyopff5itb63@replies.qendra.org
Subject: =?utf-8?q?Re=3A_Ftes=C3=AB=3A_Konferenc=C3=AB_p=C3=ABr_media?=
Date: Tue, 1 Dec 2026 11:02:17 +0100
Message-ID: <CAK3n8Fq2mX0=vT@mail.kallxo.example>
In-Reply-To: <k7q2mzx4bv6yr3nw5tdp2ahf@qendra.org>
References: <k7q2mzx4bv6yr3nw5tdp2ahf@qendra.org>
X-Auto-Response-Suppress: All
Precedence: bulk
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Faleminderit, do të vij. Jam jashtë zyrës deri më 2 dhjetor, por konferencën
nuk e humbas. A mund të sjell edhe një kameraman?

Arbër

On Tue, 1 Dec 2026 at 10:30, Qendra për Media <info@qendra.org> wrote:
> Delivery has failed to these recipients or groups: just kidding.
"""


def test_a_person_s_reply_is_none_of_them() -> None:
    message = _parse(HUMAN_REPLY.replace("\n", "\r\n").encode())
    assert bounce_of(message) is None
    assert complaint_of(message) is None
    assert auto_reply_of(message, _text(message)) is None


def test_a_person_forwarding_a_bounce_is_no_bounce() -> None:
    raw = HUMAN_REPLY.replace("Re=3A_Ftes", "Fwd=3A_Undeliverable=3A_Ftes").replace(
        "> Delivery has failed", "Delivery has failed"
    )
    assert bounce_of(_parse(raw.encode())) is None


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff\xfe garbage \x80\x81",
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=x\r\n\r\n--x",
        b"Content-Type: message/delivery-status\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!",
        b"Content-Type: multipart/report; report-type=feedback-report; boundary=b\n\n--b\n"
        b"Content-Type: message/feedback-report\n\n--b\nContent-Type: message/rfc822\n\n--b--\n",
        b"From: <<<@@@>>>\nAuto-Submitted: ((((\nDate: 99 Foo 99999 99:99\n"
        b"Subject: =?x?q?=ZZ?=\n\n",
        b"Subject: Automatic reply: x\nDate: Mon, 30 Feb 2026 10:00:00 +0000\n\nuntil 31.02.",
    ],
    ids=[
        "empty",
        "garbage",
        "truncated-report",
        "base64-status",
        "empty-arf",
        "broken-headers",
        "impossible-date",
    ],  # fmt: skip
)
def test_odd_input_never_raises(raw: bytes) -> None:
    message = _parse(raw)
    bounce_of(message)
    complaint_of(message)
    auto_reply_of(message, raw.decode("latin-1"))


def test_long_lines_do_not_hang() -> None:
    # flufl.bounce's line patterns are quadratic in a line's length; a hostile bounce must
    # not stall the inbound worker.
    line = b"a" * 200_000
    raw = (
        b"From: MAILER-DAEMON@example.org\nSubject: Undelivered Mail Returned to Sender\n\n"
        b"This message was created automatically by mail delivery software.\n"
        b"A message that you sent could not be delivered to one or more\n" + line + b"\n"
    )
    started = time.monotonic()
    bounce = bounce_of(_parse(raw))
    auto_reply_of(_parse(raw), raw.decode() + "until " + "x" * 100_000)
    assert time.monotonic() - started < 5
    assert bounce is not None and bounce.address == ""


def _dsn(action: str, status: str, diagnostic: str = "") -> EmailMessage:
    return _parse(
        b"From: MAILER-DAEMON@mail.example.org (Mail Delivery System)\n"
        b"Subject: Successful Mail Delivery Report\n"
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n"
        b"--b\nContent-Type: text/plain\n\nReport.\n\n"
        b"--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mail.example.org\n\n"
        b"Final-Recipient: rfc822; Someone@Example.org\nAction: " + action.encode() + b"\n"
        b"Status: " + status.encode() + b"\n" + diagnostic.encode() + b"\n--b--\n"
    )


def test_a_report_of_successful_delivery_is_no_bounce() -> None:
    assert bounce_of(_dsn("delivered", "2.0.0")) is None
    assert bounce_of(_dsn("relayed", "2.0.0")) is None


@pytest.mark.parametrize(
    ("status", "diagnostic", "kind"),
    [
        ("5.1.2", "", "hard"),
        ("5.2.1", "", "hard"),
        ("4.4.7", "", "soft"),
        ("5.0.0", "Diagnostic-Code: smtp; 550 Mailbox quota exceeded", "soft"),
        (
            "5.0.0",
            "Diagnostic-Code: smtp; 554 Rejected: listed at b.barracudacentral.org",
            "policy",
        ),
        ("5.0.0", "Diagnostic-Code: smtp; 550 No such user here", "hard"),
        ("5.3.4", "Diagnostic-Code: smtp; 552 5.3.4 Message size exceeds fixed limit", "policy"),
    ],
)
def test_kind_from_code_then_words(status: str, diagnostic: str, kind: str) -> None:
    bounce = bounce_of(_dsn("failed", status, diagnostic))
    assert bounce is not None
    assert (bounce.kind, bounce.address) == (kind, "someone@example.org")


def _auto(headers: str, body: str = "") -> tuple[EmailMessage, str]:
    raw = f"From: Someone <someone@example.org>\nDate: Tue, 1 Dec 2026 10:00:00 +0100\n{headers}"
    return _parse(f"{raw}\n\n{body}".encode()), body


@pytest.mark.parametrize(
    ("headers", "signal"),
    [
        ("Auto-Submitted: auto-replied (vacation)", "Auto-Submitted: auto-replied"),
        ("X-Autoreply: yes", "X-Autoreply"),
        ("X-Autorespond: vacation", "X-Autorespond"),
        ("Precedence: auto_reply", "Precedence: auto_reply"),
        ("Precedence: junk\nSubject: Out of Office", "Precedence: junk"),
        (
            "X-Auto-Response-Suppress: All\nSubject: Automatic reply: Ftesë",
            "X-Auto-Response-Suppress",
        ),
        ("Subject: =?utf-8?b?0JDRg9GC0L7QvNCw0YLRgdC60Lgg0L7QtNCz0L7QstC+0YA6IHg=?=", "subject"),
        ("Subject: Automatski odgovor: Saopštenje", "subject"),
        ("Subject: Mungesë", "subject"),
    ],
)
def test_what_gives_an_auto_reply_away(headers: str, signal: str) -> None:
    message, text = _auto(headers)
    reply = auto_reply_of(message, text)
    assert reply is not None and reply.signal == signal


@pytest.mark.parametrize(
    "headers",
    [
        "Auto-Submitted: no\nSubject: Re: Ftesë",
        "Precedence: bulk\nSubject: Newsletter: Lajmet e javës",  # a newsletter
        "X-Auto-Response-Suppress: All\nSubject: Re: Away from home (your press release)",
        "Auto-Submitted: auto-replied\nX-Apple-Unsubscribe: true\nSubject: unsubscribe",
    ],
)
def test_not_an_auto_reply(headers: str) -> None:
    message, text = _auto(headers)
    assert auto_reply_of(message, text) is None


@pytest.mark.parametrize(
    ("body", "away"),
    [
        ("I am away until 7 December.", date(2026, 12, 7)),
        ("Out until Monday, December 7, 2026.", date(2026, 12, 7)),
        ("I will be back on 07/12/2026.", date(2026, 12, 7)),
        ("Jam me pushime deri më 07.12.2026.", date(2026, 12, 7)),
        ("Kthehem më 8 dhjetor.", date(2026, 12, 8)),
        ("Odsutan sam do 7. decembra.", date(2026, 12, 7)),
        ("Odsutna sam do 07.12.2026. godine.", date(2026, 12, 7)),
        ("Одсутан сам до 7. децембра.", date(2026, 12, 7)),
        ("Back until 5 January.", date(2027, 1, 5)),  # no year: the next 5 January
        ("On leave until 1 December.", date(2026, 12, 1)),  # the day it was sent counts
        ("Thanks, I will answer you soon.", None),
        ("Away.\n\nOn Mon, 30 Nov 2026 Qendra wrote:\n> RSVP until 3 December", None),
    ],
)
def test_away_until(body: str, away: date | None) -> None:
    message, text = _auto("Auto-Submitted: auto-replied\nSubject: Away", body)
    reply = auto_reply_of(message, text)
    assert reply is not None and reply.away_until == away


def test_away_until_from_the_subject() -> None:
    message, text = _auto("Subject: AUTO: Driton is out of the office (returning 07.12.2026)")
    reply = auto_reply_of(message, text)
    assert reply is not None and reply.away_until == date(2026, 12, 7)
