"""Turning HTML forms into validated input, and validation errors into field messages."""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)

_MESSAGES = {
    "string_too_short": "This field is required.",
    "missing": "This field is required.",
    "literal_error": "Choose one of the options.",
    "int_parsing": "Enter a whole number.",
    "date_from_datetime_parsing": "Enter a date like 26.11.2026 or 2026-11-26.",
    "date_parsing": "Enter a date like 26.11.2026 or 2026-11-26.",
    "datetime_from_date_parsing": "Enter a date and time.",
    "datetime_parsing": "Enter a date and time.",
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
        if err["type"] == "string_too_long":
            message = f"Use at most {err.get('ctx', {}).get('max_length')} characters."
        elif err["type"] == "value_error" and name == "emails":
            message = f"“{err.get('input', '')}” is not a valid email address."
        elif name == "roles" and err["type"] == "int_parsing":
            message = "Choose an outlet for each role, or clear its title and dates."
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
MULTI = {"languages", "beat_ids", "contact_ids"}


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
