"""Importing contacts from CSV, Excel and vCard files.

The flow: `upload` stores the file and guesses the column mapping; the officer checks the
preview and the mapping (`save_settings`); `start` queues a job that runs `run_import`, as a
dry run (nothing written, a report of what would happen) or for real.

The real run goes through the file in chunks. Each chunk's contacts, report rows and the
batch's progress commit together, so a crash or a restart leaves no half-written contact and
the job carries on after the last committed chunk. Every data row ends in the report as
imported, updated, skipped or rejected (with its row number, field and reason); rows that look
like an existing contact by name and outlet are imported and flagged, never merged.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import functools
import gc
import io
import itertools
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm import audit, bulk, jobs, privacy
from crm.accounts import Actor
from crm.contacts import refresh_search_text
from crm.duplicates import Candidate, likely_matches
from crm.errors import InvalidInput, NotFound, message_of
from crm.exports import safe_cell
from crm.i18n import N_
from crm.import_rows import Rejected, RowContact, build
from crm.models import (
    ON_DUPLICATE,
    Beat,
    Contact,
    ContactBeat,
    ContactEmail,
    ContactOutletRole,
    ContactTag,
    ImportBatch,
    ImportFile,
    ImportRow,
    Interaction,
    Job,
    Outlet,
    Suppression,
)
from crm.search import PartFolds, search_key
from crm.search import fold as _fold_text
from crm.settings import Settings
from crm.spreadsheets import FIELDS, MULTI_FIELDS, UnreadableFile, guess_mapping, open_table
from crm.spreadsheets import split_values as split
from crm.vcards import UnreadableCards, parse_vcards

# Outlet and beat names repeat on most rows of a file: fold each once.
fold = functools.lru_cache(maxsize=8192)(_fold_text)


@functools.lru_cache(maxsize=4096)
def split_cell(cell: str) -> tuple[str, ...]:
    """The values typed in one cell; outlet and tag cells repeat on most rows: split each once."""
    return tuple(split(cell))


CHUNK = 2500
PREVIEW_ROWS = 8
MAX_PROBLEMS = 200  # rows of a dry run's report kept for the page
Record = tuple[int, dict[str, list[str]]]
# The columns an import writes, in the order of the tuples it builds (the tables' other
# columns are left to their defaults).
CONTACT_COLUMNS = (
    "org_id", "given_name", "family_name", "salutation", "vocative", "preferred_language",
    "languages", "phones", "social", "city", "region", "notes", "legal_basis", "legal_source",
    "legal_captured_at", "legal_captured_by_id", "do_not_contact", "do_not_contact_reason",
    "search_text", "sort_key", "created_at", "updated_at",
)  # fmt: skip
EMAIL_COLUMNS = ("org_id", "contact_id", "email", "normalised", "is_primary", "position")
TIMELINE_COLUMNS = (
    "org_id", "contact_id", "kind", "direction", "occurred_at", "summary", "body", "author_id",
    "created_at",
)  # fmt: skip
IMPORT_ROW_COLUMNS = (
    "batch_id", "row_number", "outcome", "contact_id", "field", "reason", "similar_contact_id",
)  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Reading the stored file
# ---------------------------------------------------------------------------------------------


@dataclass
class Source:
    """An uploaded file, opened: its columns and a way to read its rows as import fields."""

    file_format: str
    encoding: str
    delimiter: str
    headers: list[str]
    total_rows: int
    _rows: Callable[[], Iterator[tuple[int, list[str]]]] | None = None
    _cards: Callable[[], Iterator[Record]] | None = None

    def records(self, mapping: dict[int, str]) -> Iterator[Record]:
        """(row number, {field: cells}) for each data row, under `mapping`."""
        if self._cards is not None:
            yield from self._cards()
            return
        assert self._rows is not None
        pairs = sorted(mapping.items())
        for number, cells in self._rows():
            values: dict[str, list[str]] = {}
            width = len(cells)
            for index, name in pairs:
                if index < width and (cell := cells[index]) and not cell.isspace():
                    if name in values:
                        values[name].append(cell)
                    else:
                        values[name] = [cell]
            yield number, values

    def preview(self, count: int = PREVIEW_ROWS) -> list[list[str]]:
        if self._cards is not None:
            found = []
            for _, record in self._cards():
                found.append([" ".join(v) for v in record.values()])
                if len(found) >= count:
                    break
            return found
        assert self._rows is not None
        found = []
        for _, cells in self._rows():
            found.append(cells)
            if len(found) >= count:
                break
        return found


def open_source(
    data: bytes,
    filename: str,
    *,
    settings: Settings,
    encoding: str | None = None,
    delimiter: str | None = None,
) -> Source:
    """The file opened for import; InvalidInput with a clear sentence when it cannot be."""
    if not data.strip():
        raise InvalidInput({"file": N_("The file is empty.")})
    try:
        if filename.lower().endswith((".vcf", ".vcard")):
            total = sum(1 for _ in parse_vcards(data))
            if total > settings.import_max_rows:
                raise InvalidInput(
                    {"file": N_("The file holds %(total)s cards; at most %(limit)s are "
                                "imported at once.",
                                total=f"{total:,}", limit=f"{settings.import_max_rows:,}")}
                )  # fmt: skip
            return Source("vcf", "", "", [], total, _cards=lambda: parse_vcards(data))
        table = open_table(
            data,
            filename,
            encoding=encoding or None,
            delimiter=delimiter or None,
            max_rows=settings.import_max_rows,
        )
    except (UnreadableFile, UnreadableCards) as exc:
        raise InvalidInput({"file": message_of(exc)}) from None
    total = table.row_count
    return Source(
        table.file_format, table.encoding, table.delimiter, table.headers, total, table.rows
    )


def mapping_of(batch: ImportBatch) -> dict[int, str]:
    return {int(k): v for k, v in batch.mapping.items()}


# ---------------------------------------------------------------------------------------------
# Batches: upload, settings, start
# ---------------------------------------------------------------------------------------------


async def upload(
    session: AsyncSession,
    actor: Actor,
    settings: Settings,
    *,
    filename: str,
    data: bytes,
    encoding: str | None = None,
) -> ImportBatch:
    """Store an uploaded file as a new import with the guessed mapping; nothing imported yet."""
    actor.require_write()
    filename = (filename or "upload.csv").replace("\\", "/").rsplit("/", 1)[-1][:255]
    if len(data) > settings.import_max_bytes:
        raise InvalidInput(
            {"file": N_("The file is %(size)s MB; at most %(limit)s MB can be imported "
                        "at once.",
                        size=f"{len(data) / 1e6:.1f}",
                        limit=f"{settings.import_max_bytes / 1e6:.0f}")}
        )  # fmt: skip
    # Reading a big workbook takes seconds: not on the event loop.
    source = await asyncio.to_thread(
        open_source, data, filename, settings=settings, encoding=encoding
    )
    batch = ImportBatch(
        org_id=actor.org_id,
        user_id=actor.user_id,
        filename=filename,
        file_format=source.file_format,
        encoding=source.encoding,
        delimiter=source.delimiter,
        mapping={str(i): f for i, f in guess_mapping(source.headers).items()},
        total_rows=source.total_rows,
    )
    session.add(batch)
    await session.flush()
    assert batch.id is not None
    session.add(ImportFile(batch_id=batch.id, content=data))
    await session.commit()
    return batch


async def get_batch(session: AsyncSession, actor: Actor, batch_id: int) -> ImportBatch:
    batch = await session.get(ImportBatch, batch_id)
    if batch is None or batch.org_id != actor.org_id:
        raise NotFound("import")
    return batch


async def list_batches(session: AsyncSession, actor: Actor, *, limit: int = 20) -> list[Any]:
    stmt = (
        select(ImportBatch)
        .where(ImportBatch.org_id == actor.org_id)
        .order_by(ImportBatch.created_at.desc(), ImportBatch.id.desc())
        .limit(limit)
    )
    return list((await session.execute(stmt)).scalars())


async def open_batch(session: AsyncSession, settings: Settings, batch: ImportBatch) -> Source:
    """The batch's stored file, opened as it was read at upload (encoding, delimiter)."""
    stored = await session.get(ImportFile, batch.id)
    if stored is None:
        raise InvalidInput({"file": N_("The file of this import is no longer kept.")})
    return await asyncio.to_thread(
        open_source,
        stored.content,
        batch.filename,
        settings=settings,
        encoding=batch.encoding or None,
        delimiter=batch.delimiter or None,
    )


