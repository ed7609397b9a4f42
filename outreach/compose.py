"""Each recipient's message, from parts prepared once per campaign.

The templates are compiled and the MIME skeleton (From, List-Id, attachments, DKIM key) is
built when a worker first meets a campaign; a message is then a render of the recipient's
variant and a fill of the skeleton.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import re
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm import serbian
from crm.models import Campaign, CampaignAttachment, CampaignVariant, Organisation, SenderIdentity
from crm.settings import Settings
from outreach import calendar, invitations, merge, mime, wording
from outreach.campaigns import compile_variants, pick_language
from outreach.privacy_mail import request_url
from outreach.senders import SmtpAccount, account_of, dkim_key_of


@dataclass(frozen=True)
class Outgoing:
    """What the sender needs of one delivery row."""

    id: int
    campaign_id: int
    address: str
    name: str
    language: str
    fields: dict[str, Any]
    personal_line: str
    privacy_notice: str
    message_id: str
    is_test: bool
    attempts: int = 1
    org_id: int = 0
    contact_id: int | None = None


def reply_secret(settings: Settings) -> bytes:
    """The key of reply and unsubscribe tokens. Mail already sent must keep working when the
    session secret is rotated, so it is derived from the suppression key, which never
    changes."""
    return hmac.new(settings.suppression_hmac_key, b"beatbook reply tokens", "sha256").digest()


class Composer:
    """Builds the messages of one campaign."""

    def __init__(
        self,
        settings: Settings,
        campaign: Campaign,
        org: Organisation,
        variants: dict[str, CampaignVariant],
        attachments: list[CampaignAttachment],
        sender: SenderIdentity | None,
        invitation: calendar.Invitation | None = None,
    ) -> None:
        self.settings = settings
        self.invitation = invitation
        self.campaign = campaign
        self.compiled = compile_variants(campaign, variants)
        self.account: SmtpAccount = account_of(sender, settings)
        own_account = bool(sender and sender.smtp_host)
        self.to_catcher = not settings.smtp_host and not own_account
        # An identity's own account (Microsoft 365, Gmail) may take only its own address as
        # the envelope sender; the setting speaks for the instance's relay.
        self.bounces_home = self.to_catcher or (settings.bounce_return_path and not own_account)
        if sender is not None:
            from_name, self.from_address = sender.from_name, sender.from_address
        else:  # the instance's address, under the organisation's name
            from_name, self.from_address = org.name, parseaddr(settings.mail_from)[1]
        self.domain = mime.sending_domain(self.from_address)
        key = dkim_key_of(sender, settings)
        dkim = mime.DkimKey(sender.dkim_selector, self.domain, key) if sender and key else None
        self.prepared = mime.PreparedMessage(
            from_name=from_name or org.name,
            from_address=self.from_address,
            list_id=f"org{org.id}.{self.domain}",
            list_name=org.name,
            attachments=[
                mime.Attachment(a.filename, a.content_type, a.content) for a in attachments
            ],
            dkim=dkim,
            calendar_method=invitation.method if invitation else "",
        )
        self.fingerprint = _fingerprint(campaign, org, variants, attachments, sender, invitation)
        self.data_url = request_url(settings, org.id or 0)
        self._base_html = html.escape(settings.base_url)
        self._footers: dict[str, tuple[str, str, str, str]] = {}
        self._customs: dict[str, dict[str, Any]] = {}
        self.secret = reply_secret(settings)
        self.personal = campaign.kind == "answer"
        self.thread = tuple(campaign.thread.split()) if self.personal else ()

    def return_path(self, row: Outgoing) -> str:
        """The envelope sender: bounces and most out-of-office answers go to it. Where the
        relay allows it (or mail goes to the built-in catcher), an address that names the
        delivery as the Reply-To does; else the From, as relays like Microsoft 365 demand."""
        s = self.settings
        if not s.reply_domain or not self.bounces_home:
            return self.from_address
        return f"bounce+{mime.reply_token(self.secret, row.id)}@{s.reply_domain}"

    def build(self, row: Outgoing, *, allow_8bit: bool = False) -> bytes:
        """The message for one delivery; raises merge.RenderError when it cannot render, and
        ValueError when an address or the Message-ID cannot be used."""
        s = self.settings
        language = pick_language(self.compiled, row.language, self.campaign.default_language)
        values = {**self._custom_fields(language), **row.fields}
        rendered = self.compiled[language].render(values, personal_line=row.personal_line)
        token = mime.reply_token(self.secret, row.id)
        unsubscribe = f"{s.base_url}/u/{token}"
        if self.personal:  # an answer to a journalist's reply: a personal letter, no footer
            text, body = rendered.text, rendered.html
        else:
            text, body = self._with_footer(rendered, row, unsubscribe)
        subject = f"[TEST] {rendered.subject}" if row.is_test else rendered.subject
        return self.prepared.fill(
            to_name=row.name,
            to_address=row.address,
            subject=subject,
            text=text,
            html=body,
            message_id=row.message_id,
            reply_to=f"reply+{token}@{s.reply_domain}",
            unsubscribe_url=unsubscribe,
            unsubscribe_mailto=f"mailto:unsubscribe+{token}@{s.reply_domain}",
            allow_8bit=allow_8bit,
            calendar=self.invitation.for_guest(row.name, row.address) if self.invitation else b"",
            thread=self.thread,
            personal=self.personal,
        )

    def _custom_fields(self, language: str) -> dict[str, Any]:
        """The campaign's own fields, in the script of a Serbian message. Made once."""
        made = self._customs.get(language)
        if made is None:
            made = self._customs[language] = {
                k: serbian.to_script(v, language) if isinstance(v, str) else v
                for k, v in self.campaign.custom_fields.items()
            }
        return made

    def _with_footer(
        self, rendered: merge.Rendered, row: Outgoing, unsubscribe: str
    ) -> tuple[str, str]:
        leave, data, text_end, html_end = self._footer(row.language)
        notice = row.privacy_notice
        text = f"{rendered.text.rstrip()}\n\n-- \n"
        text += f"{notice}\n" if notice else ""
        text += f"{leave}: {unsubscribe}\n{text_end}"
        footer = '<hr><p style="font-size:13px;color:#555555">'
        footer += f"{html.escape(notice)}<br>" if notice else ""
        # The token is base32 and the base URL was escaped once: nothing here to escape.
        footer += f'<a href="{self._base_html}/u/{unsubscribe.rpartition("/")[2]}">{html_end}'
        return text, rendered.html + footer

    def _footer(self, language: str) -> tuple[str, str, str, str]:
        """What the footer says in a language: (unsubscribe, your data, the text part's last
        line, the HTML part's end after the unsubscribe link's address). Made once."""
        made = self._footers.get(language)
        if made is None:
            leave, data = wording.footer_labels(language)
            esc = html.escape
            url = f"{self.data_url}?lang={language}"  # the page opens in the mail's language
            text_end = f"{data}: {url}\n"
            html_end = f'">{esc(leave)}</a> · <a href="{esc(url)}">{esc(data)}</a></p>'
            made = self._footers[language] = (leave, data, text_end, html_end)
        return made


