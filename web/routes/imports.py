"""Importing contacts: upload, preview and mapping, dry run, import with live progress, report."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse, StreamingResponse
from pydantic import BaseModel

from crm import imports
from crm.errors import InvalidInput
from crm.i18n import N_
from crm.models import ImportBatch
from crm.spreadsheets import FIELDS
from web.deps import (
    ApiAuth,
    CurrentAuth,
    Id,
    SessionDep,
    SettingsDep,
    require_form_csrf,
    rollback,
)
from web.rendering import render

router = APIRouter(include_in_schema=False)
api = APIRouter(tags=["api"])

ENCODINGS = ("utf-8", "utf-16", "windows-1250", "windows-1252", "iso-8859-2", "cp852")


async def _read_upload(request: Request, max_bytes: int) -> tuple[str, bytes, dict[str, Any]]:
    """The uploaded file (at most `max_bytes` + 1 read) and the other fields of the form."""
    async with request.form(max_files=1, max_fields=20) as form:
        require_form_csrf(request, form)
        upload = form.get("file")
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        if upload is None or isinstance(upload, str):
            raise InvalidInput({"file": N_("Choose a file to import.")})
        data = await upload.read(max_bytes + 1)
        return upload.filename or "upload.csv", data, fields


@router.get("/imports")
async def import_index(request: Request, auth: CurrentAuth, session: SessionDep) -> Response:
    batches = await imports.list_batches(session, auth.actor)
    return render(
        request,
        "imports/index.html",
        {"batches": batches, "errors": {}, "encodings": ENCODINGS},
    )


@router.post("/imports")
async def import_upload(
    request: Request, auth: CurrentAuth, session: SessionDep, settings: SettingsDep
) -> Response:
    try:
        filename, data, fields = await _read_upload(request, settings.import_max_bytes)
        encoding = fields.get("encoding") or None
        if encoding and encoding not in ENCODINGS:
            raise InvalidInput({"encoding": N_("Choose one of the encodings.")})
        batch = await imports.upload(
            session, auth.actor, settings, filename=filename, data=data, encoding=encoding
        )
    except InvalidInput as exc:
        await rollback(session, auth)
        batches = await imports.list_batches(session, auth.actor)
        ctx = {"batches": batches, "errors": exc.errors, "encodings": ENCODINGS}
        return render(request, "imports/index.html", ctx, status_code=422)
    return RedirectResponse(f"/imports/{batch.id}", status_code=303)


async def _detail_context(
    session: SessionDep,
    auth: CurrentAuth,
    settings: SettingsDep,
    batch: ImportBatch,
    *,
    preview: bool = True,
) -> dict[str, Any]:
    ctx: dict[str, Any] = {
        "batch": batch,
        "fields": FIELDS,  # marked for the catalogues where they are defined
        "encodings": ENCODINGS,
        "mapping": imports.mapping_of(batch),
        "dry": batch.counts.get("dry_run") or {},
        "errors": {},
    }
    if batch.status == "uploaded" and preview:
        try:
            source = await imports.open_batch(session, settings, batch)
        except InvalidInput as exc:
            ctx["errors"] = exc.errors
        else:
            ctx["headers"] = source.headers
            ctx["preview"] = source.preview()
    if batch.status in ("done", "running", "failed"):
        assert batch.id is not None
        ctx["problems"] = await imports.report_rows(
            session, auth.actor, batch.id, problems_only=True, limit=200
        )
    return ctx


@router.get("/imports/{batch_id}")
async def import_detail(
    request: Request, batch_id: Id, auth: CurrentAuth, session: SessionDep, settings: SettingsDep
) -> Response:
    batch = await imports.get_batch(session, auth.actor, batch_id)
    ctx = await _detail_context(session, auth, settings, batch)
    return render(request, "imports/detail.html", ctx, block="progress")


@router.get("/imports/{batch_id}/progress")
async def import_progress(
    request: Request, batch_id: Id, auth: CurrentAuth, session: SessionDep, settings: SettingsDep
) -> Response:
    """The progress block alone, which the page polls while a job runs."""
    batch = await imports.get_batch(session, auth.actor, batch_id)
    ctx = await _detail_context(session, auth, settings, batch, preview=False)
    return render(request, "imports/detail.html", ctx, block="progress")


@router.post("/imports/{batch_id}")
async def import_settings(
    request: Request, batch_id: Id, auth: CurrentAuth, session: SessionDep, settings: SettingsDep
) -> Response:
    """Save the mapping and the duplicate rule, then run the dry run or the import."""
    form = await request.form(max_fields=600)
    mapping: dict[int, str] = {}
    for key, value in form.items():
        column = re.fullmatch(r"col-([0-9]{1,4})", key)
        if column and isinstance(value, str):
            mapping[int(column.group(1))] = value
    action = str(form.get("action", "dry_run"))
    try:
        await imports.save_settings(
            session,
            auth.actor,
            settings,
            batch_id,
            mapping=mapping,
            on_duplicate=str(form.get("on_duplicate", "skip")),
            encoding=str(form.get("encoding", "")),
        )
        if action in ("dry_run", "import"):
            await imports.start(session, auth.actor, batch_id, dry_run=action == "dry_run")
    except InvalidInput as exc:
        await rollback(session, auth)
        batch = await imports.get_batch(session, auth.actor, batch_id)
        ctx = await _detail_context(session, auth, settings, batch)
        ctx["errors"] = exc.errors
        ctx["mapping"] = mapping
        return render(request, "imports/detail.html", ctx, status_code=422)
    return RedirectResponse(f"/imports/{batch_id}", status_code=303)


@router.get("/imports/{batch_id}/report.csv")
async def import_report(batch_id: Id, auth: CurrentAuth, session: SessionDep) -> Response:
    batch = await imports.get_batch(session, auth.actor, batch_id)
    name = f"beatbook-import-{batch.id}-report.csv"
    return StreamingResponse(
        imports.report_csv(session, auth.actor, batch_id),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# -- API ---------------------------------------------------------------------------------------


class ImportOut(BaseModel):
    id: int
    filename: str
    file_format: str
    encoding: str
    status: str
    total_rows: int
    rows_done: int
    mapping: dict[str, str]
    on_duplicate: str
    counts: dict[str, Any]


def _out(batch: ImportBatch) -> ImportOut:
    return ImportOut(
        id=batch.id or 0,
        filename=batch.filename,
        file_format=batch.file_format,
        encoding=batch.encoding,
        status=batch.status,
        total_rows=batch.total_rows,
        rows_done=max(batch.next_row - 1, 0),
        mapping=batch.mapping,
        on_duplicate=batch.on_duplicate,
        counts=batch.counts,
    )


@api.post("/imports", status_code=202, response_model=ImportOut)
async def api_import(
    request: Request, auth: ApiAuth, session: SessionDep, settings: SettingsDep
) -> ImportOut:
    """Upload a CSV, Excel or vCard file (multipart field `file`) and start importing it with
    the guessed mapping. Optional form fields: `on_duplicate` (update, skip, create),
    `encoding`, `dry_run` (true to only check)."""
    filename, data, fields = await _read_upload(request, settings.import_max_bytes)
    batch = await imports.upload(
        session, auth.actor, settings, filename=filename, data=data,
        encoding=fields.get("encoding") or None,
    )  # fmt: skip
    assert batch.id is not None
    await imports.save_settings(
        session, auth.actor, settings, batch.id, mapping=imports.mapping_of(batch),
        on_duplicate=fields.get("on_duplicate") or "skip",
    )  # fmt: skip
    dry_run = (fields.get("dry_run") or "").lower() in ("1", "true", "yes")
    await imports.start(session, auth.actor, batch.id, dry_run=dry_run)
    return _out(await imports.get_batch(session, auth.actor, batch.id))


@api.get("/imports/{batch_id}", response_model=ImportOut)
async def api_import_status(batch_id: Id, auth: ApiAuth, session: SessionDep) -> ImportOut:
    return _out(await imports.get_batch(session, auth.actor, batch_id))
