"""Dependencies shared by the routes: the database session and who is asking."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from sqlalchemy.ext.asyncio import AsyncSession

from crm import i18n
from crm.accounts import Actor, actor_for_api_token, session_context
from crm.i18n import N_
from crm.models import Organisation, User
from crm.settings import Settings
from outreach.inbound import inbox

SESSION_COOKIE = "beatbook_session"


class LoginRequired(Exception):
    """Raised for a page that needs a login; answered with a redirect (or 401 for the API)."""


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessionmaker() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


SettingsDep = Annotated[Settings, Depends(get_settings)]


@dataclass
class Auth:
    user: User
    actor: Actor
    org: Organisation
    orgs: list[tuple[str, int, str]]  # (name, id, role) of every organisation of the user
    token: str | None = None


async def _page_auth(request: Request, session: AsyncSession) -> Auth:
    token = request.cookies.get(SESSION_COOKIE)
    found = await session_context(session, token) if token else None
    if found is None:
        raise LoginRequired()
    user, actor, rows = found
    org = next(o for m, o in rows if o.id == actor.org_id)
    auth = Auth(user, actor, org, [(o.name, o.id or 0, m.role) for m, o in rows], token)
    i18n.activate(user.language)
    request.state.template_context = {
        "auth": auth,
        "csrftoken": _csrf(request),
        "policy_blocks": await inbox.policy_blocks(session, actor),
    }
    return auth


def _csrf(request: Request) -> str:
    getter = request.scope.get("csrftoken")
    return getter() if getter else ""


async def page_auth(request: Request, session: SessionDep) -> Auth:
    return await _page_auth(request, session)


async def api_auth(request: Request, session: SessionDep) -> Auth:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        found = await actor_for_api_token(session, header.removeprefix("Bearer ").strip())
        if found is None:
            raise LoginRequired()
        user, actor = found
        org = await session.get(Organisation, actor.org_id)
        assert org is not None
        return Auth(user, actor, org, [(org.name, actor.org_id, actor.role)])
    # The browser's own session works for the API too (CSRF applies to it).
    return await _page_auth(request, session)


CurrentAuth = Annotated[Auth, Depends(page_auth)]
ApiAuth = Annotated[Auth, Depends(api_auth)]


def _browser_language(request: Request) -> str:
    """The first of the browser's languages Beatbook speaks ("sr" alone is Latin script)."""
    for part in request.headers.get("accept-language", "").split(",")[:10]:
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("sr"):
            return "sr-Cyrl" if "cyrl" in tag else "sr-Latn"
        if tag.startswith("sq"):
            return "sq"
        if tag.startswith("en"):
            return "en"
    return ""


def page_language(request: Request, settings: Settings, recipient: str | None = None) -> str:
    """The language of a page a journalist reads: the one chosen with ?lang=, else theirs
    (`recipient`, when the page knows who they are), else their browser's."""
    chosen = request.query_params.get("lang", "")
    if chosen in i18n.PAGE_LANGUAGES:
        return chosen
    if recipient in i18n.PAGE_LANGUAGES:
        return recipient
    return _browser_language(request) or settings.default_language


def public_context(request: Request, recipient: str | None = None) -> dict[str, Any]:
    """Template context for pages shown before login, in the visitor's language (see
    `page_language`)."""
    settings = request.app.state.settings
    language = page_language(request, settings, recipient)
    i18n.activate(language)
    ctx = {"auth": None, "csrftoken": _csrf(request), "page_language": language}
    request.state.template_context = ctx
    return ctx


async def rollback(session: AsyncSession, auth: Auth) -> None:
    """Undo a failed change, keeping the user and organisation loaded for the page."""
    await session.rollback()
    await session.refresh(auth.user)
    await session.refresh(auth.org)


# Ids in paths: anything outside the database's integer range is simply invalid input.
Id = Annotated[int, Path(ge=1, le=2_147_483_647)]


def require_form_csrf(request: Request, form: Any) -> None:
    """The CSRF check of an upload form (asgi-csrf leaves multipart bodies to the route): the
    form's token must be the one signed into this browser's cookie."""
    import secrets

    from crm.errors import PermissionDenied

    bearer = request.headers.get("Authorization", "").startswith("Bearer ")
    if bearer and request.url.path.startswith("/api/"):
        return  # the API authenticates by that token, which browsers do not send on their own
    sent = form.get("csrftoken")
    expected = _csrf(request)
    if not (
        isinstance(sent, str)
        and request.cookies.get("csrftoken")
        and secrets.compare_digest(sent, expected)
    ):
        raise PermissionDenied(N_("The form has expired. Reload the page and try again."))
