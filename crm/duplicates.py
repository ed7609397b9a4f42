"""Likely duplicate contacts: scoring names and outlets, the organisation's duplicate pairs, and
merging two contacts into one.

Names are compared folded (`crm.search.fold`: no case, diacritics or script), so `Arbën` and
`Arben`, `Јовановић` and `Jovanović` are equal; rapidfuzz measures what is left (typos), with
`đ` read both as `dj` and as `d`. Equal emails are not scored here: they are the import's
exact-duplicate case, and the finder lists them with score 100.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rapidfuzz import fuzz, process
from sqlalchemy import Column, Table, UniqueConstraint, and_, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import SQLModel

from crm import audit
from crm.accounts import Actor
from crm.contacts import (
    ContactDetail,
    ContactIn,
    _sort_key,
    contact_detail,
    get_contact,
    refresh_search_text,
)
from crm.errors import InvalidInput
from crm.i18n import N_
from crm.models import Contact, ContactEmail, ContactOutletRole, Interaction, Outlet
from crm.search import fold

NAME_MIN = 80  # below this two names belong to different people
SIMILAR_OUTLET = 80  # from here two outlet names are taken for the same outlet
FINDER_MIN = 70  # the finder lists pairs from here; the same name at another outlet scores 75
PREFIX = 4  # contacts are compared within blocks of this many leading letters of the family
WINDOW = 3  # the finder compares each contact with this many neighbours in name order
# Words that say what kind of outlet it is, not which one: "TV" alone does not match "TV Klan".
GENERIC_OUTLET_WORDS = {
    "tv", "radio", "rtv", "portal", "portali", "gazeta", "news", "online", "televizioni",
    "televizija", "info", "net", "com", "org", "the", "i", "e", "te", "and", "dhe",
}  # fmt: skip
REASON_TEXT = {
    "same_email": N_("same email %(email)s"),
    "same_name": N_("same name"),
    "similar_name": N_("similar names %(a)s ~ %(b)s"),
    "same_outlet": N_("same outlet %(a)s"),
    "similar_outlet": N_("outlet %(a)s ~ %(b)s"),
    "other_outlet": N_("different outlets (%(a)s, %(b)s)"),
    "no_outlet": N_("no outlet to compare"),
}
MERGE_FIELDS = (
    "given_name", "family_name", "salutation", "vocative", "preferred_language", "city",
    "region", "legal_basis",
)  # fmt: skip
# Choosing the legal basis takes its whole record: where it came from, when and by whom.
LEGAL_RECORD = ("legal_basis", "legal_source", "legal_captured_at", "legal_captured_by_id")


class Reason(str):
    """A reason in English words, with a code and parameters the web layer translates."""

    code: str
    params: dict[str, str]

    def __new__(cls, code: str, **params: str) -> Reason:
        reason = super().__new__(cls, REASON_TEXT[code] % params)
        reason.code, reason.params = code, params
        return reason


@dataclass
class Candidate:
    key: int  # the caller's id for the candidate (e.g. a row number)
    given_name: str
    family_name: str
    outlet: str  # outlet name as written (may be "")
    emails: list[str]


@dataclass
class Match:
    contact_id: int
    score: int  # 0-100
    reason: str  # in words: "same name, outlet Koha Ditore ~ Koha"
    reasons: list[Reason] = field(default_factory=list)


@dataclass
class Side:
    """What the duplicates page shows of one contact of a pair."""

    id: int
    name: str
    outlets: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)


@dataclass
class DuplicatePair:
    a_id: int  # the older contact: the one kept by default
    b_id: int
    score: int
    reasons: list[Reason]
    a: Side | None = None
    b: Side | None = None


# --- scoring -------------------------------------------------------------------------------


def _collapse(text: str) -> str:
    """`dj` read as `d`: `Đorđević` is written both Djordjevic and Dordevic."""
    return text.replace("dj", "d")


def _ratio(a: str, b: str) -> float:
    if not a or not b:
        return 0.0
    return max(fuzz.ratio(a, b), fuzz.ratio(_collapse(a), _collapse(b)))


def name_similarity(a: str, b: str) -> int:
    """0-100 for two full names, ignoring case, diacritics, script and word order."""
    fa, fb = fold(a), fold(b)
    if not fa or not fb:
        return 0
    score = max(fuzz.token_sort_ratio(fa, fb), fuzz.token_sort_ratio(_collapse(fa), _collapse(fb)))
    return round(score)


@functools.lru_cache(maxsize=65536)
def _outlet_words(name: str) -> tuple[str, ...]:
    return tuple(re.sub(r"[^a-z0-9]+", " ", fold(name)).split())


def _is_acronym(short: tuple[str, ...], long: tuple[str, ...]) -> bool:
    """`RTK` for `Radio Televizioni i Kosovës` (one-letter words skipped)."""
    if len(short) != 1 or not 2 <= len(short[0]) <= 6 or len(long) < 2:
        return False
    return short[0] == "".join(w[0] for w in long if len(w) > 1)


@functools.lru_cache(maxsize=65536)
def outlet_similarity(a: str, b: str) -> int:
    """0-100 for two outlet names: `Koha` ~ `Koha Ditore` is high, `RTK` vs `RTV` low."""
    wa, wb = _outlet_words(a), _outlet_words(b)
    if not wa or not wb:
        return 0
    sa, sb = " ".join(wa), " ".join(wb)
    if sa == sb:
        return 100
    if {w for w in wa if w.isdigit()} != {w for w in wb if w.isdigit()}:
        return 40  # channels and editions: Radio Kosova 1 and Radio Kosova 2 are two outlets
    if _is_acronym(wa, wb) or _is_acronym(wb, wa):
        return 90
    smaller, larger = sorted((set(wa), set(wb)), key=len)
    if smaller <= larger and smaller - GENERIC_OUTLET_WORDS:
        return 90  # one name is a shorter form of the other
    score = max(fuzz.ratio(sa, sb), fuzz.token_sort_ratio(sa, sb))
    if min(len(sa), len(sb)) <= 5:
        score *= 0.6  # short names and acronyms differ by one letter from other outlets
    return round(score)


_fold = functools.lru_cache(maxsize=65536)(fold)


@dataclass
class _Person:
    """A contact or candidate, folded once for comparing."""

    ref: int
    name: str
    given: str  # folded
    family: str  # folded
    outlets: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, ref: int, given: str, family: str, outlets: list[str]) -> _Person:
        g, f = _fold(given), _fold(family)
        if not f and " " in g:  # a whole name in one field
            g, f = g.rsplit(" ", 1)
        return cls(ref, f"{given} {family}".strip(), g, f, outlets)

    @functools.cached_property
    def key(self) -> str:
        """Family name first, `dj` as `d`: the finder's first order."""
        return _collapse(f"{self.family} {self.given}".strip())

    @functools.cached_property
    def given_key(self) -> str:
        """Given name first: the finder's second order, for typos early in family names."""
        return _collapse(f"{self.given} {self.family}".strip())

    @functools.cached_property
    def words(self) -> str:
        """The name's words in alphabetical order, to compare without caring for order."""
        return " ".join(sorted(self.key.split()))