async def save_settings(
    session: AsyncSession,
    actor: Actor,
    settings: Settings,
    batch_id: int,
    *,
    mapping: dict[int, str],
    on_duplicate: str,
    encoding: str = "",
) -> ImportBatch:
    """The officer's column mapping, duplicate rule and (optionally) encoding."""
    actor.require_write()
    batch = await get_batch(session, actor, batch_id)
    _check_idle(batch)
    errors: dict[str, str] = {}
    if on_duplicate not in ON_DUPLICATE:
        errors["on_duplicate"] = N_("Choose update, skip or create.")
    mapping = {i: f for i, f in mapping.items() if f}
    unknown = sorted({f for f in mapping.values() if f not in FIELDS})
    if unknown:
        errors["mapping"] = N_("Unknown field: %(field)s.", field=unknown[0])
    twice = sorted(
        f
        for f in set(mapping.values())
        if f not in MULTI_FIELDS and list(mapping.values()).count(f) > 1
    )
    if twice:
        errors["mapping"] = N_(
            "Only one column can be “%(field)s”.", field=FIELDS.get(twice[0], twice[0])
        )
    if batch.file_format != "vcf" and not {"full_name", "given_name", "family_name"} & set(
        mapping.values()
    ):
        errors["mapping"] = N_("Choose the column that holds the names.")
    if errors:
        raise InvalidInput(errors)
    if encoding and encoding != batch.encoding and batch.file_format == "csv":
        stored = await session.get(ImportFile, batch.id)
        assert stored is not None
        try:
            source = open_source(
                stored.content, batch.filename, settings=settings, encoding=encoding
            )
        except (LookupError, UnicodeDecodeError):
            raise InvalidInput(
                {"encoding": N_("The file cannot be read as %(encoding)s.", encoding=encoding)}
            ) from None
        batch.encoding, batch.total_rows = source.encoding, source.total_rows
    batch.mapping = {str(i): f for i, f in sorted(mapping.items())}
    batch.on_duplicate = on_duplicate
    batch.counts = {}  # an earlier dry run no longer describes this mapping
    session.add(batch)
    await session.commit()
    return batch


