"""Sender identities: an organisation's From address and the SMTP account that sends as it.

Passwords and DKIM keys are stored encrypted (Fernet, under a key derived from the secret
key). An identity without a host of its own sends through the instance's relay, or, when
none is configured, through the built-in mail catcher.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Annotated, Literal

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import EmailStr, Field, StringConstraints
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm import audit, coalitions
from crm.accounts import Actor
from crm.errors import InvalidInput, NotFound
from crm.i18n import N_
from crm.models import SenderIdentity
from crm.models.base import DbId, Input
from crm.settings import Settings

Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=320)]


class SenderIn(Input):
    # Set for a coalition's address: partners may send joint campaigns from it.
    coalition_id: DbId | None = None
    from_name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
    ]
    from_address: EmailStr
    smtp_host: Annotated[str, StringConstraints(strip_whitespace=True, max_length=255)] = ""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_tls: Literal["starttls", "tls", "none"] = "starttls"
    smtp_username: Text = ""
    # Empty keeps the stored password.
    smtp_password: Annotated[str, StringConstraints(max_length=500)] = ""
    per_minute: int | None = Field(default=None, ge=1, le=100_000)
    per_day: int | None = Field(default=None, ge=1, le=10_000_000)
    dkim_selector: Annotated[
        str, StringConstraints(strip_whitespace=True, max_length=63, pattern=r"^[A-Za-z0-9._-]*$")
    ] = ""
    # PEM private key; empty keeps the stored one.
    dkim_key: Annotated[str, StringConstraints(strip_whitespace=True, max_length=10_000)] = ""


@dataclass(frozen=True)
class SmtpAccount:
    """Where and how to hand mail over, with the limits of that account."""

    host: str
    port: int
    tls: str
    username: str
    password: str
    per_minute: int | None
    per_day: int | None

    @property
    def key(self) -> str:
        """Names the account in the rate-limit ledger: identities that share a login share
        its limits."""
        raw = f"{self.host.lower()}:{self.port}:{self.username.lower()}"
        return hashlib.sha256(raw.encode()).hexdigest()[:32]


def _fernet(settings: Settings) -> Fernet:
    if not settings.secret_key:
        raise RuntimeError("BEATBOOK_SECRET_KEY is not set.")
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"beatbook sender credentials"
    ).derive(settings.secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(settings: Settings, secret: str) -> str:
    return _fernet(settings).encrypt(secret.encode()).decode() if secret else ""


class CredentialsUnreadable(InvalidInput):
    """The secret key changed since the password was saved."""


def decrypt(settings: Settings, token: str) -> str:
    if not token:
        return ""
    try:
        return _fernet(settings).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise CredentialsUnreadable(
            {"smtp_password": N_("The stored password can no longer be read (the secret key "
             "changed). Enter it again.")}
        ) from exc  # fmt: skip


def _check_dkim_key(pem: str) -> None:
    try:
        serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(
            {"dkim_key": N_("That is not a PEM private key without a passphrase.")}
        ) from exc


def _apply(settings: Settings, sender: SenderIdentity, data: SenderIn) -> None:
    sender.coalition_id = data.coalition_id
    for name in ("from_name", "smtp_host", "smtp_port", "smtp_tls", "smtp_username"):
        setattr(sender, name, getattr(data, name))
    sender.from_address = str(data.from_address)
    sender.per_minute, sender.per_day = data.per_minute, data.per_day
    sender.dkim_selector = data.dkim_selector
    if data.smtp_password:
        sender.smtp_password = encrypt(settings, data.smtp_password)
    if data.dkim_key:
        _check_dkim_key(data.dkim_key)
        sender.dkim_key = encrypt(settings, data.dkim_key)
    if bool(sender.dkim_selector) != bool(sender.dkim_key):
        raise InvalidInput({"dkim_selector": N_("A DKIM key needs its selector, and the reverse.")})


async def _check_coalition(session: AsyncSession, actor: Actor, data: SenderIn) -> None:
    if data.coalition_id is None:
        return
    try:
        await coalitions.require_member(session, actor, data.coalition_id)
    except NotFound as exc:
        raise InvalidInput({"coalition_id": N_("Choose one of your coalitions.")}) from exc


async def create_sender(
    session: AsyncSession, actor: Actor, settings: Settings, data: SenderIn
) -> SenderIdentity:
    actor.require_owner()
    await _check_coalition(session, actor, data)
    sender = SenderIdentity(org_id=actor.org_id, from_name="", from_address="")
    _apply(settings, sender, data)
    session.add(sender)
    await session.flush()
    audit.record(
        session, org_id=actor.org_id, user_id=actor.user_id, action="create",
        entity="sender", entity_id=sender.id, changes={"from": sender.from_address},
    )  # fmt: skip
    await session.commit()
    return sender


async def update_sender(
    session: AsyncSession, actor: Actor, settings: Settings, sender_id: int, data: SenderIn
) -> SenderIdentity:
    actor.require_owner()
    sender = await get_sender(session, actor, sender_id)
    await _check_coalition(session, actor, data)
    _apply(settings, sender, data)
    session.add(sender)
    audit.record(
        session, org_id=actor.org_id, user_id=actor.user_id, action="update",
        entity="sender", entity_id=sender.id, changes={"from": sender.from_address},
    )  # fmt: skip
    await session.commit()
    return sender


async def get_sender(session: AsyncSession, actor: Actor, sender_id: int) -> SenderIdentity:
    sender = await session.get(SenderIdentity, sender_id)
    if sender is None or sender.org_id != actor.org_id:
        raise NotFound("sender identity")
    return sender


async def list_senders(session: AsyncSession, actor: Actor) -> list[SenderIdentity]:
    """The organisation's own sender addresses (the ones it manages)."""
    rows = await session.execute(
        select(SenderIdentity)
        .where(SenderIdentity.org_id == actor.org_id)
        .order_by(SenderIdentity.from_name, SenderIdentity.id)
    )
    return list(rows.scalars())


