"""Mail about inbound mail, sent from jobs: a reply forwarded to the sender identity's own
mailbox, and the alert to an organisation's owners that a server refused its mail."""

from __future__ import annotations

import logging
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid, parseaddr

import aiosmtplib
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm import i18n, jobs
from crm.i18n import N_
from crm.models import (
    Campaign,
    InboundMessage,
    Job,
    Membership,
    Organisation,
    SenderIdentity,
    User,
)
from crm.settings import Settings
from outreach.compose import reply_secret
from outreach.inbound.classify import FORWARD_HEADER, forward_mark, parse
from outreach.senders import SmtpAccount, account_of

log = logging.getLogger("beatbook.inbound")

FORWARD_TEXT = N_(
    "%(who)s replied to “%(campaign)s”. Their message is attached, and it is on their "
    "timeline in Beatbook:\n\n%(link)s\n"
)
ALERT_SUBJECT = N_("Beatbook: a mail server refused your mail")
ALERT_TEXT = N_(
    "A mail server refused a message from %(org)s as a matter of policy (%(status)s):\n\n"
    "%(diagnostic)s\n\n"
    "This is about how your mail is sent (your domain's SPF, DKIM and DMARC, or a "
    "blocklisted server), not about the journalist's address. Until it is fixed, more "
    "messages may be refused. Details:\n\n%(link)s\n"
)


async def _send(account: SmtpAccount, message: EmailMessage) -> None:
    tls = account.tls.lower()
    await aiosmtplib.send(
        message,
        hostname=account.host,
        port=account.port,
        username=account.username or None,
        password=account.password or None,
        use_tls=tls == "tls",
        start_tls=True if tls == "starttls" else False,
        timeout=30,
    )


def _message(settings: Settings, sender: str, to: str, subject: str, text: str) -> EmailMessage:
    message = EmailMessage()
    message_id = make_msgid(domain=parseaddr(sender)[1].rpartition("@")[2] or "localhost")
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = message_id
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Auto-Submitted"] = "auto-generated"  # no out-of-office answers to it
    # Polled back from that mailbox, it is known for Beatbook's own and not read again.
    message[FORWARD_HEADER] = forward_mark(reply_secret(settings), message_id)
    message.set_content(text)
    return message


@jobs.handler("inbound.forward")
async def forward_reply(session: AsyncSession, job: Job, settings: Settings) -> None:
    """A journalist's reply, to the mailbox of the address the campaign was sent from."""
    row = await session.get(InboundMessage, int(job.payload.get("inbound_id", 0)))
    sender = await session.get(SenderIdentity, int(job.payload.get("sender_id", 0)))
    if row is None or sender is None or row.truncated:
        return
    campaign = await session.get(Campaign, row.campaign_id) if row.campaign_id else None
    t = i18n.translations(settings.default_language)
    who = formataddr((row.from_name, row.from_address)) if row.from_address else "?"
    text = t.gettext(FORWARD_TEXT) % {
        "who": who,
        "campaign": campaign.name if campaign else "",
        "link": f"{settings.base_url}/inbox/{row.id}",
    }
    message = _message(
        settings,
        formataddr((sender.from_name, sender.from_address)),
        sender.from_address,
        f"Fwd: {row.subject}",
        text,
    )
    if row.from_address:
        message["Reply-To"] = row.from_address  # answering the forward answers the journalist
    # As a message/rfc822 part (never base64: RFC 2046 forbids it, and mail programs then
    # fail to open the attachment).
    message.add_attachment(parse(row.raw))
    await _send(account_of(sender, settings), message)


@jobs.handler("inbound.policy_alert")
async def alert_owners(session: AsyncSession, job: Job, settings: Settings) -> None:
    row = await session.get(InboundMessage, int(job.payload.get("inbound_id", 0)))
    org_id = int(job.payload.get("org_id") or (row.org_id if row else 0) or 0)
    if row is None or not org_id:
        return
    org = await session.get(Organisation, org_id)
    owners = (
        await session.execute(
            select(User.email, User.language)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.org_id == org_id, Membership.role == "owner")
        )
    ).all()
    for address, language in owners:
        t = i18n.translations(language or settings.default_language)
        text = t.gettext(ALERT_TEXT) % {
            "org": org.name if org else "",
            "status": row.fields.get("status") or "5.7",
            "diagnostic": row.fields.get("diagnostic") or row.subject,
            "link": f"{settings.base_url}/inbox?category=bounce&kind=policy",
        }
        message = _message(settings, settings.mail_from, address, t.gettext(ALERT_SUBJECT), text)
        await _send(account_of(None, settings), message)
