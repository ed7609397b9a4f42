"""The JSON API: CRUD, filters, pagination and field errors."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from crm import accounts
from tests.conftest import World


@pytest.fixture
async def api(client: httpx.AsyncClient, session: AsyncSession, world: World) -> httpx.AsyncClient:
    token = await accounts.create_api_token(session, actor=world.editor, name="test")
    client.headers["Authorization"] = f"Bearer {token}"
    return client


async def test_contact_crud_through_the_api(api: httpx.AsyncClient) -> None:
    outlet = await api.post("/api/v1/outlets", json={"name": "Koha Online", "medium": "online"})
    assert outlet.status_code == 201
    outlet_id = outlet.json()["id"]
    created = await api.post(
        "/api/v1/contacts",
        json={
            "given_name": "Đorđe",
            "family_name": "Ćosić",
            "emails": ["djordje@sever.example"],
            "roles": [{"outlet_id": outlet_id, "title": "Reporter"}],
            "preferred_language": "sr-Latn",
        },
    )
    assert created.status_code == 201, created.text
    contact = created.json()
    assert contact["roles"][0]["outlet_name"] == "Koha Online"
    found = (await api.get("/api/v1/contacts", params={"q": "dordevic cosic"})).json()
    assert found["total"] == 0
    found = (await api.get("/api/v1/contacts", params={"q": "djordje cosic"})).json()
    assert [c["id"] for c in found["items"]] == [contact["id"]]
    patched = await api.patch(f"/api/v1/contacts/{contact['id']}", json={"city": "Mitrovica"})
    assert patched.json()["city"] == "Mitrovica"
    assert patched.json()["emails"] == ["djordje@sever.example"]
    bad_patch = await api.patch(f"/api/v1/contacts/{contact['id']}", json={"emails": ["nope"]})
    assert bad_patch.status_code == 422
    deleted = await api.delete(f"/api/v1/contacts/{contact['id']}")
    assert deleted.status_code == 204
    assert (await api.get(f"/api/v1/contacts/{contact['id']}")).status_code == 404


async def test_api_field_errors_and_malformed_json(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/api/v1/contacts", json={"given_name": "", "emails": ["x"], "salutation": "sir"}
    )
    assert response.status_code == 422
    fields = {tuple(e["loc"][1:2]) for e in response.json()["detail"]}
    assert {("given_name",), ("emails",), ("salutation",)} <= fields
    broken = await api.post(
        "/api/v1/contacts",
        content=b'{"given_name": "Ana"',
        headers={"Content-Type": "application/json"},
    )
    assert broken.status_code == 422
    unknown = await api.get("/api/v1/contacts/999999")
    assert unknown.status_code == 404
    assert (await api.get("/api/v1/contacts", params={"limit": 0})).status_code == 422


async def test_duplicate_primary_email_is_a_field_error_with_a_link(
    api: httpx.AsyncClient,
) -> None:
    first = await api.post("/api/v1/contacts", json={"given_name": "Ana", "emails": ["a@x.org"]})
    second = await api.post(
        "/api/v1/contacts", json={"given_name": "Ana B", "emails": [" A@X.org"]}
    )
    assert second.status_code == 422
    detail = second.json()["detail"][0]
    assert detail["loc"] == ["body", "emails"]
    assert detail["link"] == f"/contacts/{first.json()['id']}"
    listing = (await api.get("/api/v1/contacts")).json()
    assert listing["total"] == 1


async def test_collections_paginate(api: httpx.AsyncClient) -> None:
    for i in range(7):
        await api.post("/api/v1/contacts", json={"given_name": f"Person {i}"})
    page = (await api.get("/api/v1/contacts", params={"limit": 3, "offset": 3})).json()
    assert page["total"] == 7
    assert [c["given_name"] for c in page["items"]] == ["Person 3", "Person 4", "Person 5"]
    beats = (await api.get("/api/v1/beats", params={"q": "gender", "limit": 10})).json()
    assert beats["total"] >= 2
    assert all("gender" in b["name"].lower() for b in beats["items"])


async def test_interactions_and_lists_through_the_api(api: httpx.AsyncClient) -> None:
    contact = (await api.post("/api/v1/contacts", json={"given_name": "Vjosa"})).json()
    item = await api.post(
        "/api/v1/interactions",
        json={"contact_id": contact["id"], "kind": "meeting", "summary": "Coffee at the desk"},
    )
    assert item.status_code == 201
    timeline = (await api.get(f"/api/v1/contacts/{contact['id']}/interactions")).json()
    assert [i["summary"] for i in timeline["items"]] == ["Coffee at the desk"]
    assert (await api.get(f"/api/v1/contacts/{contact['id']}")).json()["last_interaction_at"]
    lst = (await api.post("/api/v1/lists", json={"name": "Press conference"})).json()
    added = await api.post(
        f"/api/v1/lists/{lst['id']}/members", json={"contact_ids": [contact["id"]]}
    )
    assert added.json() == {"added": 1}
    members = (await api.get(f"/api/v1/lists/{lst['id']}/members")).json()
    assert [m["id"] for m in members["items"]] == [contact["id"]]
    smart = await api.post(
        "/api/v1/lists", json={"name": "Vjosas", "kind": "smart", "filter": {"q": "vjosa"}}
    )
    members = (await api.get(f"/api/v1/lists/{smart.json()['id']}/members")).json()
    assert members["total"] == 1
    bad = await api.post(
        "/api/v1/lists", json={"name": "Bad", "kind": "smart", "filter": {"nonsense": 1}}
    )
    assert bad.status_code == 422


async def test_viewer_token_cannot_write(
    client: httpx.AsyncClient, session: AsyncSession, world: World
) -> None:
    token = await accounts.create_api_token(session, actor=world.viewer, name="read")
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/v1/contacts", headers=headers)).status_code == 200
    response = await client.post("/api/v1/contacts", json={"given_name": "X"}, headers=headers)
    assert response.status_code == 403


async def test_interactions_search_and_audit_log(
    api: httpx.AsyncClient, client: httpx.AsyncClient, world: World
) -> None:
    contact = (await api.post("/api/v1/contacts", json={"given_name": "Lirim"})).json()
    for summary in ("Pitched the budget report", "Called about the air study"):
        await api.post(
            "/api/v1/interactions",
            json={"contact_id": contact["id"], "kind": "call", "summary": summary},
        )
    found = (await api.get("/api/v1/interactions", params={"q": "AIR"})).json()
    assert [i["summary"] for i in found["items"]] == ["Called about the air study"]
    del client.headers["Authorization"]
    from tests.conftest import login

    await login(client, world.emails["owner"])
    page = await client.get("/settings")
    assert "Activity log" in page.text and "editor@example.org" in page.text
