"""Logging in and out, invitations and password resets."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from crm import accounts
from crm.errors import InvalidInput, PermissionDenied, message_of
from crm.i18n import N_
from crm.models import User
from web.deps import SESSION_COOKIE, SessionDep, SettingsDep, public_context
from web.rendering import render

router = APIRouter(include_in_schema=False)


def _safe_next(target: str) -> str:
    return target if target.startswith("/") and not target.startswith("//") else "/"


def _set_session_cookie(response: Response, token: str, settings: SettingsDep) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_days * 86400,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
    )


@router.get("/login")
async def login_page(request: Request, next: str = "/") -> Response:
    public_context(request)
    return render(request, "login.html", {"next": _safe_next(next), "errors": {}, "email": ""})


@router.post("/login")
async def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    public_context(request)
    client = request.client.host if request.client else "unknown"
    user = await accounts.authenticate(
        session, email=email, password=password, client=client, settings=settings
    )
    if user is None:
        ctx = {
            "next": _safe_next(next),
            "email": email,
            "errors": {"form": N_("That email and password do not match an account.")},
        }
        return render(request, "login.html", ctx, status_code=401)
    previous = request.cookies.get(SESSION_COOKIE)
    if previous:
        await accounts.end_session(session, previous)
    try:
        token = await accounts.start_session(session, user=user, settings=settings)
    except PermissionDenied as exc:
        ctx = {"next": "/", "email": email, "errors": {"form": message_of(exc)}}
        return render(request, "login.html", ctx, status_code=403)
    response = RedirectResponse(_safe_next(next), status_code=303)
    _set_session_cookie(response, token, settings)
    return response


@router.post("/logout")
async def logout(request: Request, session: SessionDep) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await accounts.end_session(session, token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


async def _current_user(request: Request, session: SessionDep) -> User | None:
    token = request.cookies.get(SESSION_COOKIE)
    found = await accounts.session_context(session, token) if token else None
    return found[0] if found else None


async def _link_page(
    request: Request,
    session: SessionDep,
    token: str,
    kind: str,
    errors: dict[str, str],
    values: dict[str, str] | None = None,
) -> Response:
    public_context(request)
    link = await accounts.open_link(session, token, kind)
    existing = kind == "invite" and await accounts.invited_user_exists(session, link)
    current = await _current_user(request, session) if existing else None
    ctx = {
        "link": link,
        "kind": kind,
        "errors": errors,
        "values": values or {},
        "existing": existing,
        "current_email": current.email if current else None,
        "token": token,
    }
    return render(request, "set_password.html", ctx, status_code=422 if errors else 200)


async def _use_link(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    token: str,
    kind: str,
    password: str,
    password2: str,
    name: str,
) -> Response:
    kept = {"name": name}
    if password != password2:
        return await _link_page(
            request, session, token, kind, {"password2": N_("The two passwords differ.")}, kept
        )
    try:
        user = await accounts.use_link(
            session, token=token, kind=kind, password=password, name=name.strip()[:200]
        )
    except InvalidInput as exc:
        await session.rollback()
        return await _link_page(request, session, token, kind, exc.errors, kept)
    session_token = await accounts.start_session(session, user=user, settings=settings)
    response = RedirectResponse("/", status_code=303)
    _set_session_cookie(response, session_token, settings)
    return response


@router.get("/invite/{token}")
async def invite_page(request: Request, session: SessionDep, token: str) -> Response:
    return await _link_page(request, session, token, "invite", {})


@router.post("/invite/{token}")
async def accept_invite(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    token: str,
    password: Annotated[str, Form(max_length=200)] = "",
    password2: Annotated[str, Form(max_length=200)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    return await _use_link(request, session, settings, token, "invite", password, password2, name)


@router.post("/invite/{token}/join")
async def join_with_invite(request: Request, session: SessionDep, token: str) -> Response:
    """A logged-in user accepts an invitation to another organisation."""
    user = await _current_user(request, session)
    if user is None:
        return RedirectResponse(f"/login?next=/invite/{token}", status_code=303)
    try:
        await accounts.join_with_link(session, token=token, user=user)
    except InvalidInput as exc:
        await session.rollback()
        return await _link_page(request, session, token, "invite", exc.errors)
    return RedirectResponse("/", status_code=303)


@router.get("/reset/{token}")
async def reset_page(request: Request, session: SessionDep, token: str) -> Response:
    return await _link_page(request, session, token, "reset", {})


@router.post("/reset/{token}")
async def reset_password(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    token: str,
    password: Annotated[str, Form(max_length=200)] = "",
    password2: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    return await _use_link(request, session, settings, token, "reset", password, password2, "")
