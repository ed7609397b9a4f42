"""The journalist's answer page, /rsvp/TOKEN, in their language, without a login.

GET shows the event and asks (link checkers and previews fetch links, so nothing changes on
GET); the chosen button POSTs the answer, which can be changed on the same page later. The
signed token in the path is the authority, so web.app exempts /rsvp/ from the CSRF check."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from crm import i18n
from crm.errors import Conflict, InvalidInput, NotFound
from crm.models import Contact
from outreach import rsvp
from web.deps import SessionDep, SettingsDep, page_language
from web.forms import form_dict
from web.rendering import render

router = APIRouter(include_in_schema=False)
HEADERS = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex"}


async def _page(
    request: Request, session: SessionDep, settings: SettingsDep, token: str, status: int = 200
) -> Response:
    try:
        guest = await rsvp.guest_of(session, settings, token)
    except NotFound:
        language = page_language(request, settings)
        i18n.activate(language)
        request.state.template_context = {"auth": None, "csrftoken": "", "page_language": language}
        return render(request, "rsvp/gone.html", {}, status_code=404, headers=HEADERS)
    contact = (
        await session.get(Contact, guest.attendance.contact_id)
        if guest.attendance.contact_id
        else None
    )
    language = page_language(request, settings, contact.preferred_language if contact else None)
    i18n.activate(language)
    request.state.template_context = {"auth": None, "csrftoken": "", "page_language": language}
    event = guest.event
    ctx = {
        "g": guest.attendance,
        "event": event,
        "token": token,
        "wanted": request.query_params.get("answer", ""),
        "done": request.query_params.get("done") == "1",
    }
    return render(request, "rsvp/page.html", ctx, status_code=status, headers=HEADERS)


@router.get("/rsvp/{token}")
async def rsvp_page(
    request: Request, session: SessionDep, settings: SettingsDep, token: str
) -> Response:
    return await _page(request, session, settings, token)


@router.post("/rsvp/{token}")
async def rsvp_answer(
    request: Request, session: SessionDep, settings: SettingsDep, token: str
) -> Response:
    data = await form_dict(request)
    word = str(data.get("answer", ""))
    try:
        await rsvp.answer_by_link(session, settings, token, word)
    except NotFound:
        return await _page(request, session, settings, token, status=404)
    except InvalidInput:
        return await _page(request, session, settings, token, status=422)
    except Conflict:
        return await _page(request, session, settings, token, status=409)
    lang = request.query_params.get("lang", "")
    query = f"&lang={lang}" if lang in i18n.PAGE_LANGUAGES else ""
    return RedirectResponse(f"/rsvp/{token}?done=1{query}", status_code=303)
