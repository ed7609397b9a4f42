"""The home page: recent activity and the organisation's numbers."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from crm.interactions import recent_activity
from crm.stats import org_numbers
from web.deps import CurrentAuth, SessionDep
from web.rendering import render

router = APIRouter(include_in_schema=False)


@router.get("/")
async def home(request: Request, auth: CurrentAuth, session: SessionDep) -> Response:
    numbers = await org_numbers(session, auth.actor)
    activity = await recent_activity(session, auth.actor)
    return render(request, "home.html", {"numbers": numbers, "activity": activity})
