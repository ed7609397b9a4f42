"""The journalist's unsubscribe page, /u/TOKEN, in the journalist's language.

GET only asks (link checkers and previews fetch links); POST unsubscribes. The same POST
serves RFC 8058's one-click unsubscribe, which a mail provider sends without cookies or a
CSRF token, so web.app exempts /u/ from the CSRF check: the signed token is the authority.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from crm import i18n
from crm.errors import NotFound
from crm.settings import Settings
from outreach.privacy_mail import request_url
from outreach.unsubscribe import Target, unsubscribe, unsubscribe_target
from web.deps import SessionDep, SettingsDep, page_language
from web.rendering import render

router = APIRouter(include_in_schema=False)

HEADERS = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex"}


def _language(request: Request, settings: Settings, recipient: str | None) -> str:
    """The language asked for with ?lang=, else the recipient's, else the browser's."""
    return page_language(request, settings, recipient)


def _page(
    request: Request,
    template: str,
    token: str,
    language: str,
    target: Target | None,
    settings: Settings,
    status_code: int = 200,
) -> Response:
    # No csrftoken in the context: these pages must not set a cookie on the journalist.
    i18n.activate(language)
    request.state.template_context = {"auth": None, "csrftoken": "", "page_language": language}
    ctx = {
        "t": target,
        "token": token,
        "lang": language,
        "data_url": f"{request_url(settings, target.delivery.org_id)}?lang={language}"
        if target
        else "",
    }
    return render(request, template, ctx, status_code=status_code, headers=HEADERS)


@router.get("/u/{token}")
async def unsubscribe_page(
    request: Request, session: SessionDep, settings: SettingsDep, token: str
) -> Response:
    """Says whose mail stops and asks for a click; changes nothing."""
    try:
        target = await unsubscribe_target(session, settings, token)
    except NotFound:
        language = _language(request, settings, None)
        return _page(request, "unsubscribe/gone.html", token, language, None, settings, 404)
    language = _language(request, settings, target.language)
    template = "unsubscribe/done.html" if target.unsubscribed else "unsubscribe/confirm.html"
    return _page(request, template, token, language, target, settings)


@router.post("/u/{token}")
async def unsubscribe_now(
    request: Request, session: SessionDep, settings: SettingsDep, token: str
) -> Response:
    """The button, or a mail provider's one-click POST (`List-Unsubscribe=One-Click`): both
    unsubscribe and answer 200. The body is not read; the token says everything."""
    try:
        target = await unsubscribe(session, settings, token)
    except NotFound:
        language = _language(request, settings, None)
        return _page(request, "unsubscribe/gone.html", token, language, None, settings, 404)
    language = _language(request, settings, target.language)
    return _page(request, "unsubscribe/done.html", token, language, target, settings)
