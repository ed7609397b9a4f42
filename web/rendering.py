"""One Jinja environment and one `render()` that answers a full page or an HTMX block."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from jinja2_fragments import render_block

from crm import i18n, serbian
from outreach import invitations, wording
from web import labels

TEMPLATES = Path(__file__).parent / "templates"
LOCAL_TZ = i18n.LOCAL_TZ


def _build_env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        enable_async=False,
    )
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)
    # Dates, times and numbers as the reader's language writes them, in Kosovo's time zone.
    env.filters["local"] = i18n.format_datetime
    env.filters["date"] = i18n.format_date
    env.filters["number"] = i18n.format_number
    env.filters["event_span"] = invitations.span
    # Messages from the domain (errors, reasons): translated, with their parameters filled.
    env.globals["tr"] = i18n.translate
    env.globals["suggest_vocative"] = serbian.vocative
    env.globals["greeting"] = wording.salutation
    env.globals.update(
        labels.GLOBALS, PAGE_LANGUAGES=i18n.PAGE_LANGUAGES, UI_LANGUAGES=i18n.UI_LANGUAGES
    )
    # The shared macros are globals, so HTMX blocks rendered alone can use them too.
    macros = env.get_template("_macros.html").module
    env.globals.update({k: getattr(macros, k) for k in dir(macros) if not k.startswith("_")})
    return env


env = _build_env()


def is_htmx(request: Request) -> bool:
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    block: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """The full page, or only `block` when HTMX asked for part of it."""
    ctx = {"request": request, **getattr(request.state, "template_context", {}), **(context or {})}
    if block and is_htmx(request):
        html = render_block(env, template, block, ctx)
    else:
        html = env.get_template(template).render(ctx)
    response = HTMLResponse(html, status_code=status_code, headers=headers)
    response.headers["Vary"] = "HX-Request"
    return response


def render_text(request: Request, template: str, context: dict[str, Any] | None = None) -> str:
    """A whole template as text (for a PDF or an attachment), with the page's context."""
    ctx = {"request": request, **getattr(request.state, "template_context", {}), **(context or {})}
    return env.get_template(template).render(ctx)
