"""One Jinja environment and one `render()` that answers a full page or an HTMX block."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from jinja2_fragments import render_block

from web import i18n

TEMPLATES = Path(__file__).parent / "templates"
LOCAL_TZ = ZoneInfo("Europe/Belgrade")


def _local(value: datetime | None, fmt: str = "%d.%m.%Y %H:%M") -> str:
    """Dates day first, in Kosovo's time zone."""
    if value is None:
        return ""
    try:
        return value.astimezone(LOCAL_TZ).strftime(fmt)
    except (OverflowError, ValueError):
        return value.strftime(fmt)


def _build_env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        enable_async=False,
    )
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)
    env.filters["local"] = _local
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
