"""The new text of a reply: quoted history and signature taken off, for the mail real clients
write (tests/fixtures/inbound/reply/) and for each rule on its own.

The corpus under tests/fixtures/inbound/ (reply, unsubscribe, calendar_reply, unmatched) is
also meant for the classifier's tests; test_corpus_* checks that each expected.json says what
its messages' headers say (tokens signed with suppression_key "beatbook-test-corpus").
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import re
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from crm.settings import Settings
from outreach import calendar, mime
from outreach.compose import reply_secret
from outreach.inbound.quotes import html_to_text, reply_text

CORPUS = Path(__file__).parent / "fixtures" / "inbound"
CORPUS_SECRET = reply_secret(Settings(suppression_key="beatbook-test-corpus"))


def _cases(folder: str) -> list[Any]:
    entries = json.loads((CORPUS / folder / "expected.json").read_text(encoding="utf-8"))
    return [pytest.param(entry, id=entry["file"].removesuffix(".eml")) for entry in entries]


def _parse(folder: str, name: str) -> EmailMessage:
    raw = (CORPUS / folder / name).read_bytes()
    message = email.parser.BytesParser(policy=email.policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    return message


def _bodies(message: EmailMessage) -> tuple[str | None, str | None]:
    plain, html = message.get_body(("plain",)), message.get_body(("html",))
    return (
        plain.get_content() if plain is not None else None,
        html.get_content() if html is not None else None,
    )


def _words(text: str) -> str:
    return " ".join(text.split())


# --- the corpus --------------------------------------------------------------------------------


@pytest.mark.parametrize("case", _cases("reply"))
def test_reply_text_of_real_clients(case: dict[str, Any]) -> None:
    plain, html = _bodies(_parse("reply", case["file"]))
    assert reply_text(plain, html) == case["text"]


# The HTML part alone must give the same words. Not the same line breaks: a plain part may be
# hard-wrapped (format=flowed, Outlook's 76 columns) where the HTML has one paragraph, and a
# <p> is followed by a blank line where the plain text may have none. So runs of whitespace
# are compared as one space.
@pytest.mark.parametrize(
    "case", [c for c in _cases("reply") if _bodies(_parse("reply", c.values[0]["file"]))[1]]
)
def test_reply_text_of_the_html_part_alone(case: dict[str, Any]) -> None:
    _, html = _bodies(_parse("reply", case["file"]))
    assert _words(reply_text(None, html)) == _words(case["text"])


def _token_of(message: EmailMessage, role: str) -> int | None:
    to = " ".join(str(message.get(name, "")) for name in ("To", "Cc", "Delivered-To"))
    found = re.search(rf"{role}\+([a-z2-7]+)@replies\.qendra\.org", to)
    return mime.read_reply_token(CORPUS_SECRET, found.group(1)) if found else None


def _references(message: EmailMessage) -> list[str]:
    ids: list[str] = []
    for name in ("In-Reply-To", "References"):
        for found in re.findall(r"<[^<>\s]+>", str(message.get(name, ""))):
            if found not in ids:
                ids.append(found)
    return ids


@pytest.mark.parametrize("case", _cases("reply") + _cases("unmatched"))
def test_corpus_replies_name_what_their_headers_say(case: dict[str, Any]) -> None:
    message = _parse(case["class"], case["file"])
    assert _token_of(message, "reply") == case["delivery_id"]
    assert _references(message) == case["references"]
    if case["class"] == "reply":
        assert str(message["Subject"]) == case["subject"]
        assert case["delivery_id"] is not None or any(
            ref.endswith("@qendra.org>") for ref in case["references"]
        )


@pytest.mark.parametrize("case", _cases("unsubscribe"))
def test_corpus_unsubscriptions_name_their_delivery(case: dict[str, Any]) -> None:
    assert _token_of(_parse("unsubscribe", case["file"]), "unsubscribe") == case["delivery_id"]


@pytest.mark.parametrize("case", _cases("calendar_reply"))
def test_corpus_calendar_replies_answer_event_7(case: dict[str, Any]) -> None:
    raw = (CORPUS / "calendar_reply" / case["file"]).read_bytes()
    [answer] = calendar.read_replies(raw)
    assert (answer.attendee, answer.partstat) == (case["attendee"], case["partstat"])
    assert answer.uid == "5f0c2a9e-3b7d-4c1a-9e2f-8a6b1d4c7e90@beatbook"
    assert f"calendar+e{case['event_id']}@replies.qendra.org" in str(
        _parse("calendar_reply", case["file"])["To"]
    )


# --- each rule for plain text --------------------------------------------------------------------

QUOTE = "> Të nderuar gazetarë,\n>\n> Qendra për Media publikon sot raportin.\n"
ORIGINAL = "Të nderuar gazetarë,\n\nQendra për Media publikon sot raportin.\n"
FROM = "Qendra për Media <info@qendra.org>"
REPLY = "Po, do të vij.\n\nBesa"


def _outlook(fields: str, before: str = "\n") -> str:
    return REPLY + "\n" + before + fields + "\n\n" + ORIGINAL


PLAIN_CASES = [
    # "wrote:" lines
    pytest.param(f"{REPLY}\n\nOn Thu, 26 Nov 2026 at 10:15, {FROM} wrote:\n\n{QUOTE}", REPLY,
                 id="wrote-en-gmail"),
    pytest.param(f"{REPLY}\n\nOn Thu, Nov 26, 2026 at 10:15 AM {FROM} wrote:\n{QUOTE}", REPLY,
                 id="wrote-en-gmail-us"),
    pytest.param(f"{REPLY}\n\nOn Thu, Nov 26, 2026 at 10:15 AM Qendra për Media <\n"
                 f"info@qendra.org> wrote:\n\n{QUOTE}", REPLY, id="wrote-gmail-wrapped-address"),
    pytest.param(f"{REPLY}\n\nOn Thu, Nov 26, 2026 at 10:15 AM {FROM}\nwrote:\n\n{QUOTE}", REPLY,
                 id="wrote-gmail-wrapped-wrote"),
    pytest.param(f"{REPLY}\n\nMë 26 nëntor 2026 në 10:15, {FROM} shkroi:\n\n{QUOTE}", REPLY,
                 id="wrote-sq-gmail"),
    pytest.param(f"{REPLY}\n\nMë enj, 26 nëntor 2026 në 10:15 {FROM}\nshkroi:\n\n{QUOTE}", REPLY,
                 id="wrote-sq-gmail-wrapped"),
    pytest.param(f"{REPLY}\n\nMë 26.11.2026 në 10:15, Qendra për Media ka shkruar:\n{QUOTE}",
                 REPLY, id="wrote-sq-ka-shkruar"),
    pytest.param(f"{REPLY}\n\n26. nov 2026. u 10:15 {FROM} je napisao/napisala:\n\n{QUOTE}",
                 REPLY, id="wrote-sr-latn"),
    pytest.param(f"{REPLY}\n\n26.11.2026. u 10:15, Qendra për Media je napisao:\n{QUOTE}", REPLY,
                 id="wrote-sr-latn-napisao"),
    pytest.param(f"{REPLY}\n\nčet, 26. nov 2026. u 10:15 {FROM} je napisao/la:\n\n{QUOTE}", REPLY,
                 id="wrote-sr-latn-gmail"),
    pytest.param(f"{REPLY}\n\nчет, 26. нов 2026. у 10:15 {FROM} је написао/ла:\n\n{QUOTE}", REPLY,
                 id="wrote-sr-cyrl-gmail"),
    pytest.param(f"{REPLY}\n\n26. 11. 2026. у 10:15, Qendra për Media је написао:\n{QUOTE}", REPLY,
                 id="wrote-sr-cyrl-napisao"),
    pytest.param(f"{REPLY}\n\n26. 11. 2026. у 10:15, Qendra për Media је написала:\n{QUOTE}",
                 REPLY, id="wrote-sr-cyrl-napisala"),
    pytest.param(f"{REPLY}\n\nOn 26 Nov 2026, at 10:15, {FROM} wrote:\n\n{QUOTE}", REPLY,
                 id="wrote-apple"),
    pytest.param(f"{REPLY}\n\nOn 26/11/2026 10:15, Qendra për Media wrote:\n{QUOTE}", REPLY,
                 id="wrote-thunderbird"),
    pytest.param(f"{REPLY}\n\nOn 26/11/2026 10:15, Qendra për Media wrote:\n{ORIGINAL}", REPLY,
                 id="wrote-then-unquoted-history"),
    # Outlook's header block
    pytest.param(_outlook(f"From: {FROM}\nSent: Thursday, November 26, 2026 10:15 AM\n"
                          f"To: Besa Gashi <besa.gashi@gmail.com>\nSubject: Raporti"), REPLY,
                 id="outlook-en"),
    pytest.param(_outlook(f"From: {FROM}\nDate: Thursday, 26 November 2026 at 10:15\n"
                          f"To: Besa Gashi <besa.gashi@gmail.com>\nCc: redaksia@koha.example\n"
                          "Subject: Raporti"), REPLY, id="outlook-en-date-and-cc"),
    pytest.param(_outlook(f"From: {FROM}\nSent: Thursday, November 26, 2026 10:15\n"
                          "To: besa.gashi@gmail.com <besa.gashi@gmail.com>\nSubject: Raporti",
                          before="\n________________________________\n"), REPLY,
                 id="outlook-web-underscores"),
    pytest.param(_outlook(f"*From:* {FROM}\n*Sent:* Thursday, November 26, 2026 10:15 AM\n"
                          "*To:* Besa Gashi <besa.gashi@gmail.com>\n*Subject:* Raporti"), REPLY,
                 id="outlook-bold-asterisks"),
    pytest.param(_outlook(f"Nga: {FROM}\nDërguar: e enjte, 26 nëntor 2026 10:15\n"
                          "Për: Besa Gashi <besa.gashi@gmail.com>\nSubjekti: Raporti"), REPLY,
                 id="outlook-sq"),
    pytest.param(_outlook(f"*Nga:* {FROM}\n*Data:* e enjte, 26 nëntor 2026 10:15\n"
                          "*Për:* Besa Gashi <besa.gashi@gmail.com>\n*Subjekti:* Raporti",
                          before="\n________________________________\n"), REPLY,
                 id="outlook-sq-bold-underscores"),
    pytest.param(_outlook(f"Od: {FROM}\nPoslato: četvrtak, 26. novembar 2026. 10:15\n"
                          "Za: Dragana Ćosić <dragana.cosic@kossev.example>\nTema: Poziv"), REPLY,
                 id="outlook-sr-latn"),
    pytest.param(_outlook(f"*Od:* {FROM}\n*Datum:* četvrtak, 26. novembar 2026. 10:15\n"
                          "*Za:* Dragana Ćosić <dragana.cosic@kossev.example>\n*Predmet:* Poziv"),
                 REPLY, id="outlook-sr-latn-bold"),
    pytest.param(_outlook(f"Од: {FROM}\nПослато: четвртак, 26. новембар 2026. 10:15\n"
                          "За: Небојша Јовановић <nebojsa.jovanovic@gmail.com>\nТема: Позив"),
                 REPLY, id="outlook-sr-cyrl"),
    pytest.param(_outlook(f"*Од:* {FROM}\n*Датум:* четвртак, 26. новембар 2026. 10:15\n"
                          "*За:* Небојша Јовановић <nebojsa.jovanovic@gmail.com>\n"
                          "*Предмет:* Позив"),
                 REPLY, id="outlook-sr-cyrl-bold"),
    # "Original Message" separators
    pytest.param(f"{REPLY}\n\n-----Original Message-----\nFrom: {FROM}\n{ORIGINAL}", REPLY,
                 id="original-message-en"),
    pytest.param(f"{REPLY}\n\n-----Mesazhi origjinal-----\nNga: {FROM}\n{ORIGINAL}", REPLY,
                 id="original-message-sq"),
    pytest.param(f"{REPLY}\n\n-----Originalna poruka-----\nOd: {FROM}\n{ORIGINAL}", REPLY,
                 id="original-message-sr-latn"),
    pytest.param(f"{REPLY}\n\n-----Оригинална порука-----\nОд: {FROM}\n{ORIGINAL}", REPLY,
                 id="original-message-sr-cyrl"),
    # a trailing quote with no attribution we know
    pytest.param(f"{REPLY}\n\n{QUOTE}\n\n", REPLY, id="trailing-quote-block"),
    pytest.param(f"{REPLY}\n\nAm 26.11.2026 um 10:15 schrieb {FROM}:\n{QUOTE}", REPLY,
                 id="trailing-quote-unknown-attribution"),
    # signatures
    pytest.param(f"{REPLY}\n\n-- \nBesa Gashi\nGazetare, Koha Ditore\n", REPLY,
                 id="signature-dash-dash-space"),
    pytest.param(f"{REPLY}\n--\nBesa Gashi\n", REPLY, id="signature-dash-dash"),
    pytest.param(f"{REPLY}\n\n-- \nBesa Gashi\n\nOn 26/11/2026 10:15, Qendra wrote:\n{QUOTE}",
                 REPLY, id="signature-then-quote"),
    pytest.param(f"{REPLY}\n\nSent from my iPhone\n\n> On 26 Nov 2026, at 10:15, {FROM} wrote:\n"
                 f"{QUOTE}", REPLY, id="sent-from-my-iphone"),
    pytest.param(f"{REPLY}\n\nSent from Outlook for Android", REPLY,
                 id="sent-from-outlook-android"),
    pytest.param(f"{REPLY}\n\nSent from Outlook for iOS", REPLY, id="sent-from-outlook-ios"),
    pytest.param(f"{REPLY}\n\nGet Outlook for iOS<https://aka.ms/o0ukef>", REPLY,
                 id="get-outlook-for-ios"),
    pytest.param(f"{REPLY}\n\nDërguar nga iPhone-i im", REPLY, id="sent-from-iphone-sq"),
    pytest.param(f"{REPLY}\n\nPoslato sa mog iPhone-a", REPLY, id="sent-from-iphone-sr-latn"),
    pytest.param(f"{REPLY}\n\nПослато са мог iPhone-а", REPLY, id="sent-from-iphone-sr-cyrl"),
    # what must be kept
    pytest.param(f"Thanks,\nBesa\n\nOn 26/11/2026 10:15, Qendra wrote:\n{QUOTE}", "Thanks,\nBesa",
                 id="starts-with-thanks"),
    pytest.param("Faleminderit,\n\nPo vij.\n\nFaleminderit,\nBesa\nKoha Ditore",
                 "Faleminderit,\n\nPo vij.\n\nFaleminderit,\nBesa\nKoha Ditore",
                 id="thanks-is-not-a-signature"),
    pytest.param("From: the ministry we heard nothing yet.\nWill you comment?",
                 "From: the ministry we heard nothing yet.\nWill you comment?",
                 id="from-in-prose-is-not-a-header"),
    pytest.param("As my editor wrote:\nwe need one more quote.",
                 "As my editor wrote:\nwe need one more quote.", id="wrote-in-prose"),
    pytest.param("On Monday my editor wrote:\nwe need one more quote.",
                 "On Monday my editor wrote:\nwe need one more quote.", id="wrote-without-a-date"),
    pytest.param("Please answer to besa@koha.example:\n\n> Will you attend?",
                 "Please answer to besa@koha.example:", id="address-before-trailing-quote"),
    pytest.param(f"On 26/11/2026 10:15, Qendra wrote:\n{QUOTE}",
                 f"On 26/11/2026 10:15, Qendra wrote:\n{QUOTE}".strip(),
                 id="whole-body-is-a-quote"),
    pytest.param(QUOTE, QUOTE.strip(), id="only-quoted-lines"),
    pytest.param("Hi,\n\nOn Thu, 26 Nov 2026 at 10:15, Qendra <info@qendra.org> wrote:\n"
                 "> Will you attend?\n\nYes, with a camera.\n\n> Do you need the report?\n\n"
                 "Please send it.\n\n> Qendra për Media\n",
                 "Hi,\n\n> Will you attend?\n\nYes, with a camera.\n\n> Do you need the report?\n\n"
                 "Please send it.", id="inline-reply-keeps-answers-and-questions"),
    pytest.param(f"On Thu, 26 Nov 2026 10:15:03 +0100\n{FROM} wrote:\n\n{QUOTE}\nPo vij.\n\nBesa",
                 "Po vij.\n\nBesa", id="bottom-posted"),
    # line ends and blank lines
    pytest.param("Po.\r\n\r\nOn 26/11/2026 10:15, Qendra wrote:\r\n> x\r\n", "Po.", id="crlf"),
    pytest.param("Po.\r\rBesa\r", "Po.\n\nBesa", id="bare-cr"),
    pytest.param("\n \n\tPo.   \n\nBesa \t\n\n\n", "\tPo.\n\nBesa", id="outer-blank-lines"),
]  # fmt: skip


@pytest.mark.parametrize(("plain", "expected"), PLAIN_CASES)
def test_reply_text_of_plain_text(plain: str, expected: str) -> None:
    assert reply_text(plain, None) == expected


@pytest.mark.parametrize(
    ("plain", "html"),
    [
        pytest.param(None, None, id="none"),
        pytest.param("", "", id="empty"),
        pytest.param(" \r\n\t\n", None, id="blank-plain"),
        pytest.param(None, " <br> ", id="blank-html"),
        pytest.param(None, "<html><head><title>x</title></head><body></body></html>", id="no-text"),
    ],
)
def test_nothing_written_gives_the_empty_string(plain: str | None, html: str | None) -> None:
    assert reply_text(plain, html) == ""


def test_plain_text_is_preferred_and_html_used_without_it() -> None:
    assert reply_text("Po vij.", "<p>Something else</p>") == "Po vij."
    assert reply_text("  \n", "<div>Po vij.</div>") == "Po vij."


# --- each rule for HTML ---------------------------------------------------------------------------

GMAIL_QUOTE = (
    '<div class="gmail_quote gmail_quote_container"><div dir="ltr" class="gmail_attr">On Thu, 26 '
    "Nov 2026 at 10:15, Qendra &lt;info@qendra.org&gt; wrote:<br></div>"
    '<blockquote class="gmail_quote"><div>Të nderuar gazetarë,</div></blockquote></div>'
)
OUTLOOK_FIELDS = (
    "<b>From:</b> Qendra &lt;info@qendra.org&gt;<br><b>Sent:</b> Thursday<br>"
    "<b>To:</b> Besa<br><b>Subject:</b> Raporti"
)

HTML_CASES = [
    pytest.param(f'<div dir="ltr">Po vij.<div><br></div><div>Besa</div></div><br>{GMAIL_QUOTE}',
                 "Po vij.\n\nBesa", id="gmail"),
    pytest.param('<div dir="ltr">Po vij.<br clear="all"><div><br></div>'
                 '<span class="gmail_signature_prefix">-- </span><br>'
                 '<div dir="ltr" class="gmail_signature"><div>Besa Gashi</div>'
                 f"<div>Koha Ditore</div></div></div><br>{GMAIL_QUOTE}", "Po vij.",
                 id="gmail-signature"),
    pytest.param('<div class="WordSection1"><p class="MsoNormal">Po vij.<o:p></o:p></p>'
                 '<p class="MsoNormal"><o:p>&nbsp;</o:p></p>'
                 '<p class="MsoNormal">Besa<o:p></o:p></p>'
                 '<div><div style="border:none;border-top:solid #E1E1E1 1.0pt;'
                 f'padding:3.0pt 0cm 0cm 0cm"><p class="MsoNormal">{OUTLOOK_FIELDS}</p></div></div>'
                 '<p class="MsoNormal">Të nderuar gazetarë,</p></div>', "Po vij.\n\nBesa",
                 id="outlook-desktop-siblings-after-the-header"),
    pytest.param("<p class=MsoNormal>Po vij.</p><div style='border:none;border-top:solid #B5C4DF "
                 f"1.0pt;padding:3.0pt 0in 0in 0in'><p class=MsoNormal>{OUTLOOK_FIELDS}</p></div>"
                 "<p class=MsoNormal>Të nderuar gazetarë,</p>", "Po vij.", id="outlook-2010"),
    pytest.param('<div>Po vij.</div><div id="appendonsend"></div><hr style="display:inline-block;'
                 f'width:98%" tabindex="-1"><div id="divRplyFwdMsg" dir="ltr">{OUTLOOK_FIELDS}'
                 "</div><div>Të nderuar gazetarë,</div>", "Po vij.", id="outlook-web"),
    pytest.param(f'<div>Po vij.</div><div id="x_divRplyFwdMsg">{OUTLOOK_FIELDS}</div>'
                 "<div>Të nderuar gazetarë,</div>", "Po vij.", id="outlook-web-requoted"),
    pytest.param('<div>Po vij.</div><hr size="2" width="100%" align="center" tabindex="-1" '
                 'id="stopSpelling">From: Qendra<br>Të nderuar gazetarë,', "Po vij.",
                 id="outlook-stop-spelling"),
    pytest.param('<div dir="ltr">Po vij.</div><div dir="ltr"><br><blockquote type="cite">On 26 Nov'
                 " 2026, at 10:15, Qendra &lt;info@qendra.org&gt; wrote:<br><br></blockquote></div>"
                 '<blockquote type="cite"><div dir="ltr">Të nderuar gazetarë,</div></blockquote>',
                 "Po vij.", id="apple-mail"),
    pytest.param('<p>Po vij.</p><div class="moz-signature">-- <br>Besa Gashi</div>'
                 '<div class="moz-cite-prefix">On 26/11/2026 10:15, Qendra wrote:<br></div>'
                 '<blockquote type="cite" cite="mid:x@qendra.org">Të nderuar gazetarë,'
                 "</blockquote>",
                 "Po vij.", id="thunderbird"),
    pytest.param("<div>Po vij.<br><br>-- <br>Besa Gashi<br>Koha Ditore</div>", "Po vij.",
                 id="dash-dash-br-signature"),
    pytest.param("<div>Po vij.</div><div>Sent from my iPhone</div>", "Po vij.",
                 id="mobile-signature"),
    pytest.param("<div>Po vij.</div><div>From: Qendra &lt;info@qendra.org&gt;<br>"
                 "Sent: Thursday<br>"
                 "To: Besa<br>Subject: Raporti</div><div>Të nderuar gazetarë,</div>", "Po vij.",
                 id="unmarked-outlook-header-in-text"),
    pytest.param(f"{GMAIL_QUOTE}", "On Thu, 26 Nov 2026 at 10:15, Qendra <info@qendra.org> wrote:"
                 "\nTë nderuar gazetarë,", id="whole-body-is-a-quote"),
    pytest.param("<div>Po <b>vij</b>.<p>Besa<blockquote type=cite>x", "Po vij.\n\nBesa",
                 id="unclosed-tags"),
]  # fmt: skip


@pytest.mark.parametrize(("html", "expected"), HTML_CASES)
def test_reply_text_of_html(html: str, expected: str) -> None:
    assert reply_text(None, html) == expected


HTML_TO_TEXT_CASES = [
    pytest.param("<div>a</div><div>b</div>", "a\nb", id="adjacent-blocks-one-break"),
    pytest.param("<div><div><div>a</div></div></div><div>b</div>", "a\nb", id="nested-blocks"),
    pytest.param("<div>a</div><div><br></div><div>b</div>", "a\n\nb", id="gmail-blank-line"),
    pytest.param("a<br>b<br/>c", "a\nb\nc", id="br"),
    pytest.param("<p>a</p><p>b</p>", "a\n\nb", id="paragraphs"),
    pytest.param('<p class="MsoNormal">a</p><p class="MsoNormal">b</p>', "a\nb",
                 id="word-paragraphs-have-no-margin"),
    pytest.param('<p class="MsoNormal">a</p><p class="MsoNormal">&nbsp;</p><p class="MsoNormal">b'
                 "</p>", "a\n\nb", id="word-empty-paragraph"),
    pytest.param("<html><head><title>T</title><style>p{color:red}</style></head><body>"
                 "<script>alert(1)</script>a</body></html>", "a", id="head-script-style-dropped"),
    pytest.param("<head><meta charset=utf-8><title>T</title><body>a", "a", id="unclosed-head"),
    pytest.param("Tom &amp; Jerry &lt;3 &euro;5 &#x27;q&#39; caf&eacute;&nbsp;!",
                 "Tom & Jerry <3 €5 'q' café !", id="entities"),
    pytest.param("<div>a\n   b\tc</div>", "a b c", id="source-whitespace"),
    pytest.param("<div>a</div><br><br><br><br><div>b</div>", "a\n\nb", id="blank-runs-collapsed"),
    pytest.param("<table><tr><td>Data</td><td>3 dhjetor</td></tr><tr><td>Ora</td><td>11:00</td>"
                 "</tr></table>", "Data 3 dhjetor\nOra 11:00", id="table"),
    pytest.param("<pre>a\n  b</pre>", "a\nb", id="pre-keeps-line-breaks"),
    pytest.param("<!-- comment --><![if !supportLists]>a<![endif]>", "a", id="comments"),
]  # fmt: skip


@pytest.mark.parametrize(("html", "expected"), HTML_TO_TEXT_CASES)
def test_html_to_text(html: str, expected: str) -> None:
    assert html_to_text(html) == expected


def test_html_to_text_keeps_quotes() -> None:
    assert html_to_text(f"<div>Po vij.</div>{GMAIL_QUOTE}") == (
        "Po vij.\nOn Thu, 26 Nov 2026 at 10:15, Qendra <info@qendra.org> wrote:\n"
        "Të nderuar gazetarë,"
    )


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("<" * 500, id="many-angles"),
        pytest.param("</div></p></blockquote>x", id="only-end-tags"),
        pytest.param("<div class=gmail_quote>" * 300 + "x", id="deep-nesting"),
        pytest.param("\x00\ufeff\u2028x\ud800", id="odd-characters"),
        pytest.param("<a href='&#xd800;&#99999999;'>x</a>&#0;", id="bad-character-references"),
        pytest.param("-- \n" * 50, id="only-signature-markers"),
    ],
)
def test_never_raises(text: str) -> None:
    for plain, html in ((text, None), (None, text), (text, text)):
        result = reply_text(plain, html)
        assert isinstance(result, str)
        assert result or not text.strip()
