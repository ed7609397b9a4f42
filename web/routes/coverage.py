"""Coverage pages: the list (confirmed, and suggestions to confirm or dismiss), adding by hand
or from a pasted link, an item's page with its clipping; and /api/v1/coverage."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from crm.errors import InvalidInput, NotFound, message_of
from crm.i18n import N_
from outreach.coverage import drafts, items, monitor, reports
from outreach.coverage.items import CoverageIn
from web.deps import (
    ApiAuth,
    CurrentAuth,
    Id,
    SessionDep,
    SettingsDep,
    require_form_csrf,
    rollback,
)
from web.forms import field_errors, form_dict, lines, optional_int
from web.pdf import PdfFailed, PdfUnavailable, pdf_of
from web.rendering import is_htmx, render, render_text
from web.routes.api import IdQuery, Limit, Offset

router = APIRouter(include_in_schema=False)
api = APIRouter(tags=["coverage"])
PAGE = 50
STATES = ("confirmed", "suggested", "dismissed")
PDF_ITEMS = 500  # items listed in a PDF report; the CSV has them all


def _date(value: str | None) -> date | None:
    try:
        return _sensible(date.fromisoformat(value)) if value else None
    except ValueError:
        return None


def _sensible(value: date | None) -> date | None:
    """A date a report can be about (no year 9999)."""
    return value if value is None or 1900 <= value.year <= 2100 else None


@router.get("/coverage")
async def coverage_list(request: Request, auth: CurrentAuth, session: SessionDep) -> Response:
    query = request.query_params
    state = query.get("state") if query.get("state") in STATES else "confirmed"
    page = max(optional_int(query.get("page")) or 1, 1)
    filters = {
        "q": (query.get("q") or "")[:200],
        "campaign_id": optional_int(query.get("campaign_id")),
        "event_id": optional_int(query.get("event_id")),
        "outlet_id": optional_int(query.get("outlet_id")),
        "since": _date(query.get("since")),
        "until": _date(query.get("until")),
    }
    rows, total = await items.list_coverage(
        session, auth.actor, state=state, limit=PAGE, offset=(page - 1) * PAGE, **filters
    )
    _, waiting = await items.list_coverage(session, auth.actor, state="suggested", limit=0)
    ctx = {
        "rows": rows,
        "total": total,
        "state": state,
        "waiting": waiting,
        "filters": filters,
        "choices": await items.form_choices(session, auth.actor),
        "page": page,
        "pages": max((total + PAGE - 1) // PAGE, 1),
        "query": {k: v for k, v in {**filters, "state": state}.items() if v},
    }
    return render(request, "coverage/list.html", ctx, block="results")


# --- reports (before /coverage/{item_id}) ------------------------------------------------------


async def _report(request: Request, auth: CurrentAuth, session: SessionDep) -> reports.Report:
    query = request.query_params
    since, until = _date(query.get("since")), _date(query.get("until"))
    campaign_id = optional_int(query.get("campaign_id"))
    event_id = optional_int(query.get("event_id"))
    for name, number in (("campaign_id", campaign_id), ("event_id", event_id)):
        if query.get(name) and number is None:
            raise NotFound(name.removesuffix("_id"))
    for name, day in (("since", since), ("until", until)):
        if query.get(name) and day is None:
            raise InvalidInput({name: N_("Enter a date like 2026-11-30.")})
    if campaign_id is None and event_id is None and since is None and until is None:
        since, until = reports.this_month()  # until the officer chooses
    return await reports.report(
        session, auth.actor, campaign_id=campaign_id, event_id=event_id, since=since, until=until
    )


@router.get("/coverage/report")
async def report_page(request: Request, auth: CurrentAuth, session: SessionDep) -> Response:
    ctx: dict[str, Any] = {
        "result": None, "errors": {}, "query": dict(request.query_params),
        "choices": await items.form_choices(session, auth.actor),
    }  # fmt: skip
    try:
        ctx["result"] = await _report(request, auth, session)
    except InvalidInput as exc:
        ctx["errors"] = exc.errors
        return render(request, "coverage/report.html", ctx, status_code=422)
    return render(request, "coverage/report.html", ctx)


@router.get("/coverage/report.csv")
async def report_csv(request: Request, auth: CurrentAuth, session: SessionDep) -> Response:
    result = await _report(request, auth, session)
    return Response(
        await reports.report_csv(session, result),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="coverage-report.csv"'},
    )


@router.get("/coverage/report.pdf")
async def report_pdf(request: Request, auth: CurrentAuth, session: SessionDep) -> Response:
    result = await _report(request, auth, session)
    ctx = {"result": result, "errors": {}, "query": {}, "limit": PDF_ITEMS}
    try:
        pdf = await pdf_of(render_text(request, "coverage/report_print.html", ctx))
    except (PdfUnavailable, PdfFailed) as exc:
        # The page says why and what to use instead; the server is the one that cannot.
        ctx = {"status": 503, "message": message_of(exc)}
        return render(request, "error.html", ctx, status_code=503)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": 'attachment; filename="coverage-report.pdf"'},
    )


# --- monitoring: keywords and feeds (before /coverage/{item_id}) ------------------------------


async def _monitoring(
    request: Request,
    auth: CurrentAuth,
    session: SessionDep,
    settings: SettingsDep,
    errors: dict[str, Any] | None = None,
    typed: dict[str, Any] | None = None,
) -> Response:
    """The page; after a refused form, with what was typed in it (`typed["form"]` says which
    form: "org", "campaign:12", "event:3" or "feed") and its errors beside it."""
    view = await monitor.monitoring_view(session, auth.actor)
    outlets = (await items.form_choices(session, auth.actor)).outlets
    ctx = {
        "view": view, "outlets": outlets, "errors": errors or {}, "typed": typed or {},
        "poll_minutes": monitor.poll_minutes(settings),
    }  # fmt: skip
    return render(request, "coverage/monitoring.html", ctx, status_code=422 if errors else 200)


@router.get("/coverage/monitoring")
async def monitoring(
    request: Request, auth: CurrentAuth, session: SessionDep, settings: SettingsDep
) -> Response:
    return await _monitoring(request, auth, session, settings)


@router.post("/coverage/monitoring/keywords")
async def set_keywords(
    request: Request, auth: CurrentAuth, session: SessionDep, settings: SettingsDep
) -> Response:
    data = await form_dict(request)
    target = {
        "campaign_id": optional_int(data.get("campaign_id")),
        "event_id": optional_int(data.get("event_id")),
    }
    text = str(data.get("keywords") or "")
    words = lines(text) if any(target.values()) else text.splitlines()
    form = "org"  # which of the page's keyword forms this is, to answer beside it
    if target["campaign_id"]:
        form = f"campaign:{target['campaign_id']}"
    elif target["event_id"]:
        form = f"event:{target['event_id']}"
    try:
        await monitor.set_keywords(session, auth.actor, words, **target)
    except InvalidInput as exc:
        await rollback(session, auth)
        typed = {"form": form, "keywords": text}
        return await _monitoring(request, auth, session, settings, exc.errors, typed)
    return RedirectResponse("/coverage/monitoring", status_code=303)


@router.post("/coverage/monitoring/feeds")
async def add_feed(
    request: Request, auth: CurrentAuth, session: SessionDep, settings: SettingsDep
) -> Response:
    data = await form_dict(request)
    outlet_id = optional_int(data.get("outlet_id"))
    url = str(data.get("url") or "")
    try:
        if outlet_id is None:
            raise InvalidInput({"outlet_id": N_("Choose the outlet.")})
        await monitor.add_feed(session, auth.actor, outlet_id, url)
    except InvalidInput as exc:
        await rollback(session, auth)
        typed = {"form": "feed", "outlet_id": outlet_id, "url": url}
        return await _monitoring(request, auth, session, settings, exc.errors, typed)
    return RedirectResponse("/coverage/monitoring", status_code=303)


@router.post("/coverage/monitoring/feeds/{feed_id}/delete")
async def remove_feed(auth: CurrentAuth, session: SessionDep, feed_id: Id) -> Response:
    await monitor.remove_feed(session, auth.actor, feed_id)
    return RedirectResponse("/coverage/monitoring", status_code=303)


def coverage_input(data: dict[str, Any], byline: list[int]) -> dict[str, Any]:
    """The form's fields as CoverageIn takes them (lists from lines, empty numbers as None)."""
    return {
        "url": data.get("url", ""),
        "headline": data.get("headline", ""),
        "outlet_id": optional_int(data.get("outlet_id")),
        "authors": items.split_byline(data.get("authors")),
        "byline": byline,
        "published_on": data.get("published_on") or None,
        "medium": data.get("medium") or "online",
        "reach": data.get("reach") or None,
        "tone": data.get("tone", ""),
        "language": data.get("language", ""),
        "key_messages": [
            m.strip() for m in (data.get("key_messages") or "").splitlines() if m.strip()
        ],
        "campaign_id": optional_int(data.get("campaign_id")),
        "event_id": optional_int(data.get("event_id")),
        "notes": data.get("notes", ""),
    }


