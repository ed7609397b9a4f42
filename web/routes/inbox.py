"""The Inbox (every inbound message, by class; triage, link by hand, answer), and the
inbound webhook `POST /api/v1/inbound` for providers that deliver mail over HTTP."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from sqlalchemy.ext.asyncio import AsyncSession

from crm.contacts import ContactFilter, search_contacts
from crm.errors import Conflict, InvalidInput
from crm.i18n import N_
from crm.models import BOUNCE_KINDS, INBOUND_CATEGORIES
from outreach import catcher
from outreach.inbound import answers, inbox, pipeline
from web.app import MESSAGE_CSP
from web.deps import Auth, CurrentAuth, Id, SessionDep, SettingsDep, rollback
from web.forms import form_dict, optional_int
from web.rendering import render

router = APIRouter(include_in_schema=False)
api = APIRouter(tags=["inbound mail"])
PAGE = 50


@router.get("/inbox")
async def inbox_page(
    request: Request,
    auth: CurrentAuth,
    session: SessionDep,
    category: Annotated[str, Query(max_length=16)] = "",
    kind: Annotated[str, Query(max_length=8)] = "",
    state: Annotated[str, Query(max_length=8)] = "",
    campaign_id: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    category = category if category in INBOUND_CATEGORIES else ""
    kind = kind if kind in BOUNCE_KINDS else ""
    state = state if state in ("new", "handled") else ""
    rows, total, new = await inbox.inbox(
        session, auth.actor, category=category, kind=kind, state=state,
        campaign_id=campaign_id, limit=PAGE, offset=(page - 1) * PAGE,
    )  # fmt: skip
    ctx = {
        "rows": rows,
        "total": total,
        "new": new,
        "category": category,
        "kind": kind,
        "state": state,
        "categories": INBOUND_CATEGORIES,
        "page": page,
        "pages": max(1, -(-total // PAGE)),
        "query": {
            k: v for k, v in {"category": category, "kind": kind, "state": state}.items() if v
        },
    }
    return render(request, "inbox/list.html", ctx, block="results")


# Before /inbox/{message_id}, which would otherwise take "12.eml" for an id.
@router.get("/inbox/{message_id}.eml")
async def raw_message(auth: CurrentAuth, session: SessionDep, message_id: Id) -> Response:
    row = await inbox.message(session, auth.actor, message_id)
    return Response(
        row.message.raw,
        media_type="message/rfc822",
        headers={"Content-Disposition": f'attachment; filename="inbound-{message_id}.eml"'},
    )


@router.get("/inbox/{message_id}")
async def message_page(
    request: Request,
    auth: CurrentAuth,
    session: SessionDep,
    message_id: Id,
    q: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    return await _message_view(request, auth, session, message_id, q=q)


async def _message_view(
    request: Request,
    auth: Auth,
    session: AsyncSession,
    message_id: int,
    *,
    q: str = "",
    answer: str = "",
    errors: dict[str, str] | None = None,
) -> Response:
    row = await inbox.message(session, auth.actor, message_id)
    m = row.message
    try:
        opened = catcher.open_message(m.raw)
    except Exception:  # noqa: BLE001 (a message we cannot open is still shown, raw)
        opened = None
    candidates: list = []  # type: ignore[type-arg]
    if m.category == "unmatched":
        # Whoever has the sender's address first; else what the officer searches for.
        q = q or m.from_address
        candidates, _ = await search_contacts(session, auth.actor, ContactFilter(q=q), limit=10)
        if not candidates and not request.query_params.get("q") and m.from_name:
            q = m.from_name
            candidates, _ = await search_contacts(session, auth.actor, ContactFilter(q=q), limit=10)
    ctx = {
        "row": row, "m": m, "opened": opened, "candidates": candidates, "q": q,
        "answers": await answers.answers_to(session, m), "answer": answer, "errors": errors,
        "answer_to": answers.answer_address(m),
    }  # fmt: skip
    response = render(request, "inbox/message.html", ctx, status_code=422 if errors else 200)
    response.headers["Content-Security-Policy"] = MESSAGE_CSP  # their HTML, in a sandbox
    return response


@router.post("/inbox/{message_id}/answer")
async def send_answer(
    request: Request,
    auth: CurrentAuth,
    session: SessionDep,
    settings: SettingsDep,
    message_id: Id,
) -> Response:
    data = await form_dict(request)
    body = str(data.get("body") or "")
    try:
        await answers.answer(session, auth.actor, settings, message_id, body=body)
    except (InvalidInput, Conflict) as exc:
        await rollback(session, auth)
        errors = exc.errors if isinstance(exc, InvalidInput) else {"body": str(exc)}
        return await _message_view(request, auth, session, message_id, answer=body, errors=errors)
    return RedirectResponse(f"/inbox/{message_id}#answers", status_code=303)


@router.post("/inbox/{message_id}/state")
async def change_state(
    request: Request, auth: CurrentAuth, session: SessionDep, message_id: Id
) -> Response:
    data = await form_dict(request)
    await inbox.set_state(session, auth.actor, message_id, str(data.get("state") or ""))
    back = str(data.get("next") or "")
    target = back if back.startswith("/inbox") else f"/inbox/{message_id}"
    return RedirectResponse(target, status_code=303)


@router.post("/inbox/{message_id}/link")
async def link(
    request: Request, auth: CurrentAuth, session: SessionDep, message_id: Id
) -> Response:
    await inbox.message(session, auth.actor, message_id)  # another's message: 404 first
    data = await form_dict(request)
    contact_id = optional_int(data.get("contact_id"))
    if contact_id is None:
        raise InvalidInput({"contact_id": N_("Choose the contact this message is from.")})
    await inbox.link_contact(session, auth.actor, message_id, contact_id)
    return RedirectResponse(f"/inbox/{message_id}", status_code=303)


@router.post("/inbox/policy/handled")
async def policy_handled(request: Request, auth: CurrentAuth, session: SessionDep) -> Response:
    await inbox.handle_policy_blocks(session, auth.actor)
    return RedirectResponse("/inbox?category=bounce&kind=policy", status_code=303)


# --- the webhook ---------------------------------------------------------------------------


async def _body(request: Request, limit: int) -> bytes | None:
    """The request body, or None once it passes `limit` (read no further)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


@api.post(
    "/inbound",
    status_code=201,
    responses={200: {"description": "Received before (same Message-ID): nothing done again"}},
)
async def inbound_webhook(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """One raw RFC 822 message as the request body (`Content-Type: message/rfc822`),
    authenticated with `Authorization: Bearer` and the instance's BEATBOOK_INBOUND_TOKEN.
    Idempotent by Message-ID: a message posted twice is stored and acted on once."""
    if not settings.inbound_token:
        return JSONResponse(
            {"detail": "The inbound webhook is off: set BEATBOOK_INBOUND_TOKEN to turn it on."},
            status_code=404,
        )
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), settings.inbound_token.encode()):
        return JSONResponse(
            {"detail": "A valid inbound token is required."},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    raw = await _body(request, settings.inbound_max_bytes * 4)
    if raw is None:
        return JSONResponse({"detail": "The message is too large."}, status_code=413)
    if not raw.strip():
        return JSONResponse(
            {"detail": [{"loc": ["body"], "msg": "The body must be a raw RFC 822 message."}]},
            status_code=422,
        )
    row, new = await pipeline.receive_once(session, settings, raw, via="api")
    return JSONResponse(
        {"id": row.id, "category": row.category, "kind": row.kind, "duplicate": not new},
        status_code=201 if new else 200,
    )
