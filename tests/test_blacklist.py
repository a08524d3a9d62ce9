"""The blacklist (issue 15): listing, removal by expiry or review, public list, dossier; a
listing as an input of the enterprise's grade; the map filter."""

from datetime import date, timedelta
from typing import Any

import mapbox_vector_tile
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.auth.scope import Scope
from app.blacklist import service as blacklist
from app.blacklist.demo import load_demo_blacklist
from app.geo.webmercator import lonlat_to_tile
from app.risk import grading
from tests.conftest import PUBLIC
from tests.factories import JINFENG, XINGQING, enterprise_payload, lec_point

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
    assert again.json()["field"] == "enterprise_id"

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


# A listing as an input of the enterprise's grade (geodata/risk/enterprise_rule.json).

BLUE_LEC = (1, 1, 7)  # LEC inputs grading a risk point blue
RED_LEC = (6, 6, 15)
COUNTS = "SELECT region_code, measure, value FROM region_counts WHERE value <> 0 ORDER BY 1, 2"
CELLS = (
    "SELECT layer, zoom, tile_x, tile_y, cell_x, cell_y, county_code, level, count "
    "FROM tile_cells WHERE layer = 'enterprises'"
)


def _graded(client: TestClient, lec: tuple[int, int, int] | None, **where: Any) -> dict:
    """An enterprise with one risk point graded by `lec` (None: no risk point, ungraded)."""
    enterprise = client.post("/api/enterprises", json=enterprise_payload(**where)).json()
    if lec is not None:
        place = where.get("lon_lat", XINGQING)
        point = client.post("/api/risk-points", json=lec_point(enterprise["id"], *lec, place))
        assert point.status_code == 201, point.text
    return client.get(f"/api/enterprises/{enterprise['id']}").json()


def _assert_aggregates_exact(session: Session) -> None:
    """region_counts and the enterprises' tile cells equal a recount from the rows."""
    counts = session.execute(text(COUNTS)).all()
    cells = set(session.execute(text(CELLS)).all())
    session.execute(text("SELECT rebuild_region_counts()"))
    session.execute(text("SELECT rebuild_tile_cells()"))
    assert session.execute(text(COUNTS)).all() == counts
    assert set(session.execute(text(CELLS)).all()) == cells


def _enterprise_counts(session: Session, level: str) -> int:
    return int(
        session.execute(
            text("SELECT value FROM region_counts WHERE region_code = '640104' AND measure = :m"),
            {"m": f"enterprises.{level}"},
        ).scalar_one_or_none()
        or 0
    )


def test_a_listing_raises_the_level_with_its_reason_and_its_removal_lowers_it(
    client: TestClient, session: Session
) -> None:
    enterprise = _graded(client, BLUE_LEC)
    assert enterprise["risk_level"] == "blue"
    assert enterprise["level_basis"]["blacklisted"] is False
    blue_before = _enterprise_counts(session, "blue")

    entry = client.post("/api/blacklist", json=_listing(enterprise["id"])).json()
    listed = client.get(f"/api/enterprises/{enterprise['id']}").json()
    assert listed["risk_level"] == "yellow", "one level up while listed"
    assert listed["level_basis"]["blacklisted"] is True
    assert listed["level_basis"]["highest_risk_point"] == "blue"
    dossier = client.get(f"/api/map/enterprises/{enterprise['id']}").json()
    assert dossier["enterprise"]["level_basis"]["blacklisted"] is True
    assert dossier["blacklist"]["reason"] == "发生较大生产安全事故"
    assert _enterprise_counts(session, "blue") == blue_before - 1
    assert _enterprise_counts(session, "yellow") == 1
    _assert_aggregates_exact(session)

    removed = client.post(
        f"/api/blacklist/{entry['id']}/removal", json={"removal": "review", "note": "信用修复"}
    )
    assert removed.status_code == 200, removed.text
    back = client.get(f"/api/enterprises/{enterprise['id']}").json()
    assert back["risk_level"] == "blue" and back["level_basis"]["blacklisted"] is False
    assert _enterprise_counts(session, "blue") == blue_before
    assert _enterprise_counts(session, "yellow") == 0
    _assert_aggregates_exact(session)
    changes = session.execute(
        text(
            "SELECT old_level, new_level FROM enterprise_level_changes "
            "WHERE enterprise_id = :e ORDER BY id"
        ),
        {"e": enterprise["id"]},
    ).all()
    assert [tuple(c) for c in changes][-2:] == [("blue", "yellow"), ("yellow", "blue")]


