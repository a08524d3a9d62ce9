"""The blacklist (issue 15): listing, removal by expiry or review, public list, dossier."""

from datetime import date, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.conftest import PUBLIC
from tests.factories import JINFENG, enterprise_payload

TODAY = date.today()


def _listing(enterprise_id: int, **overrides: Any) -> dict[str, Any]:
    return {
        "enterprise_id": enterprise_id,
        "reason": "发生较大生产安全事故",
        "legal_basis": "《安全生产严重失信主体名单管理办法》第五条",
        "decided_on": (TODAY - timedelta(days=10)).isoformat(),
        "listed_until": (TODAY + timedelta(days=355)).isoformat(),
        **overrides,
    }


def test_listing_shows_publicly_in_the_dossier_and_ends_on_review(
    client: TestClient, session: Session
) -> None:
    enterprise = client.post("/api/enterprises", json=enterprise_payload()).json()
    created = client.post("/api/blacklist", json=_listing(enterprise["id"]))
    assert created.status_code == 201, created.text
    entry = created.json()
    assert entry["decided_by"] and entry["county_code"] == "640104"
    again = client.post("/api/blacklist", json=_listing(enterprise["id"]))
    assert again.status_code == 409, "one listing in force per enterprise"

    public = client.get("/api/blacklist/public", headers=PUBLIC).json()
    assert [p["credit_code"] for p in public] == [enterprise["credit_code"]]
    assert "removal_note" not in public[0]
    dossier = client.get(f"/api/map/enterprises/{enterprise['id']}").json()
    assert dossier["blacklist"]["id"] == entry["id"]

    early = client.post(f"/api/blacklist/{entry['id']}/removal", json={"removal": "expired"})
    assert early.status_code == 409 and early.json()["allowed"] == ["review"]
    no_note = client.post(f"/api/blacklist/{entry['id']}/removal", json={"removal": "review"})
    assert no_note.status_code == 422 and no_note.json()["field"] == "note"
    removed = client.post(
        f"/api/blacklist/{entry['id']}/removal",
        json={"removal": "review", "note": "完成信用修复"},
    )
    assert removed.status_code == 200 and removed.json()["removal"] == "review"
    assert client.get("/api/blacklist/public", headers=PUBLIC).json() == []
    assert client.get(f"/api/map/enterprises/{enterprise['id']}").json()["blacklist"] is None
    history = client.get("/api/blacklist?state=removed").json()
    assert [h["id"] for h in history] == [entry["id"]]
    audited = (
        session.execute(
            text("SELECT action FROM audit_log WHERE table_name = 'blacklist_entries' ORDER BY id")
        )
        .scalars()
        .all()
    )
    assert audited == ["insert", "update"]


def test_expired_listings_leave_the_public_list_and_are_removed(client: TestClient) -> None:
    enterprise = client.post("/api/enterprises", json=enterprise_payload()).json()
    past = _listing(
        enterprise["id"],
        decided_on=(TODAY - timedelta(days=400)).isoformat(),
        listed_until=(TODAY - timedelta(days=35)).isoformat(),
    )
    entry = client.post("/api/blacklist", json=past).json()
    assert client.get("/api/blacklist/public", headers=PUBLIC).json() == []
    assert client.post("/api/blacklist/expirations").json() == {"expired": 1}
    assert client.get(f"/api/blacklist/{entry['id']}").json()["removal"] == "expired"


def test_bad_input_and_scope(client: TestClient, make_user) -> None:
    enterprise = client.post("/api/enterprises", json=enterprise_payload()).json()
    other = client.post("/api/enterprises", json=enterprise_payload(JINFENG)).json()
    backwards = _listing(enterprise["id"], listed_until=(TODAY - timedelta(days=20)).isoformat())
    response = client.post("/api/blacklist", json=backwards)
    assert response.status_code == 422 and response.json()["field"] == "listed_until"
    official = make_user("official", region_code="640104")
    refused = client.post("/api/blacklist", json=_listing(other["id"]), headers=official)
    assert refused.status_code == 422, "an enterprise outside the region is not found"
    assert (
        client.post("/api/blacklist", json=_listing(enterprise["id"]), headers=official).status_code
        == 201
    )
    warden = make_user("warden", grid_cells=[])
    assert client.get("/api/blacklist", headers=warden).status_code == 403
    assert client.get("/api/blacklist", headers=PUBLIC).status_code == 401