async def _form(
    request: Request,
    auth: CurrentAuth,
    session: SessionDep,
    values: dict[str, Any],
    errors: dict[str, Any],
    *,
    item_id: int | None = None,
    confirm: bool = False,
    draft: drafts.Draft | None = None,
    links: dict[str, str] | None = None,
) -> Response:
    chosen = [i for i in (optional_int(v) for v in values.get("byline_ids") or []) if i]
    ctx = {
        "values": values,
        "errors": errors,
        "links": links or {},
        "item_id": item_id,
        "confirm": confirm,
        "draft": draft,
        "chosen": chosen,
        "choices": await items.form_choices(session, auth.actor),
        "candidates": await items.byline_candidates(
            session, auth.actor, optional_int(values.get("outlet_id")), chosen
        ),
    }
    status = 422 if errors else 200
    return render(request, "coverage/form.html", ctx, block="form", status_code=status)


@router.get("/coverage/new")
async def new_coverage(request: Request, auth: CurrentAuth, session: SessionDep) -> Response:
    auth.actor.require_write()
    values = drafts.blank_values(
        campaign_id=optional_int(request.query_params.get("campaign_id")),
        event_id=optional_int(request.query_params.get("event_id")),
    )
    return await _form(request, auth, session, values, {})


@router.post("/coverage/fetch")
async def fetch_link(
    request: Request, auth: CurrentAuth, session: SessionDep, settings: SettingsDep
) -> Response:
    """Read a pasted link and show the form filled in, for the officer to confirm."""
    auth.actor.require_write()
    data = await form_dict(request)
    link = str(data.get("link") or data.get("url") or "")
    # What the officer filled in already is kept where the page says nothing.
    typed = dict(data) | {
        "outlet_id": optional_int(data.get("outlet_id")),
        "campaign_id": optional_int(data.get("campaign_id")),
        "event_id": optional_int(data.get("event_id")),
        "byline_ids": [i for i in (optional_int(v) for v in data.get("byline_ids") or []) if i],
    }
    draft = await drafts.draft_from_url(session, auth.actor, settings, link, typed)
    return await _form(request, auth, session, draft.values, {}, draft=draft)


