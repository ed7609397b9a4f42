"""Organisations, users, roles, logins, sessions, API tokens and one-time links."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pwdlib import PasswordHash
from sqlalchemy import Select, bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm import audit
from crm.errors import InvalidInput, NotFound, PermissionDenied
from crm.i18n import N_
from crm.models import (
    ROLES,
    ApiToken,
    LoginFailure,
    Membership,
    OneTimeLink,
    Organisation,
    User,
    WebSession,
)
from crm.search import normalise_email
from crm.settings import Settings

_hasher = PasswordHash.recommended()
MIN_PASSWORD = 10
LANGUAGES_UI = ("en", "sq", "sr-Latn")


@dataclass(frozen=True)
class Actor:
    """Who is acting, in which organisation, with which role."""

    user_id: int | None
    org_id: int
    role: str

    @property
    def can_write(self) -> bool:
        return self.role in ("owner", "editor")

    @property
    def is_owner(self) -> bool:
        return self.role == "owner"

    def require_write(self) -> None:
        if not self.can_write:
            raise PermissionDenied(N_("Viewers can look but not change anything."))

    def require_owner(self) -> None:
        if not self.is_owner:
            raise PermissionDenied(N_("Only an owner of the organisation can do this."))


class LoginThrottled(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__("too many failed logins")
        self.retry_after = retry_after


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_password_rules(password: str, field: str = "password") -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput({field: N_("Use at least %(n)s characters.", n=MIN_PASSWORD)})
    if len(password) > 200:
        raise InvalidInput({field: N_("Use at most 200 characters.")})


async def get_or_create_org(session: AsyncSession, name: str) -> Organisation:
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInput({"name": N_("An organisation needs a name of up to 200 characters.")})
    stmt = select(Organisation).where(Organisation.name == name)
    org = (await session.execute(stmt)).scalar_one_or_none()
    if org is None:
        org = Organisation(name=name)
        session.add(org)
        await session.flush()
    return org


async def user_by_email(session: AsyncSession, email: str) -> User | None:
    stmt = select(User).where(User.email == normalise_email(email))
    return (await session.execute(stmt)).scalar_one_or_none()


async def create_user(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    org: Organisation,
    role: str,
    name: str = "",
    language: str = "en",
) -> User:
    """Create a user (or reuse one with that email) and give them `role` in `org`."""
    if role not in ROLES:
        raise InvalidInput({"role": N_("Role must be one of %(roles)s.", roles=", ".join(ROLES))})
    email = normalise_email(email)
    if "@" not in email or len(email) > 320:
        raise InvalidInput({"email": N_("Enter a valid email address.")})
    user = await user_by_email(session, email)
    if user is None:
        check_password_rules(password)
        user = User(
            email=email, name=name, password_hash=hash_password(password), language=language
        )
        session.add(user)
        await session.flush()
    assert user.id is not None and org.id is not None
    membership = await session.get(Membership, (user.id, org.id))
    if membership is None:
        session.add(Membership(user_id=user.id, org_id=org.id, role=role))
    else:
        membership.role = role
    await session.flush()
    return user


async def memberships(session: AsyncSession, user_id: int) -> list[tuple[Membership, Organisation]]:
    stmt = (
        select(Membership, Organisation)
        .join(Organisation, Organisation.id == Membership.org_id)
        .where(Membership.user_id == user_id)
        .order_by(Organisation.name)
    )
    return [(m, o) for m, o in (await session.execute(stmt)).all()]


async def members(session: AsyncSession, org_id: int) -> list[tuple[Membership, User]]:
    stmt = (
        select(Membership, User)
        .join(User, User.id == Membership.user_id)
        .where(Membership.org_id == org_id)
        .order_by(User.email)
    )
    return [(m, u) for m, u in (await session.execute(stmt)).all()]


# --- logging in -------------------------------------------------------------------------


async def _recent_failures(session: AsyncSession, keys: list[str], settings: Settings) -> int:
    since = datetime.now(UTC) - timedelta(seconds=settings.login_window_seconds)
    stmt = select(func.count()).where(LoginFailure.key.in_(keys), LoginFailure.at >= since)
    return int((await session.execute(stmt)).scalar_one())


async def authenticate(
    session: AsyncSession, *, email: str, password: str, client: str, settings: Settings
) -> User | None:
    """Check a password, with a growing delay per failure and a hard stop (429) after many."""
    # Per address *from this client*, and per client: guessing from one place is slowed,
    # while someone elsewhere cannot lock a colleague out by typing their address.
    keys = [f"email:{normalise_email(email)[:320]}|client:{client}", f"client:{client}"]
    since = datetime.now(UTC) - timedelta(seconds=settings.login_window_seconds)
    await session.execute(delete(LoginFailure).where(LoginFailure.at < since))
    failures = await _recent_failures(session, keys, settings)
    if failures >= settings.login_max_failures * 2:
        raise LoginThrottled(settings.login_window_seconds)
    if failures:
        await asyncio.sleep(min(settings.login_delay_step * failures, 5.0))
    user = await user_by_email(session, email)
    ok = False
    if user is not None and user.is_active:
        ok = await asyncio.to_thread(_hasher.verify, password, user.password_hash)
    else:
        # Spend the same time on unknown addresses so they cannot be told apart.
        await asyncio.to_thread(_hasher.verify, password, _dummy_hash())
    if ok:
        await session.execute(delete(LoginFailure).where(LoginFailure.key == keys[0]))
        await session.commit()
        return user
    for key in keys:
        session.add(LoginFailure(key=key))
    await session.commit()
    if failures + 1 >= settings.login_max_failures * 2:
        raise LoginThrottled(settings.login_window_seconds)
    return None


@functools.cache
def _dummy_hash() -> str:
    """Made on first use, not at import: Argon2 takes 64 MB for a moment, which every
    process importing this module (the CLI, the worker) would otherwise pay."""
    return _hasher.hash("not a real password, only for timing")


async def start_session(
    session: AsyncSession, *, user: User, settings: Settings, org_id: int | None = None
) -> str:
    """A new session id at every login; returns the cookie value."""
    assert user.id is not None
    rows = await memberships(session, user.id)
    if not rows:
        raise PermissionDenied(N_("This account belongs to no organisation."))
    org_ids = [m.org_id for m, _ in rows]
    chosen = org_id if org_id in org_ids else org_ids[0]
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    session.add(
        WebSession(
            id=token_hash(token),
            user_id=user.id,
            org_id=chosen,
            expires_at=now + timedelta(days=settings.session_days),
        )
    )
    await session.commit()
    return token


async def end_session(session: AsyncSession, token: str) -> None:
    await session.execute(delete(WebSession).where(WebSession.id == token_hash(token)))
    await session.commit()


@functools.cache
def _session_statement() -> Select[WebSession, User, Membership, Organisation]:
    """Built once: every request runs it, and building it costs more than running it."""
    return (
        select(WebSession, User, Membership, Organisation)
        .join(User, User.id == WebSession.user_id)
        .join(Membership, Membership.user_id == WebSession.user_id)
        .join(Organisation, Organisation.id == Membership.org_id)
        .where(WebSession.id == bindparam("token"))
        .order_by(Organisation.name)
    )


async def session_context(
    session: AsyncSession, token: str
) -> tuple[User, Actor, list[tuple[Membership, Organisation]]] | None:
    """A login's user and role, with every organisation of the user, in one query."""
    rows = (await session.execute(_session_statement(), {"token": token_hash(token)})).all()
    if not rows:
        return None
    web_session, user = rows[0][0], rows[0][1]
    current = next((m for _, _, m, _ in rows if m.org_id == web_session.org_id), None)
    if current is None or web_session.expires_at < datetime.now(UTC) or not user.is_active:
        return None
    return user, Actor(user.id, current.org_id, current.role), [(m, o) for _, _, m, o in rows]