def _check_idle(batch: ImportBatch) -> None:
    """Settings change and jobs start only while nothing runs on the batch."""
    if batch.status != "uploaded":
        raise InvalidInput({"file": N_("This import has already run.")})
    if (batch.counts.get("dry_run") or {}).get("status") in ("queued", "running"):
        raise InvalidInput({"file": N_("The file is being checked; wait until the check is done.")})


async def start(session: AsyncSession, actor: Actor, batch_id: int, *, dry_run: bool) -> Job:
    """Queue the dry run or the import itself; it runs in the job worker."""
    actor.require_write()
    batch = await get_batch(session, actor, batch_id)
    _check_idle(batch)
    job = await jobs.enqueue(
        session,
        "import.contacts",
        {"batch_id": batch.id, "dry_run": dry_run},
        org_id=batch.org_id,
    )
    if dry_run:
        batch.counts = {"dry_run": {"status": "queued"}}
    else:
        batch.status = "queued"
        batch.job_id = job.id
    session.add(batch)
    await session.commit()
    return job


# ---------------------------------------------------------------------------------------------
# Running an import
# ---------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    row_number: int
    outcome: str
    field: str = ""
    reason: str = ""
    contact: RowContact | None = None  # the contact this row created or went into
    contact_id: int | None = None
    similar_contact_id: int | None = None
    flagged: bool = False

    @property
    def resolved_id(self) -> int | None:
        if self.contact is not None and self.contact_id is None:
            return getattr(self.contact, "contact_id", None)
        return self.contact_id


@dataclass
class Chunk:
    """Rows of the file read and checked, before anything is looked up or written."""

    last_row: int
    rejected: list[Outcome]
    contacts: list[RowContact]


def read_chunk(rows: Iterator[Record], folds: PartFolds | None = None) -> Chunk | None:
    """The next CHUNK rows, each built into a contact or rejected: the work on the file alone,
    before anything is looked up or written."""
    records = list(itertools.islice(rows, CHUNK))
    if not records:
        return None
    rejected: list[Outcome] = []
    contacts: list[RowContact] = []
    for number, values in records:
        if "_error" in values:
            rejected.append(Outcome(number, "rejected", "card", values["_error"][0][:300]))
            continue
        try:
            contacts.append(build(number, values, split_cell, folds))
        except Rejected as exc:
            rejected.append(Outcome(number, "rejected", exc.field, exc.reason[:300]))
    return Chunk(records[-1][0], rejected, contacts)


