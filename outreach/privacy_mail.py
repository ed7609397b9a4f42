"""The mail of data requests: the confirmation link, and the copy of a journalist's data.

Importing this module registers the job handlers `privacy.confirm` and `privacy.send_copy`.
Both speak the language of the page the journalist asked on (English where no catalogue
has the words).
"""

from __future__ import annotations

import json

from sqlalchemy.ext.asyncio import AsyncSession

from crm import i18n, jobs, privacy
from crm.accounts import Actor
from crm.i18n import N_
from crm.models import DataRequest, Job, Organisation
from crm.settings import Settings
from outreach.mail import new_message, send_mail

WHAT = {
    "copy": N_("a copy of the data it holds about you"),
    "erasure": N_("the erasure of the data it holds about you"),
}

CONFIRM_SUBJECT = N_("Confirm your request to {org}")
CONFIRM_TEXT = N_("""\
Hello,

Someone, we hope you, asked {org} for {what}, for this address: {email}.
{org} keeps its media contacts in Beatbook.

To confirm the request, open this link within {days} days and press the button:

{link}

If you did not ask for this, ignore this message and nothing will happen.

{org}
""")

COPY_SUBJECT = N_("Your data held by {org}")
COPY_TEXT = N_("""\
Hello,

As you asked, attached is a copy of everything {org} holds about {email}, as a JSON file
(a plain-text format that any text editor opens).

{summary}

If you have questions, reply to this message.

{org}
""")


def request_url(settings: Settings, org_id: int) -> str:
    """Where a journalist asks an organisation for their data: for the footer of every mail."""
    return f"{settings.base_url}/privacy/{org_id}/request"


async def _org_name(session: AsyncSession, org_id: int) -> str:
    org = await session.get(Organisation, org_id)
    return org.name if org else "Beatbook"


@jobs.handler("privacy.confirm")
async def send_confirmation(session: AsyncSession, job: Job, settings: Settings) -> None:
    """Email the confirmation link; the token exists only in that email."""
    req = await session.get(DataRequest, int(job.payload.get("request_id", 0)))
    if req is None or req.status != "unconfirmed" or not req.email:
        return  # withdrawn, purged or already confirmed: nothing to send
    org = await _org_name(session, req.org_id)
    # The hash is committed before sending: a retry makes a new link rather than one that
    # would never work.
    token = privacy.issue_token(req)
    session.add(req)
    await session.commit()
    t = i18n.translations(req.language)
    text = t.gettext(CONFIRM_TEXT).format(
        org=org,
        what=t.gettext(WHAT.get(req.kind, req.kind)),
        email=req.email,
        days=privacy.REQUEST_DAYS,
        link=f"{settings.base_url}/privacy/confirm/{token}?lang={req.language}",
    )
    subject = t.gettext(CONFIRM_SUBJECT).format(org=org)
    await send_mail(settings, new_message(settings, to=req.email, subject=subject, text=text))


@jobs.handler("privacy.send_copy")
async def send_copy(session: AsyncSession, job: Job, settings: Settings) -> None:
    """Email the copy to the confirmed address, then close the request."""
    req = await session.get(DataRequest, int(job.payload.get("request_id", 0)))
    if req is None or req.status != "confirmed" or not req.email:
        return
    actor = Actor(req.fulfilled_by_id, req.org_id, "owner")
    data = await privacy.request_copy(session, actor, req)
    org = await _org_name(session, req.org_id)
    count = len(data["contacts"])
    t = i18n.translations(req.language)
    summary = (
        t.ngettext("It covers %(num)s contact record.", "It covers %(num)s contact records.", count)
        % {"num": count}
        if count
        else t.gettext("We hold no contact record with this address.")
    )
    message = new_message(
        settings,
        to=req.email,
        subject=t.gettext(COPY_SUBJECT).format(org=org),
        text=t.gettext(COPY_TEXT).format(org=org, email=req.email, summary=summary),
    )
    body = json.dumps(data, ensure_ascii=False, indent=2).encode()
    message.add_attachment(body, maintype="application", subtype="json", filename="your-data.json")
    await send_mail(settings, message)
    privacy.copy_sent(req)
    session.add(req)