async def switch_org(session: AsyncSession, token: str, user_id: int, org_id: int) -> None:
    if await session.get(Membership, (user_id, org_id)) is None:
        raise NotFound("organisation")
    web_session = await session.get(WebSession, token_hash(token))
    if web_session is None:
        raise NotFound("session")
    web_session.org_id = org_id
    await session.commit()


async def change_password(
    session: AsyncSession, *, user: User, current: str, new: str, settings: Settings
) -> None:
    if len(current) > 200 or not await asyncio.to_thread(
        _hasher.verify, current, user.password_hash
    ):
        raise InvalidInput({"current_password": N_("That is not your current password.")})
    check_password_rules(new, "new_password")
    user.password_hash = hash_password(new)
    session.add(user)
    await _end_logins(session, user.id or 0)
    await session.commit()


async def set_language(session: AsyncSession, *, user: User, language: str) -> None:
    if language not in LANGUAGES_UI:
        raise InvalidInput({"language": N_("Choose English, Albanian or Serbian.")})
    user.language = language
    session.add(user)
    await session.commit()


# --- API tokens -----------------------------------------------------------------------------


async def create_api_token(session: AsyncSession, *, actor: Actor, name: str) -> str:
    assert actor.user_id is not None
    name = name.strip()[:100] or N_("API token")
    token = "bb_" + secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            user_id=actor.user_id,
            org_id=actor.org_id,
            name=name,
            token_hash=token_hash(token),
            prefix=token[:10],
        )
    )
    audit.record(
        session, org_id=actor.org_id, user_id=actor.user_id, action="create",
        entity="api_token", entity_id=None, changes={"name": name},
    )  # fmt: skip
    await session.commit()
    return token


