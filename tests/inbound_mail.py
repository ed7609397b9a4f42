"""Raw answers to a message Beatbook really sent, shaped like what mail clients and servers
produce: a Gmail reply, a Postfix delivery-status report, an Exchange out-of-office note, a
Yahoo spam complaint and an unsubscribe mail from a mail program's button. The corpus under
tests/fixtures/inbound holds standalone examples; these answer a message of the test."""

from __future__ import annotations

import email.parser
import email.policy
import email.utils
import secrets
from email.message import EmailMessage


def parse(raw: bytes) -> EmailMessage:
    message = email.parser.BytesParser(policy=email.policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    return message


def _reply_to(sent: EmailMessage) -> str:
    return email.utils.parseaddr(str(sent["Reply-To"]))[1]


def _headers_of(sent_raw: bytes) -> str:
    head = sent_raw.split(b"\r\n\r\n", 1)[0].decode("ascii", "replace")
    return head.replace("\r\n", "\n")


def gmail_reply(sent_raw: bytes, text: str, *, sender: str = "", to: str = "") -> bytes:
    """What Gmail sends when the journalist presses Reply: to the Reply-To address, threaded,
    the original quoted under an "On … wrote:" line."""
    sent = parse(sent_raw)
    who = sender or str(sent["To"])
    quoted = "\n".join(f"> {line}" for line in sent.get_body(("plain",)).get_content().splitlines())
    when = email.utils.format_datetime(email.utils.parsedate_to_datetime(str(sent["Date"])))
    boundary = "000000000000" + secrets.token_hex(10)
    local = secrets.token_hex(16)
    body_plain = f"{text}\n\nOn {when}, {sent['From']} wrote:\n\n{quoted}\n"
    html_text = "<br>".join(text.splitlines())
    return (
        "MIME-Version: 1.0\n"
        f"Date: {email.utils.formatdate(usegmt=False)}\n"
        f"References: {sent['Message-ID']}\n"
        f"In-Reply-To: {sent['Message-ID']}\n"
        f"Message-ID: <CA+{local}@mail.gmail.com>\n"
        f"Subject: Re: {sent['Subject']}\n"
        f"From: {who}\n"
        f"To: {to or _reply_to(sent)}\n"
        f'Content-Type: multipart/alternative; boundary="{boundary}"\n'
        "\n"
        f"--{boundary}\n"
        'Content-Type: text/plain; charset="UTF-8"\n'
        "Content-Transfer-Encoding: 8bit\n"
        "\n"
        f"{body_plain}\n"
        f"--{boundary}\n"
        'Content-Type: text/html; charset="UTF-8"\n'
        "Content-Transfer-Encoding: 8bit\n"
        "\n"
        f'<div dir="ltr">{html_text}</div><br><div class="gmail_quote"><div dir="ltr" '
        f'class="gmail_attr">On {when}, wrote:<br></div><blockquote class="gmail_quote">'
        "…</blockquote></div>\n"
        f"--{boundary}--\n"
    ).encode()


def postfix_dsn(
    sent_raw: bytes,
    return_path: str,
    *,
    status: str = "5.1.1",
    action: str = "failed",
    diagnostic: str = "550 5.1.1 <x>: Recipient address rejected: User unknown",
) -> bytes:
    """A Postfix delivery-status report about `sent_raw`, to its envelope sender."""
    sent = parse(sent_raw)
    rcpt = email.utils.parseaddr(str(sent["To"]))[1]
    diagnostic = diagnostic.replace("<x>", f"<{rcpt}>")
    boundary = f"{secrets.token_hex(5).upper()}.1764150000/mail.kallxo.example"
    queue_id = secrets.token_hex(5).upper()
    intro = (
        "This is the mail system at host mail.kallxo.example.\n\n"
        "I'm sorry to have to inform you that your message could not\n"
        "be delivered to one or more recipients. It's attached below.\n\n"
        "                   The mail system\n\n"
        f"<{rcpt}>: host mx.kallxo.example[203.0.113.25] said: {diagnostic} "
        "(in reply to RCPT TO command)\n"
    )
    if action == "delayed":
        intro = (
            "This is the mail system at host mail.kallxo.example.\n\n"
            "####################################################################\n"
            "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\n"
            "####################################################################\n\n"
            "Your message could not be delivered for more than 4 hour(s).\n"
            "It will be retried until it is 5 day(s) old.\n\n"
            f"<{rcpt}>: {diagnostic}\n"
        )
    subject = (
        "Delayed Mail (still being retried)"
        if action == "delayed"
        else "Undelivered Mail Returned to Sender"
    )
    return (
        f"Return-Path: <>\n"
        f"Received: by mail.kallxo.example (Postfix) id {queue_id}; "
        f"{email.utils.formatdate()}\n"
        f"Date: {email.utils.formatdate()}\n"
        "From: MAILER-DAEMON@mail.kallxo.example (Mail Delivery System)\n"
        f"Subject: {subject}\n"
        f"To: {return_path}\n"
        "Auto-Submitted: auto-replied\n"
        "MIME-Version: 1.0\n"
        "Content-Type: multipart/report; report-type=delivery-status;\n"
        f'\tboundary="{boundary}"\n'
        "Content-Transfer-Encoding: 8bit\n"
        f"Message-Id: <{secrets.token_hex(6)}.{queue_id}@mail.kallxo.example>\n"
        "\n"
        "This is a MIME-encapsulated message.\n\n"
        f"--{boundary}\n"
        "Content-Description: Notification\n"
        "Content-Type: text/plain; charset=us-ascii\n\n"
        f"{intro}\n"
        f"--{boundary}\n"
        "Content-Description: Delivery report\n"
        "Content-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; mail.kallxo.example\n"
        f"X-Postfix-Queue-ID: {queue_id}\n"
        f"X-Postfix-Sender: rfc822; {return_path}\n"
        f"Arrival-Date: {email.utils.formatdate()}\n\n"
        f"Final-Recipient: rfc822; {rcpt}\n"
        f"Original-Recipient: rfc822;{rcpt}\n"
        f"Action: {action}\n"
        f"Status: {status}\n"
        "Remote-MTA: dns; mx.kallxo.example\n"
        f"Diagnostic-Code: smtp; {diagnostic}\n\n"
        f"--{boundary}\n"
        "Content-Description: Undelivered Message Headers\n"
        "Content-Type: text/rfc822-headers\n\n"
        f"{_headers_of(sent_raw)}\n\n"
        f"--{boundary}--\n"
    ).encode()


def exchange_out_of_office(sent_raw: bytes, to: str, *, back: str = "7 December 2026") -> bytes:
    """Outlook's automatic reply, sent by Exchange to the envelope sender."""
    sent = parse(sent_raw)
    return (
        f"From: {sent['To']}\n"
        f"To: {to}\n"
        f"Subject: Automatic reply: {sent['Subject']}\n"
        "Thread-Topic: Automatic reply\n"
        f"Date: {email.utils.formatdate()}\n"
        f"Message-ID: <{secrets.token_hex(16)}@EXCH01.kallxo.example>\n"
        f"In-Reply-To: {sent['Message-ID']}\n"
        f"References: {sent['Message-ID']}\n"
        "Auto-Submitted: auto-generated\n"
        "X-Auto-Response-Suppress: All\n"
        "X-MS-Exchange-Inbox-Rules-Loop: arber@kallxo.example\n"
        'Content-Type: text/plain; charset="utf-8"\n'
        "Content-Transfer-Encoding: 8bit\n"
        "MIME-Version: 1.0\n"
        "\n"
        f"I am out of the office until {back}, with limited access to email.\n"
        "For urgent matters please call the newsroom.\n"
    ).encode()


def yahoo_complaint(sent_raw: bytes) -> bytes:
    """An ARF feedback report (RFC 5965) as Yahoo's feedback loop sends it."""
    sent = parse(sent_raw)
    rcpt = email.utils.parseaddr(str(sent["To"]))[1]
    boundary = "----=_Part_" + secrets.token_hex(8)
    return (
        "From: staff@hotmail.com\n"
        "To: abuse@replies.qendra.org\n"
        "Subject: FW: complaint about message\n"
        f"Date: {email.utils.formatdate()}\n"
        f"Message-ID: <{secrets.token_hex(12)}@feedback.yahoo.com>\n"
        "MIME-Version: 1.0\n"
        f'Content-Type: multipart/report; report-type=feedback-report; boundary="{boundary}"\n'
        "\n"
        f"--{boundary}\n"
        "Content-Type: text/plain; charset=us-ascii\n\n"
        "This is an email abuse report for an email message received from IP 198.51.100.7\n\n"
        f"--{boundary}\n"
        "Content-Type: message/feedback-report\n\n"
        "Feedback-Type: abuse\n"
        "User-Agent: Yahoo!-Mail-Feedback/2.0\n"
        "Version: 1\n"
        "Original-Mail-From: <bounce@replies.qendra.org>\n"
        f"Original-Rcpt-To: {rcpt}\n"
        f"Arrival-Date: {email.utils.formatdate()}\n"
        "Reported-Domain: qendra.org\n\n"
        f"--{boundary}\n"
        "Content-Type: text/rfc822-headers\n\n"
        f"{_headers_of(sent_raw)}\n\n"
        f"--{boundary}--\n"
    ).encode()


def unsubscribe_mail(sent_raw: bytes) -> bytes:
    """What a mail program's Unsubscribe button sends to the List-Unsubscribe mailto."""
    sent = parse(sent_raw)
    mailto = str(sent["List-Unsubscribe"]).split("<mailto:", 1)[1].split(">", 1)[0]
    return (
        f"From: {sent['To']}\n"
        f"To: {mailto}\n"
        "Subject: Unsubscribe\n"
        f"Date: {email.utils.formatdate()}\n"
        f"Message-ID: <{secrets.token_hex(16)}@mail.gmail.com>\n"
        "MIME-Version: 1.0\n"
        'Content-Type: text/plain; charset="UTF-8"\n'
        "\n"
        "This message was automatically generated by Gmail.\n"
    ).encode()
