"""The campaigns and senders API: write, check, launch, follow; secrets never come back."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from crm import accounts
from crm.contacts import ContactIn, create_contact
from tests.conftest import World


@pytest.fixture
async def api(client: httpx.AsyncClient, session: AsyncSession, world: World) -> httpx.AsyncClient:
    token = await accounts.create_api_token(session, actor=world.owner, name="test")
    client.headers["Authorization"] = f"Bearer {token}"
    return client


async def test_a_campaign_goes_from_draft_to_sending_through_the_api(
    api: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    ids = [
        (await create_contact(session, world.editor, ContactIn(given_name=n, emails=[e]))).id
        for n, e in (("Arta", "arta@koha.net"), ("Ilir", "ilir@kallxo.com"))
    ]
    sender = await api.post(
        "/api/v1/senders",
        json={"from_name": "Qendra", "from_address": "press@qendra.org",
              "smtp_host": "smtp.qendra.org", "smtp_username": "press@qendra.org",
              "smtp_password": "s3cret-app-password", "per_minute": 30},
    )  # fmt: skip
    assert sender.status_code == 201, sender.text
    assert sender.json()["has_password"] is True
    assert "s3cret" not in sender.text
    made = await api.post(
        "/api/v1/campaigns",
        json={
            "name": "Statement",
            "sender_id": sender.json()["id"],
            "default_language": "en",
            "variants": {
                "en": {"subject": "For {{ first_name }}", "body": "Dear {{ first_name }},"}
            },
            "audience": {"contacts": ids},
        },
    )
    assert made.status_code == 201, made.text
    campaign = made.json()
    assert campaign["status"] == "draft"
    check = (await api.get(f"/api/v1/campaigns/{campaign['id']}/check")).json()
    assert check["recipients"] == 2 and check["excluded"] == []
    stale = await api.post(f"/api/v1/campaigns/{campaign['id']}/launch", json={"expected": 3})
    assert stale.status_code == 409
    launched = await api.post(f"/api/v1/campaigns/{campaign['id']}/launch", json={"expected": 2})
    assert launched.status_code == 200 and launched.json()["status"] == "sending"
    assert launched.json()["counts"] == {"queued": 2}
    rows = (await api.get(f"/api/v1/campaigns/{campaign['id']}/deliveries")).json()
    assert sorted(r["address"] for r in rows) == ["arta@koha.net", "ilir@kallxo.com"]
    paused = await api.post(f"/api/v1/campaigns/{campaign['id']}/pause")
    assert paused.json()["status"] == "paused"
    body = {
        "name": "Too late",
        "default_language": "en",
        "variants": {"en": {"subject": "Changed", "body": "Changed"}},
    }
    edit = await api.put(f"/api/v1/campaigns/{campaign['id']}", json=body)
    assert edit.status_code == 409


async def test_bad_templates_and_fields_are_422_with_field_errors(api: httpx.AsyncClient) -> None:
    bad = await api.post(
        "/api/v1/campaigns",
        json={"name": "x", "default_language": "sq",
              "variants": {"sq": {"subject": "s", "body": "{{ config.items() }}"}}},
    )  # fmt: skip
    assert bad.status_code == 422
    assert any("body" in ".".join(map(str, e["loc"])) for e in bad.json()["detail"])
    unknown = await api.post("/api/v1/campaigns", json={"name": "x", "colour": "red"})
    assert unknown.status_code == 422


async def test_the_outsider_gets_404_for_another_organisations_campaign(
    api: httpx.AsyncClient, client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    made = await api.post(
        "/api/v1/campaigns",
        json={"name": "Mine", "default_language": "sq",
              "variants": {"sq": {"subject": "s", "body": "b"}}},
    )  # fmt: skip
    campaign_id = made.json()["id"]
    outsider = await accounts.create_api_token(session, actor=world.outsider, name="x")
    headers = {"Authorization": f"Bearer {outsider}"}
    for method, path in (
        ("GET", ""), ("GET", "/check"), ("GET", "/deliveries"), ("POST", "/pause"),
    ):  # fmt: skip
        response = await client.request(
            method, f"/api/v1/campaigns/{campaign_id}{path}", headers=headers
        )
        assert response.status_code == 404, (method, path, response.text)
    listed = await client.get("/api/v1/campaigns", headers=headers)
    assert listed.json() == []