@router.get("/coverage/byline")
async def byline_choices(request: Request, auth: CurrentAuth, session: SessionDep) -> Response:
    """The byline checkboxes for the outlet just chosen (its journalists, and those ticked);
    a fragment for HTMX only."""
    if not is_htmx(request):
        return RedirectResponse("/coverage/new", status_code=303)
    query = request.query_params
    chosen = [i for i in (optional_int(v) for v in query.getlist("byline_ids")) if i]
    outlet_id = optional_int(query.get("outlet_id"))
    found = await items.byline_candidates(
        session, auth.actor, outlet_id, chosen, query.get("byline_q", "")[:200]
    )
    ctx = {"candidates": found, "chosen": chosen, "errors": {}}
    return render(request, "coverage/form.html", ctx, block="byline")


async def _save(
    request: Request,
    auth: CurrentAuth,
    session: SessionDep,
    item_id: int | None,
    *,
    confirm: bool = False,
) -> Response:
    auth.actor.require_write()
    values = await form_dict(request)
    byline = [i for i in (optional_int(v) for v in values.get("byline_ids") or []) if i]
    try:
        data = CoverageIn.model_validate(coverage_input(values, byline))
        if item_id is None:
            item = await items.create_coverage(
                session,
                auth.actor,
                data,
                source="url" if values.get("source") == "url" else "manual",
            )
        else:
            item = await items.update_coverage(session, auth.actor, item_id, data, confirm=confirm)
    except ValidationError as exc:
        return await _form(
            request, auth, session, values, field_errors(exc), item_id=item_id, confirm=confirm
        )
    except InvalidInput as exc:
        await rollback(session, auth)
        return await _form(
            request, auth, session, values, exc.errors, item_id=item_id, confirm=confirm,
            links=exc.links,
        )  # fmt: skip
    return RedirectResponse(f"/coverage/{item.id}", status_code=303)