def test_red_stays_red_an_ungraded_unit_is_graded_and_a_past_listing_counts_for_nothing(
    client: TestClient,
) -> None:
    red = _graded(client, RED_LEC)
    client.post("/api/blacklist", json=_listing(red["id"]))
    red_listed = client.get(f"/api/enterprises/{red['id']}").json()
    assert red_listed["risk_level"] == "red", "capped at red"
    assert red_listed["level_basis"]["blacklisted"] is True, "the basis names the listing"

    ungraded = _graded(client, None)
    assert ungraded["risk_level"] is None
    client.post("/api/blacklist", json=_listing(ungraded["id"]))
    assert client.get(f"/api/enterprises/{ungraded['id']}").json()["risk_level"] == "yellow"

    past = _graded(client, BLUE_LEC)
    ended = _listing(
        past["id"],
        decided_on=(TODAY - timedelta(days=400)).isoformat(),
        listed_until=(TODAY - timedelta(days=35)).isoformat(),
    )
    assert client.post("/api/blacklist", json=ended).status_code == 201
    assert client.get(f"/api/enterprises/{past['id']}").json()["risk_level"] == "blue"


def test_the_daily_expiry_lowers_the_level_again(client: TestClient, session: Session) -> None:
    enterprise = _graded(client, BLUE_LEC)
    entry = client.post(
        "/api/blacklist",
        json=_listing(enterprise["id"], listed_until=(TODAY + timedelta(days=20)).isoformat()),
    ).json()
    assert client.get(f"/api/enterprises/{enterprise['id']}").json()["risk_level"] == "yellow"
    later = date.fromisoformat(entry["listed_until"]) + timedelta(days=1)
    admin = Scope(role="admin", username="cli", write_prefix="")
    assert blacklist.expire(session, scope=admin, today=later) == 1
    after = client.get(f"/api/enterprises/{enterprise['id']}").json()
    assert after["risk_level"] == "blue" and after["level_basis"]["blacklisted"] is False
    _assert_aggregates_exact(session)


