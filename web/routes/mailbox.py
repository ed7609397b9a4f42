"""The Mailbox: what the built-in mail catcher received from this organisation's campaigns,
shown as the journalist would see it. Anyone in the organisation may read it."""

from __future__ import annotations

import email.parser
import email.policy
import urllib.parse
from email.message import EmailMessage
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.ext.asyncio import AsyncSession

from crm.errors import Conflict, NotFound
from crm.i18n import N_
from crm.search import fold
from outreach import catcher
from outreach.inbound import tryout
from web.app import MESSAGE_CSP
from web.deps import CurrentAuth, Id, SessionDep
from web.forms import form_dict
from web.rendering import render

router = APIRouter(include_in_schema=False)
PAGE = 50


def _disposition(filename: str, fallback: str) -> str:
    """`attachment` with an ASCII filename, and the real one (RFC 6266) when it differs."""
    ascii_name = "".join(c for c in fold(filename) if c.isalnum() or c in "._- ")[:100]
    ascii_name = ascii_name.strip(" .") or fallback
    value = f'attachment; filename="{ascii_name}"'
    if filename and filename != ascii_name:
        value += f"; filename*=UTF-8''{urllib.parse.quote(filename[:200], safe='')}"
    return value


def _attachment(raw: bytes, number: int) -> tuple[str, str, bytes]:
    """The number-th attachment (from 1, in catcher.open_message's order)."""
    message = email.parser.BytesParser(policy=email.policy.default).parsebytes(raw)
    parts = [p for p in message.iter_attachments() if isinstance(p, EmailMessage)]
    if not 1 <= number <= len(parts):
        raise NotFound("attachment")
    part = parts[number - 1]
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):  # an attached message/rfc822 has no bytes of its own
        data = part.as_bytes()
    return part.get_filename() or "", part.get_content_type(), data


@router.get("/mailbox")
async def mailbox_page(
    request: Request,
    auth: CurrentAuth,
    session: SessionDep,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    messages, total = await catcher.mailbox(
        session, auth.actor, limit=PAGE, offset=(page - 1) * PAGE
    )
    ctx = {
        "messages": messages,
        "total": total,
        "page": page,
        "pages": max((total + PAGE - 1) // PAGE, 1),
        "relay": bool(request.app.state.settings.smtp_host),
    }
    return render(request, "mailbox/list.html", ctx, block="results")


# Before /mailbox/{message_id}, which would otherwise take "12.eml" for an id.
@router.get("/mailbox/{message_id}.eml")
async def raw_message(auth: CurrentAuth, session: SessionDep, message_id: Id) -> Response:
    caught = await catcher.caught_message(session, auth.actor, message_id)
    return Response(
        caught.raw,
        media_type="message/rfc822",
        headers={"Content-Disposition": f'attachment; filename="message-{message_id}.eml"'},
    )


@router.get("/mailbox/{message_id}")
async def message_page(
    request: Request, auth: CurrentAuth, session: SessionDep, message_id: Id
) -> Response:
    caught = await catcher.caught_message(session, auth.actor, message_id)
    try:
        opened: catcher.Opened | None = catcher.open_message(caught.raw)
    except (LookupError, ValueError, TypeError, AssertionError):  # mail we did not write
        opened = None
    ctx = {"m": caught, "opened": opened, "invitation": tryout.is_invitation(caught.raw)}
    response = render(request, "mailbox/message.html", ctx)
    response.headers["Content-Security-Policy"] = MESSAGE_CSP
    return response


@router.get("/mailbox/{message_id}/attachments/{number}")
async def attachment(
    auth: CurrentAuth,
    session: SessionDep,
    message_id: Id,
    number: Annotated[int, Path(ge=1, le=1000)],
) -> Response:
    caught = await catcher.caught_message(session, auth.actor, message_id)
    filename, content_type, data = _attachment(caught.raw, number)
    return Response(
        data,
        media_type=content_type,
        headers={"Content-Disposition": _disposition(filename, f"attachment-{number}")},
    )


# --- playing the journalist --------------------------------------------------------------


async def _answer_as_journalist(
    request: Request, session: AsyncSession, made: tuple[bytes, str, str]
) -> Response:
    port = getattr(request.app.state, "receiver_port", None)
    if port is None:
        raise Conflict(
            N_("The inbound mail receiver is not running here, so no answer can come back.")
        )
    await session.rollback()  # no read left open while the receiver writes
    raw, sender, recipient = made
    settings = request.app.state.settings
    await tryout.deliver(settings.inbound_smtp_host, port, raw, sender, recipient)
    return RedirectResponse("/inbox", status_code=303)


@router.post("/mailbox/{message_id}/reply")
async def reply_as_journalist(
    request: Request, auth: CurrentAuth, session: SessionDep, message_id: Id
) -> Response:
    caught = await catcher.caught_message(session, auth.actor, message_id)
    auth.actor.require_write()
    text = str((await form_dict(request)).get("text") or "")
    return await _answer_as_journalist(request, session, tryout.journalist_reply(caught.raw, text))


@router.post("/mailbox/{message_id}/calendar")
async def answer_in_calendar(
    request: Request, auth: CurrentAuth, session: SessionDep, message_id: Id
) -> Response:
    caught = await catcher.caught_message(session, auth.actor, message_id)
    auth.actor.require_write()
    answer = str((await form_dict(request)).get("answer") or "")
    return await _answer_as_journalist(request, session, tryout.calendar_answer(caught.raw, answer))