@router.post("/coverage")
async def create_coverage(request: Request, auth: CurrentAuth, session: SessionDep) -> Response:
    return await _save(request, auth, session, None)


def _values_of(view: items.CoverageView) -> dict[str, Any]:
    item = view.item
    return {
        "url": item.url, "headline": item.headline, "outlet_id": item.outlet_id,
        "authors": "\n".join(item.authors), "byline_ids": items.byline_ids(view),
        "published_on": item.published_on.isoformat(), "medium": item.medium,
        "reach": item.reach, "tone": item.tone, "language": item.language,
        "key_messages": "\n".join(item.key_messages), "campaign_id": item.campaign_id,
        "event_id": item.event_id, "notes": item.notes,
    }  # fmt: skip


@router.get("/coverage/{item_id}")
async def coverage_page(
    request: Request, auth: CurrentAuth, session: SessionDep, item_id: Id
) -> Response:
    view = await items.coverage_view(session, auth.actor, item_id)
    return render(request, "coverage/detail.html", {"view": view, "item": view.item})


@router.get("/coverage/{item_id}/edit")
async def edit_coverage(
    request: Request, auth: CurrentAuth, session: SessionDep, item_id: Id
) -> Response:
    auth.actor.require_write()
    view = await items.coverage_view(session, auth.actor, item_id)
    values = _values_of(view)
    confirm = view.item.state != "confirmed"
    if confirm and not values["byline_ids"]:  # a suggestion: tick whom its byline names
        named, _ = await items.contacts_named(session, auth.actor, view.item.authors)
        values["byline_ids"] = [c.id for c in named]
    return await _form(request, auth, session, values, {}, item_id=item_id, confirm=confirm)


@router.post("/coverage/{item_id}")
async def update_coverage(
    request: Request, auth: CurrentAuth, session: SessionDep, item_id: Id
) -> Response:
    item = await items.get_coverage(session, auth.actor, item_id)
    return await _save(request, auth, session, item_id, confirm=item.state != "confirmed")


@router.post("/coverage/{item_id}/dismiss")
async def dismiss_coverage(auth: CurrentAuth, session: SessionDep, item_id: Id) -> Response:
    await items.dismiss_coverage(session, auth.actor, item_id)
    return RedirectResponse("/coverage?state=suggested", status_code=303)


@router.post("/coverage/{item_id}/delete")
async def delete_coverage(auth: CurrentAuth, session: SessionDep, item_id: Id) -> Response:
    await items.delete_coverage(session, auth.actor, item_id)
    return RedirectResponse("/coverage", status_code=303)


@router.post("/coverage/{item_id}/clipping")
async def upload_clipping(
    request: Request,
    auth: CurrentAuth,
    session: SessionDep,
    settings: SettingsDep,
    item_id: Id,
) -> Response:
    try:
        async with request.form(max_files=1, max_fields=5) as form:
            require_form_csrf(request, form)
            upload = form.get("clipping")
            if upload is None or isinstance(upload, str):
                raise InvalidInput({"clipping": N_("Choose a file.")})
            data = await upload.read(settings.clipping_max_bytes + 1)
            filename = upload.filename or ""
        await items.set_clipping(
            session, auth.actor, settings, item_id, filename=filename, data=data
        )
    except InvalidInput as exc:
        await rollback(session, auth)
        view = await items.coverage_view(session, auth.actor, item_id)
        ctx = {"view": view, "item": view.item, "clipping_errors": exc.errors}
        return render(request, "coverage/detail.html", ctx, status_code=422)
    return RedirectResponse(f"/coverage/{item_id}", status_code=303)


