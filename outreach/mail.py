"""A small sender for transactional mail (confirmation links, data copies).

Campaign mail goes through the outbox instead; this is for one message at a time, sent from a
job, never from a request handler.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

import aiosmtplib

from crm.settings import Settings


class MailNotConfigured(RuntimeError):
    """No SMTP relay is set, so nothing can be sent."""


def new_message(settings: Settings, *, to: str, subject: str, text: str) -> EmailMessage:
    """A plain-text message with the headers every mail needs: Date, Message-ID, From, To."""
    message = EmailMessage()
    _, sender = parseaddr(settings.mail_from)
    domain = sender.rpartition("@")[2] or "localhost"
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=domain)
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = subject
    message.set_content(text)
    return message


async def send_mail(settings: Settings, message: EmailMessage) -> None:
    """Hand one message to the configured SMTP relay; errors propagate so a job retries."""
    if not settings.smtp_host:
        raise MailNotConfigured(
            "No SMTP server is configured: set BEATBOOK_SMTP_HOST (and port, user, password)."
        )
    tls = settings.smtp_tls.lower()
    await aiosmtplib.send(
        message,
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username or None,
        password=settings.smtp_password or None,
        use_tls=tls == "tls",
        start_tls=True if tls == "starttls" else False,
        timeout=30,
    )