def _name_score(p: _Person, q: _Person) -> int:
    """Both given and family name must be close; a namesake in the family is not enough."""
    return _parts_score(p.given, p.family, q.given, q.family)


@functools.lru_cache(maxsize=262144)
def _parts_score(given_a: str, family_a: str, given_b: str, family_b: str) -> int:
    """Cached: in a real list the same names come back again and again."""
    if not (given_a and family_a and given_b and family_b):
        return name_similarity(f"{given_a} {family_a}", f"{given_b} {family_b}")
    straight = (_ratio(family_a, family_b), _ratio(given_a, given_b))
    swapped = (_ratio(family_a, given_b), _ratio(given_a, family_b))
    family, given = max(straight, swapped, key=sum)
    score = (family + given) / 2
    if family < 85 or given < 80:
        score = min(score, 70)
    return round(score)


@functools.lru_cache(maxsize=262144)
def _best_outlets(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[int, str, str] | None:
    """The most similar pair of outlets of two people (cached: outlets are few, people many)."""
    if not a or not b:
        return None
    return max(((outlet_similarity(x, y), x, y) for x in a for y in b), key=lambda t: t[0])


def _assess(p: _Person, q: _Person) -> tuple[int, int, tuple[int, str, str] | None] | None:
    """The score, the name score and the closest outlets of `p` and `q`, or None when their
    names say they are two people.

    Same name and same or similar outlet: 90-99. Same name, no outlet on one side: 90 (nothing
    speaks against it). Same name at different outlets: 75, because journalists move but
    namesakes exist: the finder lists it, the import does not flag it."""
    n = _name_score(p, q)
    if n < NAME_MIN:
        return None
    outlets = _best_outlets(tuple(p.outlets), tuple(q.outlets))
    if outlets is None:
        return round(n * 0.9), n, None
    if outlets[0] >= SIMILAR_OUTLET:
        return min(99, round(0.85 * n + 0.15 * outlets[0])), n, outlets
    return round(n * 0.75), n, outlets


def _judge(p: _Person, q: _Person) -> tuple[int, list[Reason]] | None:
    """The score and the reasons, in words, for `p` and `q` being one person."""
    assessed = _assess(p, q)
    if assessed is None:
        return None
    score, n, outlets = assessed
    reasons = [Reason("same_name") if n == 100 else Reason("similar_name", a=p.name, b=q.name)]
    if outlets is None:
        reasons.append(Reason("no_outlet"))
    elif outlets[0] < SIMILAR_OUTLET:
        reasons.append(Reason("other_outlet", a=outlets[1], b=outlets[2]))
    elif outlets[0] == 100 and _fold(outlets[1]) == _fold(outlets[2]):
        reasons.append(Reason("same_outlet", a=outlets[1]))
    else:
        reasons.append(Reason("similar_outlet", a=outlets[1], b=outlets[2]))
    return score, reasons


# --- likely matches for an import ------------------------------------------------------------


def _prefixes(p: _Person) -> set[str]:
    """The blocks `p` is compared in: leading letters of the family name as `sort_key` stores
    it (`đ` as `dj`), for each way a `d` in them may have been an `đ`."""
    base = _collapse(p.family or p.given)
    spellings = {""}
    for ch in base[:PREFIX]:
        nxt = {s + ch for s in spellings}
        if ch == "d":
            nxt |= {s + "dj" for s in spellings}
        spellings = nxt
    return {s[:PREFIX] for s in spellings if s}


def _after(prefix: str) -> str:
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


async def _block_rows(
    session: AsyncSession, org_id: int, prefixes: Sequence[str], up_to: int | None = None
) -> list[tuple[int, str, str, str]]:
    """Contacts whose sort key starts with one of `prefixes`: index range scans, no full scan."""
    found: dict[int, tuple[int, str, str, str]] = {}
    for start in range(0, len(prefixes), 150):
        ranges = [
            and_(Contact.org_id == org_id, Contact.sort_key >= p, Contact.sort_key < _after(p))
            for p in prefixes[start : start + 150]
        ]
        stmt = select(Contact.id, Contact.given_name, Contact.family_name, Contact.sort_key)
        if up_to is not None:
            stmt = stmt.where(Contact.id <= up_to)
        for row in await session.execute(stmt.where(or_(*ranges))):
            found[row[0]] = (row[0], row[1], row[2], row[3])
    return list(found.values())


async def _outlet_names(session: AsyncSession, ids: Iterable[int]) -> dict[int, list[str]]:
    """Every outlet each contact works or worked at, current roles first."""
    ids = list(ids)
    names: dict[int, list[str]] = {}
    for start in range(0, len(ids), 500):
        stmt = (
            select(ContactOutletRole.contact_id, Outlet.name)
            .join(Outlet, Outlet.id == ContactOutletRole.outlet_id)
            .where(ContactOutletRole.contact_id.in_(ids[start : start + 500]))
            .order_by(ContactOutletRole.ended_on.is_not(None), ContactOutletRole.id)
        )
        for contact_id, name in await session.execute(stmt):
            names.setdefault(contact_id, []).append(name)
    return names


def _close_in_family(
    person: _Person, family: str, names: list[str], givens: dict[str, list[_Person]]
) -> Iterator[tuple[_Person, _Person]]:
    """`person` with each contact of one family whose name is close: given names are sifted
    by rapidfuzz in one call, then the few left are scored in full."""
    if person.given and person.family and family:
        if _ratio(person.family, family) < 85:
            return
        sifted = process.extract(
            person.given, names, scorer=fuzz.ratio, score_cutoff=NAME_MIN - 10, limit=None
        )
        names = [name for name, _, _ in sifted]
    for name in names:
        if _name_score(person, givens[name][0]) >= NAME_MIN:
            yield from ((person, contact) for contact in givens[name])


async def likely_matches(
    session: AsyncSession,
    org_id: int,
    candidates: list[Candidate],
    *,
    threshold: int = 85,
    up_to: int | None = None,
) -> dict[int, Match]:
    """For each candidate (by key), the existing contact that is most likely the same person
    by name and outlet, when it scores at least `threshold`. With `up_to`, only contacts with
    ids up to it count (an import compares with what existed before it started)."""
    wanted: dict[str, list[_Person]] = {}
    for c in candidates:
        person = _Person.of(c.key, c.given_name, c.family_name, [c.outlet] if c.outlet else [])
        for prefix in _prefixes(person):
            wanted.setdefault(prefix, []).append(person)
    lengths = {len(p) for p in wanted}
    # Block → family → given name → contacts: each name is compared once, not each contact.
    blocks: dict[str, dict[str, dict[str, list[_Person]]]] = {}
    for cid, given, family, sort_key in await _block_rows(session, org_id, sorted(wanted), up_to):
        contact = _Person.of(cid, given, family, [])
        for head in {sort_key[:n] for n in lengths} & wanted.keys():
            families = blocks.setdefault(head, {})
            families.setdefault(contact.family, {}).setdefault(contact.given, []).append(contact)
    close: list[tuple[_Person, _Person]] = []
    for head, people in wanted.items():
        for family, givens in blocks.get(head, {}).items():
            names = list(givens)
            for person in people:
                close.extend(_close_in_family(person, family, names, givens))
    outlets = await _outlet_names(session, {c.ref for _, c in close})
    best: dict[int, Match] = {}
    for person, contact in close:
        contact.outlets = outlets.get(contact.ref, [])
        judged = _judge(person, contact)
        if judged is None or judged[0] < threshold:
            continue
        score, reasons = judged
        current = best.get(person.ref)
        if current is None or (score, -contact.ref) > (current.score, -current.contact_id):
            best[person.ref] = Match(contact.ref, score, ", ".join(reasons), reasons)
    return best


# --- the duplicate finder --------------------------------------------------------------------


async def _everyone(session: AsyncSession, org_id: int) -> dict[int, _Person]:
    stmt = select(Contact.id, Contact.given_name, Contact.family_name).where(
        Contact.org_id == org_id
    )
    people = {cid: _Person.of(cid, g, f, []) for cid, g, f in await session.execute(stmt)}
    roles = (
        select(ContactOutletRole.contact_id, Outlet.name)
        .join(Outlet, Outlet.id == ContactOutletRole.outlet_id)
        .where(Outlet.org_id == org_id)
        .order_by(ContactOutletRole.ended_on.is_not(None), ContactOutletRole.id)
    )
    for contact_id, name in await session.execute(roles):
        if contact_id in people:
            people[contact_id].outlets.append(name)
    return people


async def _shared_emails(session: AsyncSession, org_id: int) -> list[tuple[int, int, str]]:
    a, b = aliased(ContactEmail), aliased(ContactEmail)
    stmt = (
        select(a.contact_id, b.contact_id, a.email)
        .join(b, and_(b.org_id == a.org_id, b.normalised == a.normalised))
        .where(a.org_id == org_id, a.contact_id < b.contact_id)
    )
    return [(x, y, e) for x, y, e in await session.execute(stmt)]


def _neighbours(people: Iterable[_Person]) -> Iterator[tuple[_Person, _Person]]:
    """Pairs worth comparing: neighbours in family-name order and in given-name order (the
    sorted-neighbourhood method), so the work grows with the number of contacts, not its
    square. The first outlet is part of the order, so a namesake at the same outlet is near."""
    everyone = list(people)
    orders = (
        sorted(everyone, key=lambda p: f"{p.key}\x00{p.outlets[0] if p.outlets else ''}"),
        sorted(everyone, key=lambda p: p.given_key),
    )
    seen: set[tuple[int, int]] = set()
    for order in orders:
        for i, p in enumerate(order):
            for q in order[i + 1 : i + 1 + WINDOW]:
                pair = (p.ref, q.ref) if p.ref < q.ref else (q.ref, p.ref)
                if pair in seen or not fuzz.ratio(p.words, q.words, score_cutoff=NAME_MIN - 10):
                    continue
                seen.add(pair)
                yield (p, q) if p.ref < q.ref else (q, p)


async def _all_pairs(
    session: AsyncSession, org_id: int
) -> tuple[dict[int, _Person], list[tuple[int, int, int]], dict[tuple[int, int], list[str]]]:
    """Every likely pair as (score, a, b), best first, and the addresses pairs share."""
    people = await _everyone(session, org_id)
    scores: dict[tuple[int, int], int] = {}
    shared: dict[tuple[int, int], list[str]] = {}
    for a, b, email in await _shared_emails(session, org_id):
        scores[(a, b)] = 100
        shared.setdefault((a, b), []).append(email)
    for p, q in _neighbours(people.values()):
        assessed = _assess(p, q)
        if assessed is not None and assessed[0] >= FINDER_MIN:
            key = (p.ref, q.ref)
            scores[key] = max(scores.get(key, 0), assessed[0])
    ranked = sorted((-score, a, b) for (a, b), score in scores.items())
    return people, [(-score, a, b) for score, a, b in ranked], shared


def _side(person: _Person | None, ref: int) -> Side:
    return Side(ref, person.name if person else "", list(person.outlets) if person else [])


def _pair(
    people: dict[int, _Person], score: int, a: int, b: int, shared: list[str]
) -> DuplicatePair:
    reasons = [Reason("same_email", email=email) for email in shared]
    p, q = people.get(a), people.get(b)
    judged = _judge(p, q) if p and q else None
    if judged is not None:
        reasons.extend(judged[1])
    return DuplicatePair(a, b, score, reasons, _side(p, a), _side(q, b))


async def find_duplicates(
    session: AsyncSession, actor: Actor, *, limit: int = 100, offset: int = 0
) -> tuple[list[DuplicatePair], int]:
    """One page of the organisation's likely duplicate pairs, best first, and their number."""
    people, ranked, shared = await _all_pairs(session, actor.org_id)
    page = [
        _pair(people, score, a, b, shared.get((a, b), []))
        for score, a, b in ranked[offset : offset + limit]
    ]
    ids = {i for p in page for i in (p.a_id, p.b_id)}
    emails: dict[int, list[str]] = {}
    if ids:
        stmt = (
            select(ContactEmail.contact_id, ContactEmail.email)
            .where(ContactEmail.contact_id.in_(ids))
            .order_by(ContactEmail.contact_id, ContactEmail.position)
        )
        for contact_id, email in await session.execute(stmt):
            emails.setdefault(contact_id, []).append(email)
    for pair in page:
        for side in (pair.a, pair.b):
            if side is not None:
                side.emails = emails.get(side.id, [])
    return page, len(ranked)


# --- merging ---------------------------------------------------------------------------------


def _value(contact: Contact, name: str) -> Any:
    return getattr(contact, name)


def _is_blank(contact: Contact, name: str) -> bool:
    value = _value(contact, name)
    if name == "salutation":
        return value == "neutral"
    if name == "legal_basis":
        return value == "legitimate_interest" and not contact.legal_source
    return not value


def default_choices(keep: Contact, other: Contact) -> dict[str, str]:
    """Per single-valued field, which contact's value to keep: a value over an empty one, and
    the more recently updated contact's value when both have one."""
    newer_other = other.updated_at > keep.updated_at
    choices = {}
    for name in MERGE_FIELDS:
        if _is_blank(keep, name) and not _is_blank(other, name):
            choices[name] = "other"
        elif not _is_blank(other, name) and _value(keep, name) != _value(other, name):
            choices[name] = "other" if newer_other else "keep"
        else:
            choices[name] = "keep"
    return choices


def _checked_choices(keep: Contact, other: Contact, choices: dict[str, str]) -> dict[str, str]:
    errors = {}
    for name, choice in choices.items():
        if name not in MERGE_FIELDS:
            errors[f"choices.{name}"] = N_("This field cannot be chosen; it is combined.")
        elif choice not in ("keep", "other"):
            errors[f"choices.{name}"] = N_("Choose “keep” or “other”.")
    if errors:
        raise InvalidInput(errors)
    return default_choices(keep, other) | choices


def _phone_key(phone: str) -> str:
    return re.sub(r"[^\d+]", "", phone).replace("+", "00", 1) or phone


def _combine_lists(first: list[str], second: list[str], key: Any = str.casefold) -> list[str]:
    seen: dict[str, str] = {}
    for item in [*first, *second]:
        seen.setdefault(key(item), item)
    return list(seen.values())


def _combine_notes(keep: Contact, other: Contact) -> str:
    """Notes one after the other; a social handle that differs is kept here, not dropped."""
    parts = [keep.notes.strip()] if keep.notes.strip() else []
    if other.notes.strip() and other.notes.strip() not in keep.notes:
        parts.append(other.notes.strip())
    for network, handle in other.social.items():
        if network in keep.social and keep.social[network] != handle:
            parts.append(N_("Also on %(network)s: %(handle)s", network=network, handle=handle))
    return "\n\n".join(parts)


def _apply_fields(keep: Contact, other: Contact, choices: dict[str, str]) -> None:
    for name, choice in choices.items():
        if choice == "other":
            for attr in LEGAL_RECORD if name == "legal_basis" else (name,):
                setattr(keep, attr, getattr(other, attr))
    keep.notes = _combine_notes(keep, other)
    keep.phones = _combine_lists(keep.phones, other.phones, _phone_key)
    keep.languages = _combine_lists(keep.languages, other.languages)
    keep.social = {**other.social, **keep.social}
    if other.do_not_contact:  # a safety flag: either contact having it is enough
        reasons = _combine_lists(
            [keep.do_not_contact_reason] if keep.do_not_contact else [],
            [other.do_not_contact_reason],
        )
        keep.do_not_contact = True
        keep.do_not_contact_reason = "; ".join(r for r in reasons if r)[:300]
    times = [t for t in (keep.last_interaction_at, other.last_interaction_at) if t]
    keep.last_interaction_at = max(times) if times else None
    given, family = keep.given_name, keep.family_name
    keep.sort_key = _sort_key(ContactIn.model_construct(given_name=given, family_name=family))
    keep.updated_at = datetime.now(UTC)


async def _move_emails(session: AsyncSession, keep_id: int, other_id: int) -> None:
    """Every address of both, once; the kept contact's primary stays primary."""
    stmt = select(ContactEmail).where(ContactEmail.contact_id.in_((keep_id, other_id)))
    rows = sorted((await session.execute(stmt)).scalars(), key=lambda e: e.position)
    kept = [e for e in rows if e.contact_id == keep_id]
    have = {e.normalised for e in kept}
    position = max((e.position for e in kept), default=-1) + 1
    for email in (e for e in rows if e.contact_id == other_id):
        if email.normalised in have:
            await session.delete(email)
            continue
        have.add(email.normalised)
        email.contact_id, email.position = keep_id, position
        email.is_primary = not kept and position == 0
        position += 1


async def _move_roles(session: AsyncSession, keep_id: int, other_id: int) -> None:
    """Every outlet role of both; a role recorded identically on both is kept once."""
    stmt = select(ContactOutletRole).where(ContactOutletRole.contact_id.in_((keep_id, other_id)))
    rows = list((await session.execute(stmt)).scalars())

    def same(r: ContactOutletRole) -> tuple[Any, ...]:
        return (r.outlet_id, r.title.casefold(), r.started_on, r.ended_on)

    have = {same(r) for r in rows if r.contact_id == keep_id}
    for role in (r for r in rows if r.contact_id == other_id):
        if same(role) in have:
            await session.delete(role)
        else:
            role.contact_id = keep_id


def _contact_links() -> list[tuple[Table, Column[Any]]]:
    """Every column of every table that points at a contact, except emails and roles (moved
    above): interactions, beats, tags, list members, import rows, and tables added later."""
    target = Contact.__table__.c.id  # type: ignore[attr-defined]
    links: list[tuple[Table, Column[Any]]] = []
    for table in SQLModel.metadata.sorted_tables:
        if table.name in ("contact_email", "contact_outlet_role"):
            continue
        links.extend((table, fk.parent) for fk in table.foreign_keys if fk.column is target)
    return links


def _unique_partners(table: Table, column: Column[Any]) -> list[list[Column[Any]]]:
    """For each unique key holding `column`, the other columns of that key."""
    keys = [list(table.primary_key.columns)]
    keys += [list(c.columns) for c in table.constraints if isinstance(c, UniqueConstraint)]
    keys += [list(i.columns) for i in table.indexes if i.unique]
    return [[c for c in key if c is not column] for key in keys if column in key]


async def _move_links(session: AsyncSession, keep_id: int, other_id: int) -> None:
    """Point the other contact's rows at the kept one, unless the kept one already has that
    row (a shared tag, beat or list): those go with the other contact when it is deleted."""
    for table, column in _contact_links():
        stmt = update(table).where(column == other_id).values({column.name: keep_id})
        for partners in _unique_partners(table, column):
            twin = table.alias()
            stmt = stmt.where(
                ~exists().where(
                    twin.c[column.name] == keep_id,
                    *(twin.c[c.name] == c for c in partners),
                )
            )
        await session.execute(stmt)


async def merge_contacts(
    session: AsyncSession, actor: Actor, keep_id: int, other_id: int, choices: dict[str, str]
) -> Contact:
    """Merge `other_id` into `keep_id`: `choices` picks each single-valued field ("keep" or
    "other"; missing ones as `default_choices`); everything else of both is kept, the other
    contact is deleted. One transaction: on any failure both stay as they were."""
    actor.require_write()
    if keep_id == other_id:
        raise InvalidInput({"other_id": N_("Choose two different contacts to merge.")})
    keep = await get_contact(session, actor, keep_id)
    other = await get_contact(session, actor, other_id)
    chosen = _checked_choices(keep, other, choices)
    other_name = other.full_name
    try:
        _apply_fields(keep, other, chosen)
        await _move_emails(session, keep_id, other_id)
        await _move_roles(session, keep_id, other_id)
        await session.flush()
        await _move_links(session, keep_id, other_id)
        await session.delete(other)
        session.add(
            Interaction(
                org_id=actor.org_id, contact_id=keep_id, kind="merge",
                occurred_at=datetime.now(UTC),
                summary=N_("Merged with %(name)s", name=other_name)[:300],
                author_id=actor.user_id,
            )
        )  # fmt: skip
        await session.flush()
        await refresh_search_text(session, keep)
        audit.record(
            session, org_id=actor.org_id, user_id=actor.user_id, action="merge",
            entity="contact", entity_id=keep_id,
            changes={"kept_id": keep_id, "merged_id": other_id, "merged_name": other_name,
                     "choices": chosen},
        )  # fmt: skip
        await session.commit()
    except Exception:
        await session.rollback()
        raise
    return keep


@dataclass
class MergePreview:
    """What the merge page compares and what the merge will combine."""

    keep: ContactDetail
    other: ContactDetail
    choices: dict[str, str]
    emails: list[str]
    phones: list[str]
    tags: list[str]
    beats: list[str]
    lists: list[str]
    outlets: list[str]
    moving_interactions: int
    do_not_contact: bool


async def merge_preview(
    session: AsyncSession, actor: Actor, keep_id: int, other_id: int
) -> MergePreview:
    if keep_id == other_id:
        raise InvalidInput({"other": N_("Choose two different contacts to compare.")})
    keep = await contact_detail(session, actor, keep_id)
    other = await contact_detail(session, actor, other_id)
    moving = await session.execute(
        select(func.count(Interaction.id)).where(Interaction.contact_id == other_id)
    )
    return MergePreview(
        keep=keep,
        other=other,
        choices=default_choices(keep.contact, other.contact),
        emails=_combine_lists([e.email for e in keep.emails], [e.email for e in other.emails]),
        phones=_combine_lists(keep.contact.phones, other.contact.phones, _phone_key),
        tags=_combine_lists(keep.tags, other.tags),
        beats=_combine_lists([b.name for b in keep.beats], [b.name for b in other.beats]),
        lists=_combine_lists([lst.name for lst in keep.lists], [lst.name for lst in other.lists]),
        outlets=_combine_lists([o.name for _, o in keep.roles], [o.name for _, o in other.roles]),
        moving_interactions=int(moving.scalar_one()),
        do_not_contact=keep.contact.do_not_contact or other.contact.do_not_contact,
    )