def test_a_province_may_set_a_floor_for_listed_units(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    rule = grading.enterprise_rule()
    monkeypatch.setattr(
        grading, "enterprise_rule", lambda: {**rule, "blacklist_at_least": "orange"}
    )
    enterprise = _graded(client, BLUE_LEC)
    assert enterprise["risk_level"] == "blue", "the floor is for listed units only"
    client.post("/api/blacklist", json=_listing(enterprise["id"]))
    assert client.get(f"/api/enterprises/{enterprise['id']}").json()["risk_level"] == "orange"


# The map filter: blacklisted=true on the GeoJSON and tile endpoints.


def _decode(content: bytes) -> dict:
    return mapbox_vector_tile.decode(content, default_options={"y_coord_down": True})


def _tile_ids(client: TestClient, z: int, lon_lat: tuple[float, float], **params: Any) -> set:
    x, y = lonlat_to_tile(*lon_lat, z)
    response = client.get(f"/tiles/enterprises/{z}/{x}/{y}.mvt", params=params)
    assert response.status_code == 200, response.text
    layer = _decode(response.content).get("enterprises", {"features": []})
    return {f["properties"]["id"] for f in layer["features"]}


def _tile_count(client: TestClient, z: int, lon_lat: tuple[float, float], **params: Any) -> int:
    """Enterprises counted in an aggregated (low-zoom) tile."""
    x, y = lonlat_to_tile(*lon_lat, z)
    content = client.get(f"/tiles/enterprises/{z}/{x}/{y}.mvt", params=params).content
    layer = _decode(content).get("enterprises", {"features": []})
    return sum(f["properties"]["count"] for f in layer["features"])


def test_the_map_filter_keeps_exactly_the_listed_enterprises_in_scope(
    client: TestClient, make_user
) -> None:
    xingqing = [_graded(client, BLUE_LEC) for _ in range(3)]
    jinfeng = _graded(client, RED_LEC, lon_lat=JINFENG)
    listed = {xingqing[0]["id"], xingqing[1]["id"], jinfeng["id"]}
    for enterprise_id in sorted(listed):
        client.post("/api/blacklist", json=_listing(enterprise_id))
    lifted = client.post("/api/blacklist", json=_listing(xingqing[1]["id"]))
    assert lifted.status_code == 409  # already listed; lift it on review instead
    entry = client.get("/api/blacklist", params={"state": "active"}).json()
    lifted_id = next(e["id"] for e in entry if e["enterprise_id"] == xingqing[1]["id"])
    client.post(f"/api/blacklist/{lifted_id}/removal", json={"removal": "review", "note": "复核"})
    in_force = {xingqing[0]["id"], jinfeng["id"]}

    def geojson(headers: dict | None = None, **params: Any) -> dict:
        response = client.get(
            "/api/features/enterprises",
            params={"blacklisted": "true", **params},
            headers=headers,
        )
        assert response.status_code == 200, response.text
        return response.json()

    everything = geojson()
    assert {f["id"] for f in everything["features"]} == in_force
    assert everything["numberMatched"] == 2
    assert geojson(level="red")["numberMatched"] == 1
    official = make_user("official", region_code="640104")
    assert {f["id"] for f in geojson(official)["features"]} == {xingqing[0]["id"]}
    unfiltered = client.get("/api/features/enterprises").json()
    assert unfiltered["numberMatched"] == 4
    points = client.get("/api/features/risk_points", params={"blacklisted": "true"}).json()
    assert {f["properties"]["enterprise_id"] for f in points["features"]} == in_force
    refused = client.get("/api/features/regions", params={"blacklisted": "true"})
    assert refused.status_code == 422 and refused.json()["field"] == "blacklisted"

    # Tiles: feature by feature at street zoom, counted from the raw rows at low zoom (the
    # pre-aggregated cells know no blacklist), for the admin and within an official's scope.
    assert _tile_ids(client, 14, XINGQING, blacklisted="true") == {xingqing[0]["id"]}
    assert _tile_ids(client, 14, XINGQING) == {e["id"] for e in xingqing}
    assert _tile_count(client, 4, XINGQING) == 4
    assert _tile_count(client, 4, XINGQING, blacklisted="true") == 2
    assert _tile_count(client, 4, XINGQING, blacklisted="true", level="red") == 1
    x, y = lonlat_to_tile(*XINGQING, 4)
    scoped = client.get(
        f"/tiles/enterprises/4/{x}/{y}.mvt", params={"blacklisted": "true"}, headers=official
    )
    layer = _decode(scoped.content)["enterprises"]
    assert sum(f["properties"]["count"] for f in layer["features"]) == 1


def test_a_listing_renews_the_filtered_tiles_even_when_the_colour_stays(
    client: TestClient,
) -> None:
    red = _graded(client, RED_LEC)
    x, y = lonlat_to_tile(*XINGQING, 14)
    url = f"/tiles/enterprises/14/{x}/{y}.mvt"
    before = client.get(url, params={"blacklisted": "true"})
    client.post("/api/blacklist", json=_listing(red["id"]))
    after = client.get(
        url, params={"blacklisted": "true"}, headers={"If-None-Match": before.headers["ETag"]}
    )
    assert after.status_code == 200, "the cached tile without the listing is stale"
    assert {f["properties"]["id"] for f in _decode(after.content)["enterprises"]["features"]} == {
        red["id"]
    }


def test_the_demo_lists_some_enterprises_and_lifts_a_few(
    client: TestClient, session: Session
) -> None:
    ids = [_graded(client, BLUE_LEC)["id"] for _ in range(10)]
    made = load_demo_blacklist(session, today=TODAY, every=1)
    rows = session.execute(
        text("SELECT enterprise_id, removal FROM blacklist_entries ORDER BY enterprise_id")
    ).all()
    assert [r.enterprise_id for r in rows] == ids
    assert [r.removal for r in rows].count("review") == 2  # the 5th and the 10th
    assert made == {"blacklisted": 8}
    listed = client.get("/api/blacklist/public", headers=PUBLIC).json()
    assert len(listed) == 8


def test_the_lists_and_registers_take_the_blacklisted_filter(client: TestClient) -> None:
    listed = client.post("/api/enterprises", json=enterprise_payload()).json()
    other = client.post("/api/enterprises", json=enterprise_payload()).json()
    assert client.post("/api/blacklist", json=_listing(listed["id"])).status_code == 201
    page = client.get("/api/enterprises?blacklisted=true&limit=1000").json()
    ids = {item["id"] for item in page["items"]}
    assert listed["id"] in ids and other["id"] not in ids
    assert page["total"] == len(ids)
    exported = client.get("/api/registers/enterprises?blacklisted=true&format=csv")
    assert exported.status_code == 200
    assert listed["credit_code"] in exported.text and other["credit_code"] not in exported.text
    # Rows that belong to no enterprise cannot be filtered by one's listing.
    zones = client.get("/api/public-zones?blacklisted=true")
    assert zones.status_code == 422 and zones.json()["field"] == "blacklisted"
    dangers = client.get("/api/registers/hidden_dangers?blacklisted=true")
    assert dangers.status_code == 422 and dangers.json()["field"] == "blacklisted"
