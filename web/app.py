"""The FastAPI application: `create_app(settings)` builds everything from one Settings."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path

from asgi_csrf import asgi_csrf
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm import i18n
from crm.accounts import LoginThrottled
from crm.database import make_engine, make_sessionmaker, refresh_statistics
from crm.errors import Conflict, InvalidInput, NotFound, PermissionDenied, message_of
from crm.i18n import N_
from crm.settings import Settings
from outreach.inbound.receiver import start_receiver
from outreach.worker import open_catcher, run_background
from web.deps import LoginRequired, public_context
from web.rendering import is_htmx, render

STATIC = Path(__file__).parent / "static"

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
)
# A page that shows an email's HTML in a sandboxed srcdoc iframe (an opaque origin: no
# scripts, forms or cookies) passes its CSP on to it; mail carries its styling inline, so such
# pages allow inline styles. Remote images and everything else stay blocked.
MESSAGE_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
# FastAPI's /docs page loads Swagger UI from a CDN with an inline script.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: https:; "
    "frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
)


class _PublicForms:
    """Forms posted before login that still need CSRF protection (login CSRF)."""

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and (
            path == "/login" or path.startswith(("/invite/", "/reset/", "/privacy/"))
        )


class SecurityHeaders:
    """CSP, nosniff, no framing, same-origin referrers (and HSTS behind https) on every answer.

    Plain ASGI rather than `@app.middleware("http")`, whose per-request task and streams cost
    more than the rest of a small page's framework time."""

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = scope["path"] in ("/docs", "/redoc")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", DOCS_CSP if docs else CSP)
                headers["X-Content-Type-Options"] = "nosniff"
                headers["X-Frame-Options"] = "DENY"
                headers["Referrer-Policy"] = "same-origin"
                if self.hsts:
                    headers["Strict-Transport-Security"] = "max-age=31536000"
            await send(message)

        await self.app(scope, receive, with_headers)


# The only paths that take file uploads. asgi-csrf cannot read multipart bodies with the
# python-multipart that FastAPI needs, so these check the form's token themselves
# (web.deps.require_form_csrf) and every other path refuses multipart bodies outright.
UPLOAD_PATHS = frozenset({"/imports", "/api/v1/imports"})
# A campaign's attachments (/campaigns/12/attachments and its API twin), a coverage item's
# clipping (/coverage/12/clipping).
UPLOAD_PATTERN = re.compile(
    r"(/api/v1)?/campaigns/[0-9]{1,10}/attachments|/coverage/[0-9]{1,10}/clipping"
)


def is_upload_path(path: str) -> bool:
    return path in UPLOAD_PATHS or UPLOAD_PATTERN.fullmatch(path) is not None