async def usable_senders(session: AsyncSession, actor: Actor) -> list[SenderIdentity]:
    """What a campaign may be sent from: the organisation's own addresses, and its
    coalitions' addresses (for joint campaigns)."""
    joint = await coalitions.accepted_coalition_ids(session, actor.org_id)
    rows = await session.execute(
        select(SenderIdentity)
        .where((SenderIdentity.org_id == actor.org_id) | SenderIdentity.coalition_id.in_(joint))
        .order_by(SenderIdentity.from_name, SenderIdentity.id)
    )
    return list(rows.scalars())


def account_of(sender: SenderIdentity | None, settings: Settings) -> SmtpAccount:
    """The SMTP account mail from `sender` goes through: its own, the instance's relay, or
    the local mail catcher."""
    limits = (sender.per_minute, sender.per_day) if sender else (None, None)
    if sender is not None and sender.smtp_host:
        return SmtpAccount(
            sender.smtp_host, sender.smtp_port, sender.smtp_tls, sender.smtp_username,
            decrypt(settings, sender.smtp_password), *limits,
        )  # fmt: skip
    if settings.smtp_host:
        relay = (settings.smtp_per_minute, settings.smtp_per_day)
        return SmtpAccount(
            settings.smtp_host, settings.smtp_port, settings.smtp_tls.lower(),
            settings.smtp_username, settings.smtp_password,
            *(_tighter(own, shared) for own, shared in zip(limits, relay, strict=True)),
        )  # fmt: skip
    return SmtpAccount("127.0.0.1", settings.catcher_port, "none", "", "", *limits)


def _tighter(a: int | None, b: int | None) -> int | None:
    return min(a, b) if a and b else (a or b)


def dkim_key_of(sender: SenderIdentity | None, settings: Settings) -> bytes | None:
    if sender is None or not sender.dkim_key:
        return None
    return decrypt(settings, sender.dkim_key).encode()