@dataclass
class _Run:
    session: AsyncSession
    settings: Settings
    batch: ImportBatch
    dry_run: bool
    outlets: dict[str, int] = field(default_factory=dict)
    beats: dict[str, int] = field(default_factory=dict)
    # Within the file: earlier rows by normalised email, and by folded name (+ outlet).
    by_email: dict[str, RowContact | int] = field(default_factory=dict)
    by_name: dict[str, tuple[int, str, RowContact | int]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    problems: list[dict[str, Any]] = field(default_factory=list)
    new_outlets: list[str] = field(default_factory=list)
    pending: list[tuple[str, str]] = field(default_factory=list)
    existing_up_to: int | None = None
    any_suppressed: bool = True
    from_start: bool = True  # False when a run carries on after a crash
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    folds: PartFolds = field(default_factory=PartFolds)  # names, cities, outlets folded once

    @property
    def org_id(self) -> int:
        return self.batch.org_id

    async def load_references(self) -> None:
        # Likely duplicates are looked for among the contacts from before this import (rows of
        # the file itself are compared in memory); none at all when there were none.
        last = await self.session.execute(
            select(func.max(Contact.id)).where(Contact.org_id == self.org_id)
        )
        self.existing_up_to = last.scalar_one_or_none()
        any_suppressed = await self.session.execute(
            select(Suppression.id).where(Suppression.org_id == self.org_id).limit(1)
        )
        self.any_suppressed = any_suppressed.first() is not None
        outlets = await self.session.execute(
            select(Outlet.id, Outlet.name).where(Outlet.org_id == self.org_id)
        )
        self.outlets = {fold(name): oid for oid, name in outlets}
        beats = await self.session.execute(
            select(Beat.id, Beat.name, Beat.slug).where(
                (Beat.org_id.is_(None)) | (Beat.org_id == self.org_id)
            )
        )
        for bid, name, slug in beats:
            self.beats[fold(name)] = bid
            self.beats.setdefault(fold(slug.replace("-", " ")), bid)

    # -- deciding ---------------------------------------------------------------------------

    async def decide(self, chunk: Chunk) -> tuple[list[Outcome], list[RowContact]]:
        """Each row's outcome, and the contacts to create; updates are applied in `write`."""
        outcomes, contacts = list(chunk.rejected), chunk.contacts
        # Into an empty organisation, from the first row: every earlier contact is a row of
        # this file, remembered in memory, and nothing in the database needs looking up.
        first_import = self.existing_up_to is None and self.from_start
        emails: set[str] = set()
        if not first_import or self.any_suppressed:
            emails = {e for c in contacts for e in c.normalised}
        existing: dict[str, int] = {}
        existing_dnc: set[int] = set()
        same_name: dict[int, int] = {}
        if not first_import:
            existing, existing_dnc = await self._existing_emails(emails)
            same_name = await self._existing_names([c for c in contacts if not c.emails])
        suppressed: dict[str, str] = {}
        if self.any_suppressed:
            suppressed = await privacy.suppressed(self.session, self.settings, self.org_id, emails)
        create: list[RowContact] = []
        mode = self.batch.on_duplicate
        for c in contacts:
            blocked = (
                next((e for e in c.normalised if e in suppressed), None) if suppressed else None
            )
            if blocked is not None:
                reason = SUPPRESSED_REASONS.get(suppressed[blocked], N_("is suppressed"))
                outcomes.append(
                    Outcome(c.row_number, "skipped", "emails",
                            N_("%(address)s %(reason)s; it is not added again.",
                               address=blocked, reason=reason))
                )  # fmt: skip
                continue
            target, why = self._duplicate_of(c, existing, same_name)
            if target is not None and mode != "create":
                if mode == "skip":
                    outcomes.append(self._linked(c.row_number, "skipped", target, why))
                    continue
                outcomes.append(self._linked(c.row_number, "updated", target, why))
                if isinstance(target, RowContact):
                    _absorb(target, c)
                elif target > 0:
                    c.contact_id, c.update_only = target, True
                    create.append(c)
                for e in c.normalised:  # a later row with one of these goes to the same contact
                    if e not in self.by_email:
                        self.by_email[e] = target
                        self.pending.append(("email", e))
                continue
            if target is not None and self._do_not_contact(target, existing_dnc):
                # "Create anyway" makes a second contact, never one that may be mailed.
                c.do_not_contact = True
            outcome = Outcome(c.row_number, "imported", contact=c)
            outcomes.append(outcome)
            create.append(c)
            self._remember(c)
        await self._flag_similar(outcomes)
        return outcomes, create

    def _linked(self, row: int, outcome: str, target: RowContact | int, why: str) -> Outcome:
        if isinstance(target, RowContact):
            return Outcome(row, outcome, "emails", why, contact=target)
        # A negative target is a row a dry run did not write.
        return Outcome(row, outcome, "emails", why, contact_id=target if target > 0 else None)

    def _duplicate_of(
        self, c: RowContact, existing: dict[str, int], same_name: dict[int, int]
    ) -> tuple[RowContact | int | None, str]:
        for e in c.normalised:
            if e in self.by_email:
                return self.by_email[e], N_(
                    "Same email (%(email)s) as an earlier row of this file.", email=e
                )
            if e in existing:
                return existing[e], N_("Same email (%(email)s) as an existing contact.", email=e)
        if not c.emails:
            key = f"{c.sort_key}|{fold(c.outlet)}"
            earlier = self.by_name.get(key)
            if earlier is not None:
                return earlier[2], N_("Same name and outlet as an earlier row, and no email.")
            if c.row_number in same_name:
                return same_name[c.row_number], N_("Same name and outlet as an existing contact.")
        return None, ""

    def _remember(self, c: RowContact) -> None:
        for e in c.normalised:
            if e not in self.by_email:
                self.by_email[e] = c
                self.pending.append(("email", e))
        for key in (f"{c.sort_key}|{fold(c.outlet)}", c.sort_key):
            if key not in self.by_name:
                self.by_name[key] = (c.row_number, c.outlet, c)
                self.pending.append(("name", key))

    def settle(self) -> None:
        """After a chunk: earlier rows are remembered by contact id (or, in a dry run, by
        minus their row number) rather than whole rows, so memory stays small."""
        for kind, key in self.pending:
            if kind == "email":
                c = self.by_email[key]
                if isinstance(c, RowContact):
                    self.by_email[key] = c.contact_id or -c.row_number
            else:
                row, outlet, c = self.by_name[key]
                if isinstance(c, RowContact):
                    self.by_name[key] = (row, outlet, c.contact_id or -c.row_number)
        self.pending.clear()

    async def _existing_emails(self, emails: set[str]) -> tuple[dict[str, int], set[int]]:
        """Existing contacts by normalised email, and which of them are do-not-contact."""
        found: dict[str, int] = {}
        blocked: set[int] = set()
        items = sorted(emails)
        for i in range(0, len(items), 500):
            rows = await self.session.execute(
                select(ContactEmail.normalised, ContactEmail.contact_id, Contact.do_not_contact)
                .join(Contact, Contact.id == ContactEmail.contact_id)
                .where(
                    ContactEmail.org_id == self.org_id,
                    ContactEmail.normalised.in_(items[i : i + 500]),
                )
            )
            for norm, cid, dnc in rows:
                found.setdefault(norm, cid)
                if dnc:
                    blocked.add(cid)
        return found, blocked

    @staticmethod
    def _do_not_contact(target: RowContact | int, existing_dnc: set[int]) -> bool:
        if isinstance(target, RowContact):
            return target.do_not_contact
        return target in existing_dnc

    async def _existing_names(self, contacts: list[RowContact]) -> dict[int, int]:
        """Rows without an email whose name and current outlet match an existing contact."""
        if not contacts:
            return {}
        keys = {c.sort_key for c in contacts}
        rows = await self.session.execute(
            select(Contact.id, Contact.sort_key, Outlet.name)
            .outerjoin(
                ContactOutletRole,
                (ContactOutletRole.contact_id == Contact.id) & ContactOutletRole.ended_on.is_(None),
            )
            .outerjoin(Outlet, Outlet.id == ContactOutletRole.outlet_id)
            .where(Contact.org_id == self.org_id, Contact.sort_key.in_(keys))
        )
        known = {f"{key}|{fold(o or '')}": cid for cid, key, o in rows}
        return {
            c.row_number: known[k]
            for c in contacts
            if (k := f"{c.sort_key}|{fold(c.outlet)}") in known
        }

    async def _flag_similar(self, outcomes: list[Outcome]) -> None:
        """Flag new contacts that look like an existing one, or an earlier row, by name."""
        new = [o for o in outcomes if o.outcome == "imported" and o.contact is not None]
        if not new:
            return
        matches = {}
        if self.existing_up_to is not None:
            candidates = [
                Candidate(o.row_number, o.contact.given_name, o.contact.family_name,
                          o.contact.outlet, o.contact.emails)
                for o in new
                if o.contact is not None
            ]  # fmt: skip
            matches = await likely_matches(
                self.session, self.org_id, candidates, up_to=self.existing_up_to
            )
        for o in new:
            assert o.contact is not None
            match = matches.get(o.row_number)
            if match is not None:
                o.flagged, o.similar_contact_id = True, match.contact_id
                reason = N_("Looks like an existing contact: %(reasons)s.", reasons=match.reason)
                o.field, o.reason = "name", reason[:300]
                continue
            earlier = self.by_name.get(o.contact.sort_key)
            if earlier is not None and earlier[0] != o.row_number:
                o.flagged, o.field = True, "name"
                o.reason = N_("Same name as row %(row)s of this file.", row=earlier[0])

    # -- writing ----------------------------------------------------------------------------

    async def write(self, outcomes: list[Outcome], contacts: list[RowContact]) -> None:
        new = [c for c in contacts if not getattr(c, "update_only", False)]
        updates = [c for c in contacts if getattr(c, "update_only", False)]
        await self._ensure_outlets_and_beats(contacts)
        await self._insert(new)
        for c in updates:
            await self._update(c)
        batch_id = self.batch.id
        rows = [
            (batch_id, o.row_number, o.outcome, o.resolved_id, o.field, o.reason,
             o.similar_contact_id)
            for o in outcomes
        ]  # fmt: skip
        await bulk.insert_tuples(self.session, ImportRow, IMPORT_ROW_COLUMNS, rows)

    async def _ensure_outlets_and_beats(self, contacts: list[RowContact]) -> None:
        for c in contacts:
            key = fold(c.outlet)
            if c.outlet and key not in self.outlets:
                outlet = Outlet(
                    org_id=self.org_id,
                    name=c.outlet,
                    medium="online",
                    search_text=search_key(c.outlet),
                    sort_key=key[:200],
                )
                self.session.add(outlet)
                await self.session.flush()
                assert outlet.id is not None
                self.outlets[key] = outlet.id
                self.new_outlets.append(c.outlet)
            for name in c.beats:
                if fold(name) not in self.beats:
                    slug = fold(name).replace(" ", "-")[:80] or "beat"
                    beat = Beat(org_id=self.org_id, slug=slug, name=name)
                    self.session.add(beat)
                    await self.session.flush()
                    assert beat.id is not None
                    self.beats[fold(name)] = beat.id

    async def _insert(self, contacts: list[RowContact]) -> None:
        if not contacts:
            return
        org_id, now, user_id = self.org_id, self.now, self.batch.user_id
        source = N_("Imported from %(file)s", file=self.batch.filename)[:300]
        key = self.folds.search_key
        values = [
            (org_id, c.given_name, c.family_name, c.salutation or "neutral", "",
             c.preferred_language or (c.languages or ["sq"])[0], c.languages, c.phones,
             c.social, c.city, c.region, c.notes, "legitimate_interest", source, now, user_id,
             c.do_not_contact, N_("Marked in the imported file") if c.do_not_contact else "",
             key(c.given_name, c.family_name, *c.emails, c.city, c.outlet)[:2000], c.sort_key,
             now, now)
            for c in contacts
        ]  # fmt: skip
        ids = await bulk.insert_tuples_returning_ids(self.session, Contact, CONTACT_COLUMNS, values)
        for c, cid in zip(contacts, ids, strict=True):
            c.contact_id = cid
        await self._insert_children(contacts)

    async def _insert_children(self, contacts: list[RowContact]) -> None:
        emails: list[tuple[Any, ...]] = []
        roles: list[tuple[Any, ...]] = []
        beats: list[tuple[Any, ...]] = []
        tags: list[tuple[Any, ...]] = []
        timeline: list[tuple[Any, ...]] = []
        org_id, now, user_id = self.org_id, self.now, self.batch.user_id
        filename = self.batch.filename
        for c in contacts:
            cid = c.contact_id
            for pos, (email, norm) in enumerate(zip(c.emails, c.normalised, strict=True)):
                emails.append((org_id, cid, email, norm, pos == 0, pos))
            if c.outlet:
                roles.append((cid, self.outlets[fold(c.outlet)], c.title))
            if c.beats:
                beats.extend(
                    (cid, bid) for bid in dict.fromkeys(self.beats[fold(n)] for n in c.beats)
                )
            for tag in c.tags:
                tags.append((cid, tag, org_id))
            timeline.append(
                (org_id, cid, "import", "none", now,
                 N_("Imported from %(file)s, row %(row)s", file=filename, row=c.row_number)[:300],
                 "", user_id, now)
            )  # fmt: skip
        for table, columns, rows in (
            (ContactEmail, EMAIL_COLUMNS, emails),
            (ContactOutletRole, ("contact_id", "outlet_id", "title"), roles),
            (ContactBeat, ("contact_id", "beat_id"), beats),
            (ContactTag, ("contact_id", "tag", "org_id"), tags),
            (Interaction, TIMELINE_COLUMNS, timeline),
        ):  # fmt: skip
            await bulk.insert_tuples(self.session, table, columns, rows)

    async def _update(self, c: RowContact) -> None:
        """Add what the row knows to an existing contact: empty fields filled, lists added
        to, do-not-contact only ever switched on."""
        contact = await self.session.get(Contact, c.contact_id)
        if contact is None or contact.org_id != self.org_id:
            return
        for key in ("city", "region"):
            if getattr(c, key) and not getattr(contact, key):
                setattr(contact, key, getattr(c, key))
        if c.salutation and contact.salutation == "neutral":
            contact.salutation = c.salutation
        if c.preferred_language and not contact.languages:
            # A contact's language is only filled in when we knew none of theirs.
            contact.preferred_language = c.preferred_language
        contact.languages = list(dict.fromkeys([*contact.languages, *c.languages]))
        contact.phones = list(dict.fromkeys([*contact.phones, *c.phones]))
        contact.social = {**c.social, **contact.social}
        if c.notes and c.notes not in contact.notes:
            contact.notes = f"{contact.notes}\n\n{c.notes}".strip()
        if c.do_not_contact and not contact.do_not_contact:
            contact.do_not_contact = True
            contact.do_not_contact_reason = N_("Marked in an imported file")
        contact.updated_at = self.now
        cid = contact.id
        have = set(
            (
                await self.session.execute(
                    select(ContactEmail.normalised).where(ContactEmail.contact_id == cid)
                )
            ).scalars()
        )
        count = len(have)
        for email, norm in zip(c.emails, c.normalised, strict=True):
            if norm not in have:
                self.session.add(
                    ContactEmail(org_id=self.org_id, contact_id=cid, email=email,
                                 normalised=norm, is_primary=count == 0, position=count)
                )  # fmt: skip
                have.add(norm)
                count += 1
        if c.outlet:
            outlet_id = self.outlets[fold(c.outlet)]
            current = await self.session.execute(
                select(ContactOutletRole.id).where(
                    ContactOutletRole.contact_id == cid,
                    ContactOutletRole.outlet_id == outlet_id,
                    ContactOutletRole.ended_on.is_(None),
                )
            )
            if current.first() is None:
                self.session.add(
                    ContactOutletRole(contact_id=cid, outlet_id=outlet_id, title=c.title)
                )
        tags = set(
            (
                await self.session.execute(
                    select(ContactTag.tag).where(ContactTag.contact_id == cid)
                )
            ).scalars()
        )
        for tag in c.tags:
            if tag not in tags:
                self.session.add(ContactTag(contact_id=cid, tag=tag, org_id=self.org_id))
        beats = set(
            (
                await self.session.execute(
                    select(ContactBeat.beat_id).where(ContactBeat.contact_id == cid)
                )
            ).scalars()
        )
        for bid in dict.fromkeys(self.beats[fold(n)] for n in c.beats):
            if bid not in beats:
                self.session.add(ContactBeat(contact_id=cid, beat_id=bid))
        self.session.add(
            Interaction(org_id=self.org_id, contact_id=cid, kind="import", direction="none",
                        occurred_at=self.now, author_id=self.batch.user_id,
                        summary=N_("Updated from %(file)s, row %(row)s",
                                   file=self.batch.filename, row=c.row_number)[:300])
        )  # fmt: skip
        await self.session.flush()
        await refresh_search_text(self.session, contact)
        self.session.add(contact)

    # -- accounting -------------------------------------------------------------------------

    def tally(self, outcomes: list[Outcome]) -> None:
        for o in outcomes:
            self.counts[o.outcome] = self.counts.get(o.outcome, 0) + 1
            if o.flagged:
                self.counts["flagged"] = self.counts.get("flagged", 0) + 1
            if (o.outcome in ("rejected", "skipped") or o.flagged) and len(
                self.problems
            ) < MAX_PROBLEMS:
                self.problems.append(
                    {"row": o.row_number, "outcome": o.outcome, "field": o.field,
                     "reason": o.reason, "similar_contact_id": o.similar_contact_id,
                     "flagged": o.flagged}
                )  # fmt: skip


SUPPRESSED_REASONS = {
    "erased": N_("belonged to a contact erased at their request"),
    "unsubscribed": N_("unsubscribed"),
    "objected": N_("objected to being contacted"),
    "hard_bounce": N_("bounced permanently"),
    "soft_bounce": N_("mailbox full, time after time"),
    "complaint": N_("reported our mail as spam"),
}


def _absorb(target: RowContact, row: RowContact) -> None:
    """A later row of the file with the same email, folded into the contact being created."""
    for email, norm in zip(row.emails, row.normalised, strict=True):
        if norm not in target.normalised:
            target.emails.append(email)
            target.normalised.append(norm)
    target.phones = list(dict.fromkeys([*target.phones, *row.phones]))
    target.tags = list(dict.fromkeys([*target.tags, *row.tags]))
    target.beats = list(dict.fromkeys([*target.beats, *row.beats]))
    target.languages = list(dict.fromkeys([*target.languages, *row.languages]))
    for key in ("city", "region", "title", "outlet"):
        if not getattr(target, key) and getattr(row, key):
            setattr(target, key, getattr(row, key))
    if row.notes and row.notes not in target.notes:
        target.notes = f"{target.notes}\n\n{row.notes}".strip()
    target.do_not_contact = target.do_not_contact or row.do_not_contact
    target.social = {**row.social, **target.social}


async def run_import(
    session: AsyncSession,
    settings: Settings,
    batch_id: int,
    *,
    dry_run: bool = False,
    progress: Callable[[ImportBatch], Any] | None = None,
) -> ImportBatch:
    """Go through the batch's file from where it stopped; commits after every chunk."""
    batch = await session.get(ImportBatch, batch_id)
    if batch is None:
        raise NotFound("import")
    if not dry_run and batch.status == "done":
        return batch
    source = await open_batch(session, settings, batch)
    run = _Run(session, settings, batch, dry_run)
    await run.load_references()
    start_row = 1 if dry_run else batch.next_row
    run.from_start = start_row == 1
    if not dry_run:
        run.counts = {k: int(v) for k, v in batch.counts.items() if isinstance(v, int)}
        batch.status = "running"

    async def flush(chunk: Chunk) -> None:
        outcomes, contacts = await run.decide(chunk)
        run.tally(outcomes)
        if dry_run:  # nothing of a dry run is written but its counts
            batch.counts = {"dry_run": {"status": "running", "rows_done": chunk.last_row,
                                        **run.counts}}  # fmt: skip
            run.settle()
            session.add(batch)
            await session.commit()
            return
        await run.write(outcomes, contacts)
        run.settle()
        batch.next_row = chunk.last_row + 1
        batch.counts = dict(run.counts) | {"new_outlets": run.new_outlets[:50]}
        session.add(batch)
        await session.commit()
        if progress is not None:
            progress(batch)

    rows = itertools.dropwhile(lambda r: r[0] < start_row, source.records(mapping_of(batch)))
    while True:
        with _collector_paused():
            chunk = read_chunk(rows, run.folds)
            if chunk is None:
                break
            await flush(chunk)
    batch = await session.get(ImportBatch, batch_id, populate_existing=True)  # type: ignore[assignment]
    assert batch is not None
    if dry_run:
        batch.counts = {"dry_run": {"status": "done", "rows_done": source.total_rows,
                                    **run.counts, "problems": run.problems}}  # fmt: skip
    else:
        batch.status = "done"
        batch.finished_at = datetime.now(UTC)
        await session.execute(delete(ImportFile).where(ImportFile.batch_id == batch_id))
        audit.record(
            session, org_id=batch.org_id, user_id=batch.user_id, action="import",
            entity="import", entity_id=batch.id,
            changes={k: v for k, v in batch.counts.items() if isinstance(v, int)},
        )  # fmt: skip
    session.add(batch)
    await session.commit()
    return batch


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while a chunk is read, checked and written.

    A chunk makes some hundred thousand small objects (cells, rows, parameters) that live
    until its end and then go, freed by their reference counts. With the collector on, they
    set off collections of the whole heap again and again: a fifth of a big import's time,
    for no garbage found. The collector runs again between chunks."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@jobs.handler("import.contacts")
async def _import_job(session: AsyncSession, job: Job, settings: Settings) -> None:
    batch_id = int(job.payload["batch_id"])
    dry_run = bool(job.payload.get("dry_run"))
    batch = await session.get(ImportBatch, batch_id)
    if batch is None or (dry_run and batch.status != "uploaded"):
        return  # gone, or imported for real meanwhile: a dry run has nothing left to say
    job_id = job.id

    def keep_lease(_: ImportBatch) -> None:
        # Each chunk commits; the lease goes with it, so no other worker takes the job over.
        job.lease_until = datetime.now(UTC) + jobs.LEASE
        session.add(job)

    try:
        batch = await run_import(session, settings, batch_id, dry_run=dry_run, progress=keep_lease)
    except Exception as exc:
        # An unreadable file will not read better later; anything else is retried, and the
        # batch is marked failed once the job has used its last attempt.
        final = isinstance(exc, InvalidInput) or job.attempts >= job.max_attempts
        await session.rollback()
        failed = await session.get(ImportBatch, batch_id)
        if final and failed is not None and failed.status != "done":
            if dry_run:
                failed.counts = {"dry_run": {"status": "failed", "error": str(exc)[:300]}}
            else:
                failed.status, failed.error = "failed", str(exc)[:1000]
            session.add(failed)
            await session.commit()
        if isinstance(exc, InvalidInput):
            return
        await session.get(Job, job_id)  # the runner records the failure on the job
        raise
    job.progress = {"batch_id": batch_id, "rows": batch.total_rows}


# ---------------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------------


async def report_rows(
    session: AsyncSession, actor: Actor, batch_id: int, *, problems_only: bool = False,
    limit: int | None = None, offset: int = 0,
) -> list[tuple[ImportRow, str | None]]:  # fmt: skip
    """The batch's report rows with the name of the contact each went to."""
    await get_batch(session, actor, batch_id)
    stmt = (
        select(ImportRow, (Contact.given_name + " " + Contact.family_name).label("name"))
        .outerjoin(Contact, Contact.id == ImportRow.contact_id)
        .where(ImportRow.batch_id == batch_id)
        .order_by(ImportRow.row_number)
        .offset(offset)
    )
    if problems_only:
        stmt = stmt.where(
            ImportRow.outcome.in_(("rejected", "skipped"))
            | ImportRow.similar_contact_id.is_not(None)
            | (ImportRow.field == "name")
        )
    if limit is not None:
        stmt = stmt.limit(limit)
    return [(row, name) for row, name in await session.execute(stmt)]


async def report_csv(session: AsyncSession, actor: Actor, batch_id: int) -> AsyncIterator[str]:
    """The whole report as CSV (UTF-8 with BOM, for Excel), streamed in chunks."""
    await get_batch(session, actor, batch_id)
    out = io.StringIO()
    writer = csv.writer(out)
    out.write("\ufeff")
    writer.writerow(["row", "outcome", "field", "reason", "contact_id", "contact",
                     "similar_contact_id"])  # fmt: skip
    offset = 0
    while True:
        rows = await report_rows(session, actor, batch_id, limit=5000, offset=offset)
        for row, name in rows:
            writer.writerow([row.row_number, row.outcome, row.field, safe_cell(row.reason),
                             row.contact_id or "", safe_cell((name or "").strip()),
                             row.similar_contact_id or ""])  # fmt: skip
        yield out.getvalue()
        out.seek(0)
        out.truncate()
        if len(rows) < 5000:
            return
        offset += 5000


async def batch_total(session: AsyncSession, batch_id: int) -> int:
    count = await session.execute(
        select(func.count()).select_from(ImportRow).where(ImportRow.batch_id == batch_id)
    )
    return int(count.scalar_one())