def _is_multipart(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            return value.split(b";", 1)[0].strip().lower() == b"multipart/form-data"
    return False


def _upload_checks_itself(scope: Scope) -> bool:
    return is_upload_path(scope["path"]) and _is_multipart(scope)


def _is_unsubscribe(path: str) -> bool:
    """/u/TOKEN needs no CSRF token: the signed, unguessable token in the path is the
    authorisation, and RFC 8058's one-click POST comes from mail providers with no session
    (as multipart/form-data or form-urlencoded; the route never reads the body)."""
    return path.startswith("/u/")


def _is_rsvp(path: str) -> bool:
    """/rsvp/TOKEN needs no CSRF token either: the signed token is the authority, and the
    journalist has no session (nor should get a cookie). Its form is never multipart."""
    return path.startswith("/rsvp/")


def _skips_csrf(scope: Scope) -> bool:
    path = scope["path"]
    return _upload_checks_itself(scope) or _is_unsubscribe(path) or _is_rsvp(path)


class UploadsOnlyWhereExpected:
    """A multipart body anywhere but an upload path is refused (415) before the CSRF check,
    so no form can slip past that check by being sent as multipart."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        takes = is_upload_path(path) or _is_unsubscribe(path)
        if scope["type"] == "http" and _is_multipart(scope) and not takes:
            response = PlainTextResponse("This address does not take file uploads.", 415)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


class MalformedBody:
    """asgi-csrf reads form bodies itself; a body it cannot decode is the client's error (400)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except (UnicodeDecodeError, IndexError):
            if started or scope["type"] != "http":
                raise
            response = PlainTextResponse("The request body could not be read.", status_code=400)
            await response(scope, receive, send)


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def create_app(settings: Settings | None = None, *, run_jobs: bool | None = None) -> FastAPI:
    settings = settings or Settings()
    if not settings.secret_key:
        raise RuntimeError("BEATBOOK_SECRET_KEY is not set (`make run` writes one to .env).")
    settings.suppression_hmac_key  # noqa: B018 (fails now, not at the first erasure)
    engine = make_engine(settings.database_url, echo=settings.sql_echo)
    maker = make_sessionmaker(engine)
    in_process = settings.run_jobs_in_process if run_jobs is None else run_jobs

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if engine.dialect.name == "sqlite":  # PostgreSQL's autovacuum keeps its own
            await refresh_statistics(engine)
        stop = asyncio.Event()
        task = None
        catcher, sending = await open_catcher(maker, settings)
        receiver = await start_receiver(maker, settings)
        app.state.receiver_port = receiver.port if receiver else None
        if in_process:
            task = asyncio.create_task(run_background(maker, sending, stop=stop, name="serve"))
        yield
        stop.set()
        if task is not None:
            await task
        if catcher is not None:
            await catcher.close()
        if receiver is not None:
            await receiver.close()
        await engine.dispose()

    app = FastAPI(
        title="Beatbook",
        version="0.1.0",
        description="Media-relations CRM for civil-society organisations. "
        "Authenticate with `Authorization: Bearer TOKEN` (create tokens under Settings).",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = maker
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    app.add_middleware(
        asgi_csrf,
        signing_secret=settings.secret_key,
        always_protect=_PublicForms(),
        skip_if_scope=_skips_csrf,
        cookie_secure=settings.secure_cookies,
    )
    app.add_middleware(MalformedBody)  # added after, so it wraps the CSRF check
    app.add_middleware(UploadsOnlyWhereExpected)
    # Outermost: the CSRF check's 403 and MalformedBody's 400 get the headers too.
    app.add_middleware(SecurityHeaders, hsts=settings.secure_cookies)
    _install_error_handlers(app)

    from web.routes import (
        api,
        auth,
        campaigns,
        campaigns_api,
        contacts,
        coverage,
        duplicates,
        events,
        exports,
        health,
        home,
        imports,
        inbox,
        lists,
        mailbox,
        outlets,
        privacy,
        rsvp,
        senders,
        settings_pages,
        unsubscribe,
    )

    # Exports first: `/contacts/export.csv` must not be read as `/contacts/{contact_id}`.
    pages = (
        auth, home, exports, contacts, outlets, lists, settings_pages, imports, duplicates,
        campaigns, mailbox, inbox, senders, events, coverage, health,
    )  # fmt: skip
    for module in (*pages, privacy, unsubscribe, rsvp):
        app.include_router(module.router)
    app.include_router(exports.api, prefix="/api/v1")
    app.include_router(campaigns_api.api, prefix="/api/v1")
    app.include_router(api.router, prefix="/api/v1")
    for module in (imports, duplicates, privacy, events, inbox, coverage, health):
        app.include_router(module.api, prefix="/api/v1")
    return app


def _error_page(request: Request, status: int, message: str) -> Response:
    if _wants_json(request):
        return JSONResponse({"detail": message}, status_code=status)
    if not getattr(request.state, "template_context", None):
        public_context(request)
    return render(
        request,
        "error.html",
        {"status": status, "message": message},
        block="content",
        status_code=status,
    )


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        if _wants_json(request):
            return JSONResponse(
                {"detail": "Not authenticated"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        target = "/login?next=" + request.url.path
        if is_htmx(request):
            return Response(status_code=204, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> Response:
        if _wants_json(request):
            detail = f"Not found: this {exc.what} does not exist here."
            return JSONResponse({"detail": detail}, status_code=404)
        return _error_page(request, 404, N_("Not found: this does not exist here."))

    @app.exception_handler(PermissionDenied)
    async def _forbidden(request: Request, exc: PermissionDenied) -> Response:
        return _error_page(request, 403, message_of(exc))

    @app.exception_handler(Conflict)
    async def _conflict(request: Request, exc: Conflict) -> Response:
        return _error_page(request, 409, message_of(exc))

    @app.exception_handler(InvalidInput)
    async def _invalid(request: Request, exc: InvalidInput) -> Response:
        if _wants_json(request):
            detail = [
                {"loc": ["body", field], "msg": msg, "type": "value_error"}
                | ({"link": exc.links[field]} if field in exc.links else {})
                for field, msg in exc.errors.items()
            ]
            return JSONResponse({"detail": detail}, status_code=422)
        return _error_page(request, 422, "; ".join(i18n.translate(v) for v in exc.errors.values()))

    @app.exception_handler(LoginThrottled)
    async def _throttled(request: Request, exc: LoginThrottled) -> Response:
        response = _error_page(
            request, 429, N_("Too many failed logins. Wait a few minutes and try again.")
        )
        response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if _wants_json(request):
            return JSONResponse(
                {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
            )
        message = {404: N_("Not found."), 405: N_("That action is not allowed here.")}.get(
            exc.status_code, str(exc.detail)
        )
        return _error_page(request, exc.status_code, message)

    @app.exception_handler(ValidationError)
    async def _model_validation(request: Request, exc: ValidationError) -> Response:
        """Input checked inside a route (a PATCH merged onto a contact, say)."""
        if _wants_json(request):
            errors = [
                {"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]}
                for e in exc.errors()
            ]
            return JSONResponse({"detail": errors}, status_code=422)
        return _error_page(request, 422, N_("Some of what was sent is not valid."))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        if _wants_json(request):
            errors = [
                {k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in exc.errors()
            ]
            return JSONResponse({"detail": errors}, status_code=422)
        return _error_page(request, 422, N_("Some of what was sent is not valid."))
