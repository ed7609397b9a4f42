"""Domain exceptions; `web/` maps them to 404, 403, 409 and 422."""

from __future__ import annotations


class DomainError(Exception):
    """Base for errors a user can act on."""


class NotFound(DomainError):
    def __init__(self, what: str = "item") -> None:
        super().__init__(f"{what} not found")
        self.what = what


class PermissionDenied(DomainError):
    pass


class Conflict(DomainError):
    pass


class InvalidInput(DomainError):
    """Field-level problems: `errors` maps a field name to a message."""

    def __init__(self, errors: dict[str, str], *, links: dict[str, str] | None = None) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors
        # Optional link per field (e.g. to the existing contact that already has an email).
        self.links = links or {}


def message_of(exc: BaseException) -> str:
    """The message an exception was raised with: a marked `crm.i18n.Message` keeps its
    msgid and parameters for translation, where `str(exc)` gives plain English text."""
    message = exc.args[0] if len(exc.args) == 1 else None
    return message if isinstance(message, str) else str(exc)