async def list_api_tokens(session: AsyncSession, *, actor: Actor) -> list[ApiToken]:
    stmt = (
        select(ApiToken)
        .where(ApiToken.user_id == actor.user_id, ApiToken.org_id == actor.org_id)
        .order_by(ApiToken.created_at.desc())
    )
    return list((await session.execute(stmt)).scalars())


async def revoke_api_token(session: AsyncSession, *, actor: Actor, token_id: int) -> None:
    token = await session.get(ApiToken, token_id)
    if token is None or token.user_id != actor.user_id or token.org_id != actor.org_id:
        raise NotFound("token")
    token.revoked_at = datetime.now(UTC)
    session.add(token)
    await session.commit()


async def actor_for_api_token(session: AsyncSession, token: str) -> tuple[User, Actor] | None:
    stmt = (
        select(ApiToken, User, Membership)
        .join(User, User.id == ApiToken.user_id)
        .join(
            Membership,
            (Membership.user_id == ApiToken.user_id) & (Membership.org_id == ApiToken.org_id),
        )
        .where(ApiToken.token_hash == token_hash(token))
    )
    row = (await session.execute(stmt)).first()
    if row is None:
        return None
    api_token, user, membership = row
    if api_token.revoked_at is not None or not user.is_active:
        return None
    return user, Actor(user.id, membership.org_id, membership.role)


# --- one-time links: invitations and password resets ------------------------------------


async def create_link(
    session: AsyncSession,
    *,
    actor: Actor,
    kind: str,
    email: str,
    role: str = "editor",
    days: int = 7,
) -> str:
    """An owner invites a colleague, or issues a reset link for a member; returns the token."""
    actor.require_owner()
    email = normalise_email(email)
    if "@" not in email or len(email) > 320:
        raise InvalidInput({"email": N_("Enter a valid email address.")})
    if role not in ROLES:
        raise InvalidInput({"role": N_("Choose owner, editor or viewer.")})
    user_id = None
    if kind == "reset":
        user = await user_by_email(session, email)
        if user is None or await session.get(Membership, (user.id, actor.org_id)) is None:
            raise InvalidInput({"email": N_("No member of this organisation has that address.")})
        # An owner may reset only accounts that belong to their organisation alone; anything
        # else would open another organisation's data to them.
        if len(await memberships(session, user.id or 0)) > 1:
            raise InvalidInput(
                {"email": N_("This person also belongs to another organisation; "
                 "they can change their password under Settings.")}
            )  # fmt: skip
        user_id = user.id
    token = secrets.token_urlsafe(32)
    session.add(
        OneTimeLink(
            kind=kind,
            token_hash=token_hash(token),
            org_id=actor.org_id,
            email=email,
            role=role,
            user_id=user_id,
            created_by_id=actor.user_id,
            expires_at=datetime.now(UTC) + timedelta(days=days if kind == "invite" else 1),
        )
    )
    audit.record(
        session, org_id=actor.org_id, user_id=actor.user_id, action=kind,
        entity="user", entity_id=user_id, changes={"email": email, "role": role},
    )  # fmt: skip
    await session.commit()
    return token


async def open_link(session: AsyncSession, token: str, kind: str) -> OneTimeLink:
    stmt = select(OneTimeLink).where(
        OneTimeLink.token_hash == token_hash(token), OneTimeLink.kind == kind
    )
    link = (await session.execute(stmt)).scalar_one_or_none()
    if link is None or link.used_at is not None or link.expires_at < datetime.now(UTC):
        raise NotFound("link")
    return link


