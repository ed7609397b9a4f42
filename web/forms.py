"""Turning HTML forms into validated input, and validation errors into field messages."""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

from crm.i18n import N_

M = TypeVar("M", bound=BaseModel)

_MESSAGES = {
    "string_too_short": N_("This field is required."),
    "missing": N_("This field is required."),
    "literal_error": N_("Choose one of the options."),
    "int_parsing": N_("Enter a whole number."),
    "date_from_datetime_parsing": N_("Enter a date like 26.11.2026 or 2026-11-26."),
    "date_parsing": N_("Enter a date like 26.11.2026 or 2026-11-26."),
    "datetime_from_date_parsing": N_("Enter a date and time."),
    "datetime_parsing": N_("Enter a date and time."),
    "bool_parsing": N_("Choose yes or no."),
    "url_parsing": N_("Enter a web address starting with http:// or https://."),
    "dict_type": N_("This value is not valid."),
    "list_type": N_("This value is not valid."),
}


def field_errors(exc: ValidationError) -> dict[str, str]:
    """The first readable message per top-level field."""
    errors: dict[str, str] = {}
    for err in exc.errors():
        loc = [str(p) for p in err["loc"] if p not in ("body",)]
        name = loc[0] if loc else "form"
        if name in errors:
            continue
        message = _MESSAGES.get(err["type"], err["msg"])
        ctx = err.get("ctx", {})
        if err["type"] == "string_too_long":
            message = N_("Use at most %(n)s characters.", n=ctx.get("max_length"))
        elif err["type"] == "too_long":
            message = N_("Give at most %(n)s.", n=ctx.get("max_length"))
        elif err["type"] in ("greater_than_equal", "greater_than"):
            message = N_("Enter a number of at least %(n)s.", n=ctx.get("ge", ctx.get("gt")))
        elif err["type"] in ("less_than_equal", "less_than"):
            message = N_("Enter a number of at most %(n)s.", n=ctx.get("le", ctx.get("lt")))
        elif err["type"] == "value_error" and name == "emails":
            message = N_(
                "“%(address)s” is not a valid email address.", address=err.get("input", "")
            )
        elif name == "roles" and err["type"] == "int_parsing":
            message = N_("Choose an outlet for each role, or clear its title and dates.")
        elif err["type"] == "value_error" and isinstance(ctx.get("error"), ValueError):
            # Our validators' own messages, marked with N_ where they are raised.
            raised = ctx["error"].args
            message = raised[0] if raised and isinstance(raised[0], str) else str(ctx["error"])
        elif message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        errors[name] = message
    return errors


def lines(value: str | None) -> list[str]:
    """A textarea with one item per line (or separated by commas or semicolons)."""
    if not value:
        return []
    parts = value.replace(";", "\n").replace(",", "\n").splitlines()
    return [p.strip() for p in parts if p.strip()]


# Fields a form may send several times (checkboxes, multi-selects); others keep the last.
MULTI = {"languages", "beat_ids", "contact_ids", "guest_answers"}


def _clean(value: Any) -> Any:
    # NUL never belongs in text (and PostgreSQL refuses it).
    return value.replace("\x00", "") if isinstance(value, str) else value


async def form_dict(request: Request) -> dict[str, Any]:
    form = await request.form()
    out: dict[str, Any] = {}
    for key in set(form.keys()):
        if key == "csrftoken":
            continue
        values = [_clean(v) for v in form.getlist(key) if isinstance(v, str)]
        if key in MULTI or key.endswith("_ids"):
            out[key] = values
        elif values:
            out[key] = values[-1]
    return out


def validate(model: type[M], data: dict[str, Any]) -> M:
    return model.model_validate(data)


def optional_int(value: Any) -> int | None:
    """A whole number from a query or form field, or None when it is not a usable id."""
    try:
        number = int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None
    return number if number is not None and 0 < number <= 2_147_483_647 else None