@router.get("/coverage/{item_id}/clipping")
async def download_clipping(auth: CurrentAuth, session: SessionDep, item_id: Id) -> Response:
    item, data = await items.clipping_of(session, auth.actor, item_id)
    return Response(
        data,
        media_type=item.clipping_type,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{_quoted(item.clipping_name)}",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.post("/coverage/{item_id}/clipping/delete")
async def delete_clipping(auth: CurrentAuth, session: SessionDep, item_id: Id) -> Response:
    await items.remove_clipping(session, auth.actor, item_id)
    return RedirectResponse(f"/coverage/{item_id}", status_code=303)


def _quoted(name: str) -> str:
    return quote(name or "clipping", safe="")


# --- /api/v1/coverage ------------------------------------------------------------------------


def _out(item: Any) -> dict[str, Any]:
    return {
        "id": item.id, "state": item.state, "source": item.source, "url": item.url,
        "headline": item.headline, "outlet_id": item.outlet_id, "authors": item.authors,
        "published_on": item.published_on.isoformat(), "medium": item.medium,
        "reach": item.reach, "tone": item.tone, "language": item.language,
        "key_messages": item.key_messages, "campaign_id": item.campaign_id,
        "event_id": item.event_id, "notes": item.notes,
        "clipping": bool(item.clipping_size),
    }  # fmt: skip


@api.get("/coverage")
async def api_list(
    auth: ApiAuth,
    session: SessionDep,
    state: Literal["confirmed", "suggested", "dismissed"] = "confirmed",
    campaign_id: IdQuery = None,
    event_id: IdQuery = None,
    since: date | None = None,
    until: date | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    rows, total = await items.list_coverage(
        session, auth.actor, state=state, campaign_id=campaign_id, event_id=event_id,
        since=_sensible(since), until=_sensible(until), limit=limit, offset=offset,
    )  # fmt: skip
    return {"total": total, "items": [_out(r.item) | {"outlet": r.outlet_name} for r in rows]}


@api.post("/coverage", status_code=201)
async def api_create(auth: ApiAuth, session: SessionDep, data: CoverageIn) -> dict[str, Any]:
    return _out(await items.create_coverage(session, auth.actor, data))


@api.get("/coverage/{item_id}")
async def api_item(auth: ApiAuth, session: SessionDep, item_id: Id) -> dict[str, Any]:
    view = await items.coverage_view(session, auth.actor, item_id)
    return _out(view.item) | {"byline": items.byline_ids(view)}


@api.put("/coverage/{item_id}")
async def api_update(
    auth: ApiAuth, session: SessionDep, item_id: Id, data: CoverageIn
) -> dict[str, Any]:
    """Correct an item; a suggestion stays one until confirmed (POST …/confirm)."""
    return _out(await items.update_coverage(session, auth.actor, item_id, data))


@api.post("/coverage/{item_id}/confirm")
async def api_confirm(auth: ApiAuth, session: SessionDep, item_id: Id) -> dict[str, Any]:
    return _out(await items.confirm_coverage(session, auth.actor, item_id))


@api.post("/coverage/{item_id}/dismiss")
async def api_dismiss(auth: ApiAuth, session: SessionDep, item_id: Id) -> dict[str, Any]:
    await items.dismiss_coverage(session, auth.actor, item_id)
    return _out(await items.get_coverage(session, auth.actor, item_id))


@api.delete("/coverage/{item_id}", status_code=204)
async def api_delete(auth: ApiAuth, session: SessionDep, item_id: Id) -> Response:
    await items.delete_coverage(session, auth.actor, item_id)
    return Response(status_code=204)


@api.post("/coverage/from-url")
async def api_from_url(
    auth: ApiAuth, session: SessionDep, settings: SettingsDep, url: str
) -> dict[str, Any]:
    """What a link's page says, as a coverage item to confirm (nothing is saved)."""
    auth.actor.require_write()
    draft = await drafts.draft_from_url(session, auth.actor, settings, url)
    values = {k: v for k, v in draft.values.items() if k != "byline_ids"}
    return {
        "draft": values
        | {
            "authors": draft.values["authors"].splitlines(),
            "byline": draft.values["byline_ids"],
        },
        "unmatched_authors": draft.unmatched,
        "existing_id": draft.existing.id if draft.existing else None,
        "error": str(draft.error),
    }