async def use_link(
    session: AsyncSession, *, token: str, kind: str, password: str, name: str = ""
) -> User:
    """Accept an invitation with a new account, or set a new password with a reset link.

    An invitation never sets the password of an existing account: its owner accepts it
    while logged in (`join_with_link`).
    """
    link = await open_link(session, token, kind)
    check_password_rules(password)
    org = await session.get(Organisation, link.org_id)
    assert org is not None
    user = await user_by_email(session, link.email)
    if kind == "invite":
        if user is not None:
            raise InvalidInput(
                {"password": N_("This address already has a Beatbook account. Log in with "
                 "it, then open the invitation link again to join.")}
            )  # fmt: skip
        user = await create_user(
            session, email=link.email, password=password, org=org, role=link.role, name=name
        )
    else:
        if user is None:
            raise NotFound("user")
        user.password_hash = hash_password(password)
        await _end_logins(session, user.id or 0)
    link.used_at = datetime.now(UTC)
    session.add(link)
    session.add(user)
    await session.commit()
    return user


async def join_with_link(session: AsyncSession, *, token: str, user: User) -> None:
    """A logged-in user accepts an invitation sent to their own address."""
    link = await open_link(session, token, "invite")
    if normalise_email(user.email) != link.email:
        raise InvalidInput(
            {"form": N_("This invitation is for %(email)s; log in as that user.", email=link.email)}
        )
    org = await session.get(Organisation, link.org_id)
    assert org is not None
    await create_user(session, email=user.email, password="", org=org, role=link.role)
    link.used_at = datetime.now(UTC)
    session.add(link)
    await session.commit()


async def invited_user_exists(session: AsyncSession, link: OneTimeLink) -> bool:
    return await user_by_email(session, link.email) is not None


async def _end_logins(session: AsyncSession, user_id: int) -> None:
    """After a password change: other browser sessions end and API tokens stop working."""
    await session.execute(delete(WebSession).where(WebSession.user_id == user_id))
    await session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )


async def set_role(session: AsyncSession, *, actor: Actor, user_id: int, role: str) -> None:
    actor.require_owner()
    membership = await session.get(Membership, (user_id, actor.org_id))
    if membership is None:
        raise NotFound("member")
    if role not in ROLES:
        raise InvalidInput({"role": N_("Choose owner, editor or viewer.")})
    if membership.role == "owner" and role != "owner":
        owners = await session.execute(
            select(func.count()).where(
                Membership.org_id == actor.org_id, Membership.role == "owner"
            )
        )
        if owners.scalar_one() <= 1:
            raise InvalidInput({"role": N_("An organisation keeps at least one owner.")})
    membership.role = role
    session.add(membership)
    audit.record(
        session, org_id=actor.org_id, user_id=actor.user_id, action="set_role",
        entity="user", entity_id=user_id, changes={"role": role},
    )  # fmt: skip
    await session.commit()


async def update_org(
    session: AsyncSession, *, actor: Actor, name: str, language: str, pitch_limit: int | None = None
) -> None:
    """Rename, change the mail language, and (when given) the over-pitching threshold."""
    actor.require_owner()
    name = name.strip()
    errors = {}
    if not name or len(name) > 200:
        errors["name"] = N_("Give the organisation a name of up to 200 characters.")
    if language not in ("en", "sq", "sr-Latn", "sr-Cyrl"):
        errors["default_language"] = N_("Choose a language.")
    if pitch_limit is not None and not 1 <= pitch_limit <= 100:
        errors["pitch_limit"] = N_("Enter a number of messages from 1 to 100.")
    taken = await session.execute(
        select(Organisation.id).where(Organisation.name == name, Organisation.id != actor.org_id)
    )
    if taken.first() is not None:
        errors["name"] = N_("Another organisation already uses that name.")
    if errors:
        raise InvalidInput(errors)
    org = await session.get(Organisation, actor.org_id)
    assert org is not None
    org.name, org.default_language = name, language
    if pitch_limit is not None:
        org.pitch_limit = pitch_limit
    session.add(org)
    audit.record(
        session, org_id=actor.org_id, user_id=actor.user_id, action="update",
        entity="organisation", entity_id=actor.org_id, changes={"name": name},
    )  # fmt: skip
    await session.commit()