def _fingerprint(
    campaign: Campaign,
    org: Organisation,
    variants: dict[str, CampaignVariant],
    attachments: list[CampaignAttachment],
    sender: SenderIdentity | None,
    invitation: calendar.Invitation | None = None,
) -> str:
    """All a campaign's messages are made of (but the recipients): two composers with the
    same fingerprint make the same messages."""
    parts = (
        (campaign.id, campaign.updated_at, campaign.default_language, campaign.embargo),
        sorted(campaign.custom_fields.items()),
        (org.id, org.name),
        sorted((v.language, v.subject, v.body) for v in variants.values()),
        [(a.filename, a.content_type, hashlib.sha256(a.content).hexdigest()) for a in attachments],
        sorted(sender.model_dump().items()) if sender else None,
        # Without its DTSTAMP line, which says when it was made.
        (invitation.method, re.sub(r"DTSTAMP:\S+", "", invitation.before), invitation.after)
        if invitation
        else None,
    )
    return hashlib.sha256(repr(parts).encode()).hexdigest()


async def load_composer(session: AsyncSession, settings: Settings, campaign: Campaign) -> Composer:
    org = await session.get(Organisation, campaign.org_id)
    assert org is not None
    variants = await session.execute(
        select(CampaignVariant).where(CampaignVariant.campaign_id == campaign.id)
    )
    attachments = await session.execute(
        select(CampaignAttachment)
        .where(CampaignAttachment.campaign_id == campaign.id)
        .order_by(CampaignAttachment.id)
    )
    sender = await session.get(SenderIdentity, campaign.sender_id) if campaign.sender_id else None
    return Composer(
        settings,
        campaign,
        org,
        {v.language: v for v in variants.scalars()},
        list(attachments.scalars()),
        sender,
        await invitations.calendar_for(session, settings, campaign, org),
    )
