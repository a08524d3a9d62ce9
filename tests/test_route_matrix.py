"""Issue 10: every route × every role, built from the app's own routes.

A new route fails `test_every_route_is_classified` until it is added to MATRIX with the
answer each role gets. Each probe is a real request against PostGIS: rows are made for it
inside the test's transaction (an enterprise in 兴庆区, inside the official's city and the
warden's county, owned by the enterprise account).
"""

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.leads import service as leads_service
from app.main import create_app
from tests.conftest import PUBLIC, TEST_PASSWORD
from tests.factories import XINGQING, enterprise_payload, lec_point, png, square_around

ROLES = ("public", "admin", "official", "planner", "warden", "enterprise")
OK = "2xx"


def _expect(default: int | str, **roles: int | str) -> dict[str, int | str]:
    return {role: roles.get(role, default) for role in ROLES}


PUBLIC_ROUTE = _expect(OK)
ADMIN_ONLY = _expect(403, public=401, admin=OK)
LIST = {  # role may read the kind at all: 200; the public 401; others 403
    table: _expect(OK, public=401, **{r: 403 for r in roles})
    for table, roles in {
        "enterprises": ("planner",),
        "risk_points": ("planner",),
        "hazard_sources": (),
        "public_zones": ("enterprise",),
        "emergency_resources": ("enterprise",),
    }.items()
}
ITEM = {  # an in-scope row: readers 200, everyone else 404 (no hint it exists)
    table: _expect(OK, public=404, **{r: 404 for r in roles})
    for table, roles in {
        "enterprises": ("planner",),
        "risk_points": ("planner",),
        "hazard_sources": (),
        "public_zones": ("enterprise",),
        "emergency_resources": ("enterprise",),
    }.items()
}
CREATE = {
    "enterprises": _expect(403, public=401, admin=OK, official=OK),
    "risk_points": _expect(403, public=401, admin=OK, official=OK, enterprise=OK),
    "hazard_sources": _expect(403, public=401, admin=OK, official=OK, enterprise=OK),
    "public_zones": _expect(403, public=401, admin=OK, official=OK),
    "emergency_resources": _expect(403, public=401, admin=OK, official=OK),
}
CHANGE = {  # PATCH / DELETE: the row is read first (404 if unseen), then written (403)
    "enterprises": _expect(403, public=404, planner=404, admin=OK, official=OK),
    "risk_points": _expect(403, public=404, planner=404, admin=OK, official=OK, enterprise=OK),
    "hazard_sources": _expect(403, public=404, admin=OK, official=OK, enterprise=OK),
    "public_zones": _expect(403, public=404, enterprise=404, admin=OK, official=OK),
    "emergency_resources": _expect(403, public=404, enterprise=404, admin=OK, official=OK),
}
LAYER = _expect(OK, public=401, planner=403)  # located layer (enterprises) read
# Deleting needs a new enterprise each time: not the account's own, so it is unseen there.
DELETE = {
    "enterprises": _expect(403, public=404, planner=404, enterprise=404, admin=OK, official=OK)
}


@dataclass
class Context:
    admin: TestClient
    enterprise_id: int
    users: dict[str, dict[str, str]]
    tokens: dict[str, str]

    def fresh(self, table: str, *, to_delete: bool = False) -> int:
        """A new row of `table` in 兴庆区 belonging to the test enterprise (for enterprises:
        the test enterprise itself, or a new one when it is to be deleted)."""
        body: dict[str, Any] = {
            "enterprises": enterprise_payload(),
            "risk_points": lec_point(self.enterprise_id, 3, 6, 7),
            "hazard_sources": _hazard_source(self.enterprise_id),
            "public_zones": _zone(),
            "emergency_resources": _resource(),
        }[table]
        if table == "enterprises" and not to_delete:
            return self.enterprise_id
        response = self.admin.post(f"/api/{table.replace('_', '-')}", json=body)
        assert response.status_code == 201, response.text
        return int(response.json()["id"])


def _hazard_source(enterprise_id: int) -> dict[str, Any]:
    return {
        "enterprise_id": enterprise_id,
        "name": "储罐",
        "unit_type": "storage",
        "substances": [{"cas": "7782-50-5", "quantity_t": 10}],
    }


def _zone() -> dict[str, Any]:
    return {"name": "广场", "kind": "square", "lon": XINGQING[0], "lat": XINGQING[1]}


def _resource() -> dict[str, Any]:
    return {"name": "消防救援站", "kind": "fire_station", "lon": XINGQING[0], "lat": XINGQING[1]}


Probe = Callable[[Context], tuple[str, dict[str, Any]]]


def _crud(table: str) -> dict[tuple[str, str], tuple[Probe, dict[str, int | str]]]:
    path = f"/api/{table.replace('_', '-')}"
    create_body = {
        "enterprises": lambda c: enterprise_payload(),
        "risk_points": lambda c: lec_point(c.enterprise_id, 3, 6, 7),
        "hazard_sources": lambda c: _hazard_source(c.enterprise_id),
        "public_zones": lambda c: _zone(),
        "emergency_resources": lambda c: _resource(),
    }[table]
    patch_body = {
        "enterprises": {"address": "新址"},
        "risk_points": {"name": "改名"},
        "hazard_sources": {"name": "改名"},
        "public_zones": {"name": "改名"},
        "emergency_resources": {"name": "改名"},
    }[table]
    return {
        ("GET", path): (lambda c: (path, {}), LIST[table]),
        ("POST", path): (lambda c: (path, {"json": create_body(c)}), CREATE[table]),
        ("GET", path + "/{id}"): (lambda c: (f"{path}/{c.fresh(table)}", {}), ITEM[table]),
        ("PATCH", path + "/{id}"): (
            lambda c: (f"{path}/{c.fresh(table)}", {"json": patch_body}),
            CHANGE[table],
        ),
        ("DELETE", path + "/{id}"): (
            lambda c: (f"{path}/{c.fresh(table, to_delete=True)}", {}),
            DELETE.get(table, CHANGE[table]),
        ),
    }


def _sign_in_admin(c: Context) -> tuple[str, dict[str, Any]]:
    return "/api/auth/token", {"data": {"username": "matrix-admin", "password": TEST_PASSWORD}}


PNG = png()
DANGER_READERS = _expect(OK, public=404, planner=404)  # an in-scope hidden danger
OFFICIALS = _expect(403, public=401, admin=OK, official=OK)
DANGER_LISTS = _expect(OK, public=401, planner=403)  # hidden dangers, inspections


def _danger(c: Context) -> str:
    """A new hidden danger of the test enterprise, reported by the admin: its URL."""
    response = c.admin.post(
        "/api/hidden-dangers", json={"enterprise_id": c.enterprise_id, "title": "矩阵隐患"}
    )
    assert response.status_code == 201, response.text
    return f"/api/hidden-dangers/{response.json()['id']}"


def _photo(c: Context) -> str:
    """A new hidden danger with a photo uploaded by the admin: the photo's URL."""
    url = _danger(c)
    response = c.admin.post(f"{url}/evidence", files={"file": ("p.png", PNG, "image/png")})
    assert response.status_code == 201, response.text
    return f"{url}/evidence/{response.json()['sha256']}"


# Issue 14. Checking and saving reports: planners, officials, admins; publishing rule sets:
# admins; parks: read by government roles, written by officials; a hazard source's own
# safety study: written by whoever may change the hazard source.
PLANNERS = _expect(403, public=401, admin=OK, official=OK, planner=OK)
PARK_ITEM = _expect(OK, public=404, enterprise=404)


def _park(c: Context) -> str:
    """A new chemical park around 兴庆区's test point, made by the admin: its URL."""
    lon, lat = XINGQING
    outline = [
        [lon - 0.01, lat - 0.01],
        [lon + 0.01, lat - 0.01],
        [lon + 0.01, lat + 0.01],
        [lon - 0.01, lat + 0.01],
        [lon - 0.01, lat - 0.01],
    ]
    response = c.admin.post(
        "/api/planning/parks",
        json={
            "name": "矩阵化工园区",
            "risk_class": "C",
            "geometry": {"type": "Polygon", "coordinates": [outline]},
        },
    )
    assert response.status_code == 201, response.text
    return f"/api/planning/parks/{response.json()['id']}"


def _report(c: Context) -> str:
    """A new saved planning report in 兴庆区, saved by the admin: its URL."""
    response = c.admin.post("/api/planning/reports", json={"title": "矩阵报告", **_SCHOOL})
    assert response.status_code == 201, response.text
    return f"/api/planning/reports/{response.json()['id']}"


_SCHOOL = {"kind": "school", "geometry": {"type": "Point", "coordinates": list(XINGQING)}}
PLANNING: dict[tuple[str, str], tuple[Probe, dict[str, int | str]]] = {
    ("GET", "/api/planning/kinds"): (lambda c: ("/api/planning/kinds", {}), PUBLIC_ROUTE),
    ("GET", "/api/planning/rule-sets"): (lambda c: ("/api/planning/rule-sets", {}), PUBLIC_ROUTE),
    ("POST", "/api/planning/rule-sets"): (
        lambda c: ("/api/planning/rule-sets", {"json": {"version": f"m-{uuid.uuid4().hex[:8]}"}}),
        ADMIN_ONLY,
    ),
    ("POST", "/api/planning/check"): (
        lambda c: ("/api/planning/check", {"json": _SCHOOL}),
        PLANNERS,
    ),
    ("GET", "/api/planning/zones/{hazard_source_id}"): (
        lambda c: (f"/api/planning/zones/{c.fresh('hazard_sources')}", {}),
        _expect(OK, public=401, enterprise=403),
    ),
    ("GET", "/api/planning/hazard-sources/{id}/safety-zones"): (
        lambda c: (f"/api/planning/hazard-sources/{c.fresh('hazard_sources')}/safety-zones", {}),
        ITEM["hazard_sources"],
    ),
    ("PUT", "/api/planning/hazard-sources/{id}/safety-zones"): (
        lambda c: (
            f"/api/planning/hazard-sources/{c.fresh('hazard_sources')}/safety-zones",
            {"json": {"distances": [{"target_class": "highly_sensitive", "distance_m": 300}]}},
        ),
        CHANGE["hazard_sources"],
    ),
    ("POST", "/api/planning/reports"): (
        lambda c: ("/api/planning/reports", {"json": {"title": "矩阵报告", **_SCHOOL}}),
        PLANNERS,
    ),
    ("GET", "/api/planning/reports"): (lambda c: ("/api/planning/reports", {}), PLANNERS),
    ("GET", "/api/planning/reports/{id}"): (lambda c: (_report(c), {}), PLANNERS),
    ("GET", "/api/planning/reports/{id}.pdf"): (lambda c: (_report(c) + ".pdf", {}), PLANNERS),
    ("GET", "/api/planning/parks"): (
        lambda c: ("/api/planning/parks", {}),
        _expect(OK, public=401, enterprise=403),
    ),
    ("POST", "/api/planning/parks"): (
        lambda c: (
            "/api/planning/parks",
            {
                "json": {
                    "name": "园区",
                    "risk_class": "D",
                    "geometry": square_around(*XINGQING, 0.01),
                }
            },
        ),
        OFFICIALS,
    ),
    ("GET", "/api/planning/parks/{id}"): (lambda c: (_park(c), {}), PARK_ITEM),
    ("PATCH", "/api/planning/parks/{id}"): (
        lambda c: (_park(c), {"json": {"risk_class": "B"}}),
        _expect(403, public=404, enterprise=404, admin=OK, official=OK),
    ),
    ("DELETE", "/api/planning/parks/{id}"): (
        lambda c: (_park(c), {}),
        _expect(403, public=404, enterprise=404, admin=OK, official=OK),
    ),
}


def _import_csv(c: Context) -> tuple[str, dict[str, Any]]:
    """A dry-run import of one enterprise in 兴庆区 (writes nothing)."""
    body = enterprise_payload()
    csv = f"企业名称,统一社会信用代码,行业,经度,纬度\n{body['name']},{body['credit_code']},工贸,"
    csv += f"{body['lon']},{body['lat']}\n"
    return "/api/imports?layer=enterprises&dry_run=true", {
        "files": {"file": ("e.csv", csv.encode())}
    }


def _blacklisting(c: Context) -> dict[str, Any]:
    """A listing body for a new enterprise in 兴庆区 (one listing in force per enterprise)."""
    return {
        "enterprise_id": c.fresh("enterprises", to_delete=True),
        "reason": "矩阵失信行为",
        "legal_basis": "矩阵依据",
        "decided_on": "2026-01-01",
        "listed_until": "2030-12-31",
    }


def _blacklisted(c: Context) -> str:
    """A new listing made by the admin: its URL."""
    response = c.admin.post("/api/blacklist", json=_blacklisting(c))
    assert response.status_code == 201, response.text
    return f"/api/blacklist/{response.json()['id']}"


# Issue 15: imports, registers, statutory tables, blacklist.
ISSUE_15: dict[tuple[str, str], tuple[Probe, dict[str, int | str]]] = {
    ("POST", "/api/imports"): (_import_csv, OFFICIALS),
    # A token nobody started: each signed-in caller is told it waits.
    ("GET", "/api/imports/progress/{token}"): (
        lambda c: (f"/api/imports/progress/{uuid.uuid4()}", {}),
        _expect(OK, public=401),
    ),
    ("GET", "/api/imports/templates/{layer}.xlsx"): (
        lambda c: ("/api/imports/templates/enterprises.xlsx", {}),
        PUBLIC_ROUTE,
    ),
    ("GET", "/api/registers/{layer}"): (
        lambda c: ("/api/registers/enterprises?format=csv", {}),
        LIST["enterprises"],
    ),
    ("GET", "/api/reports/five-batches"): (
        lambda c: ("/api/reports/five-batches?region=640100&month=2026-11", {}),
        OFFICIALS,
    ),
    ("GET", "/api/reports/danger-statistics"): (
        lambda c: ("/api/reports/danger-statistics?region=640100&quarter=2026-Q4", {}),
        OFFICIALS,
    ),
    ("GET", "/api/reports/risk-bulletin"): (
        lambda c: ("/api/reports/risk-bulletin?region=640100&month=2026-11&format=xlsx", {}),
        OFFICIALS,
    ),
    ("POST", "/api/enforcement-actions"): (
        lambda c: (
            "/api/enforcement-actions",
            {
                "json": {
                    "kind": "closed",
                    "unit_name": "矩阵作坊",
                    "county_code": "640104",
                    "decided_on": "2026-11-01",
                    "description": "关闭",
                }
            },
        ),
        OFFICIALS,
    ),
    ("GET", "/api/blacklist"): (lambda c: ("/api/blacklist", {}), OFFICIALS),
    ("GET", "/api/blacklist/public"): (lambda c: ("/api/blacklist/public", {}), PUBLIC_ROUTE),
    ("POST", "/api/blacklist"): (
        lambda c: ("/api/blacklist", {"json": _blacklisting(c)}),
        OFFICIALS,
    ),
    ("POST", "/api/blacklist/expirations"): (
        lambda c: ("/api/blacklist/expirations", {}),
        OFFICIALS,
    ),
    ("GET", "/api/blacklist/{id}"): (lambda c: (_blacklisted(c), {}), OFFICIALS),
    ("POST", "/api/blacklist/{id}/removal"): (
        lambda c: (
            f"{_blacklisted(c)}/removal",
            {"json": {"removal": "review", "note": "矩阵复核"}},
        ),
        OFFICIALS,
    ),
}


def _lead_body() -> dict[str, Any]:
    return {
        "kind": "unregistered",
        "description": "无证经营的小作坊",
        "lon": XINGQING[0],
        "lat": XINGQING[1],
    }


def _lead(c: Context) -> str:
    """A new lead in the warden's cell, reported by the admin: its URL."""
    response = c.admin.post("/api/leads", json=_lead_body())
    assert response.status_code == 201, response.text
    return f"/api/leads/{response.json()['id']}"


MATRIX: dict[tuple[str, str], tuple[Probe, dict[str, int | str]]] = {
    ("GET", "/"): (lambda c: ("/", {}), PUBLIC_ROUTE),
    ("GET", "/api/health/live"): (lambda c: ("/api/health/live", {}), PUBLIC_ROUTE),
    ("GET", "/api/health/ready"): (lambda c: ("/api/health/ready", {}), PUBLIC_ROUTE),
    ("GET", "/api/health"): (lambda c: ("/api/health", {}), PUBLIC_ROUTE),
    ("POST", "/api/auth/token"): (_sign_in_admin, PUBLIC_ROUTE),
    ("POST", "/api/auth/refresh"): (
        lambda c: ("/api/auth/refresh", {"json": {"refresh_token": c.tokens["refresh"]}}),
        PUBLIC_ROUTE,
    ),
    ("GET", "/api/auth/me"): (lambda c: ("/api/auth/me", {}), PUBLIC_ROUTE),
    ("GET", "/api/users"): (lambda c: ("/api/users", {}), ADMIN_ONLY),
    ("POST", "/api/users"): (
        lambda c: (
            "/api/users",
            {
                "json": {
                    "username": f"made-{c.fresh('risk_points')}",
                    "password": "long-enough",
                    "role": "planner",
                    "region_code": "640000",
                }
            },
        ),
        ADMIN_ONLY,
    ),
    ("GET", "/api/users/{id}"): (lambda c: (f"/api/users/{c.tokens['admin_id']}", {}), ADMIN_ONLY),
    ("PATCH", "/api/users/{id}"): (
        lambda c: (f"/api/users/{c.tokens['admin_id']}", {"json": {"display_name": "矩阵"}}),
        ADMIN_ONLY,
    ),
    ("GET", "/api/audit"): (
        lambda c: ("/api/audit", {}),
        _expect(403, public=401, admin=OK, official=OK),
    ),
    ("GET", "/api/regions/locate"): (
        lambda c: ("/api/regions/locate?lon=106.28&lat=38.47", {}),
        PUBLIC_ROUTE,
    ),
    ("GET", "/api/regions/{code}"): (lambda c: ("/api/regions/640104", {}), PUBLIC_ROUTE),
    ("GET", "/api/regions/{code}/children"): (
        lambda c: ("/api/regions/640100/children", {}),
        PUBLIC_ROUTE,
    ),
    ("GET", "/api/regions/{code}/geometry"): (
        lambda c: ("/api/regions/640104/geometry?detail=coarse", {}),
        PUBLIC_ROUTE,
    ),
    ("POST", "/api/risk/assess/lec"): (
        lambda c: ("/api/risk/assess/lec", {"json": {"l": 3, "e": 6, "c": 7}}),
        PUBLIC_ROUTE,
    ),
    ("POST", "/api/risk/assess/ls"): (
        lambda c: ("/api/risk/assess/ls", {"json": {"l": 3, "s": 4}}),
        PUBLIC_ROUTE,
    ),
    ("GET", "/api/risk/summary"): (lambda c: ("/api/risk/summary?parent=640000", {}), PUBLIC_ROUTE),
    ("GET", "/api/risk/regions/{code}"): (lambda c: ("/api/risk/regions/640104", {}), PUBLIC_ROUTE),
    ("GET", "/api/risk/trend"): (
        lambda c: ("/api/risk/trend?region=640104&from=2026-01-01&to=2026-12-31", {}),
        PUBLIC_ROUTE,
    ),
    ("POST", "/api/risk/snapshots"): (lambda c: ("/api/risk/snapshots", {}), ADMIN_ONLY),
    ("POST", "/api/hazard-sources/assess"): (
        lambda c: (
            "/api/hazard-sources/assess",
            {
                "json": {
                    "substances": [{"cas": "7782-50-5", "quantity_t": 10}],
                    "geometry": {"type": "Point", "coordinates": list(XINGQING)},
                }
            },
        ),
        _expect(OK, public=401, enterprise=403),
    ),
    **_crud("risk_points"),
    **_crud("enterprises"),
    **_crud("hazard_sources"),
    **_crud("public_zones"),
    **_crud("emergency_resources"),
    ("GET", "/tiles/{layer}/{z}/{x}/{y}.mvt"): (
        lambda c: ("/tiles/enterprises/14/13028/6292.mvt", {}),
        LAYER,
    ),
    ("GET", "/tiles/{layer}/tilejson.json"): (
        lambda c: ("/tiles/enterprises/tilejson.json", {}),
        PUBLIC_ROUTE,
    ),
    ("GET", "/api/features/{layer}"): (lambda c: ("/api/features/enterprises", {}), LAYER),
    ("GET", "/ogc"): (lambda c: ("/ogc", {}), PUBLIC_ROUTE),
    ("GET", "/ogc/"): (lambda c: ("/ogc/", {}), PUBLIC_ROUTE),
    ("GET", "/ogc/conformance"): (lambda c: ("/ogc/conformance", {}), PUBLIC_ROUTE),
    ("GET", "/ogc/collections"): (lambda c: ("/ogc/collections", {}), PUBLIC_ROUTE),
    ("GET", "/ogc/collections/{collection_id}"): (
        lambda c: ("/ogc/collections/enterprises", {}),
        PUBLIC_ROUTE,
    ),
    ("GET", "/ogc/collections/{collection_id}/items"): (
        lambda c: ("/ogc/collections/enterprises/items", {}),
        LAYER,
    ),
    ("GET", "/ogc/collections/{collection_id}/items/{feature_id}"): (
        lambda c: (f"/ogc/collections/enterprises/items/{c.enterprise_id}", {}),
        LAYER,
    ),
    ("GET", "/api/map/view"): (lambda c: ("/api/map/view?code=640100", {}), PUBLIC_ROUTE),
    ("GET", "/api/map/enterprises/{id}"): (
        lambda c: (f"/api/map/enterprises/{c.enterprise_id}", {}),
        ITEM["enterprises"],
    ),
    ("GET", "/api/map/country"): (lambda c: ("/api/map/country", {}), PUBLIC_ROUTE),
    ("GET", "/api/map/trend"): (
        lambda c: ("/api/map/trend?from=2026-01-01&to=2026-12-31", {}),
        PUBLIC_ROUTE,
    ),
    ("GET", "/api/map/sectors"): (lambda c: ("/api/map/sectors", {}), PUBLIC_ROUTE),
    ("GET", "/api/search"): (lambda c: ("/api/search?q=测试", {}), PUBLIC_ROUTE),
    ("GET", "/api/heat"): (lambda c: ("/api/heat?bbox=105,37,108,40&zoom=8", {}), LAYER),
    ("GET", "/api/nearby"): (
        lambda c: ("/api/nearby?lon=106.28&lat=38.47", {}),
        _expect(OK, public=401),
    ),
    ("GET", "/api/emergency/nearest"): (
        lambda c: ("/api/emergency/nearest?lon=106.28&lat=38.47", {}),
        _expect(OK, public=401, enterprise=403),
    ),
    ("GET", "/api/risk/compare"): (
        lambda c: ("/api/risk/compare?from=2026-01-01&to=2026-12-31&region=640000", {}),
        PUBLIC_ROUTE,
    ),
    ("GET", "/api/map/counts"): (
        lambda c: ("/api/map/counts?code=640100&level=red,orange&sector=危险化学品", {}),
        PUBLIC_ROUTE,
    ),
    ("GET", "/api/map/cartography"): (lambda c: ("/api/map/cartography", {}), PUBLIC_ROUTE),
    ("GET", "/api/exports/print.pdf"): (
        lambda c: ("/api/exports/print.pdf?code=640104&paper=A4", {}),
        PUBLIC_ROUTE,
    ),
    ("GET", "/api/exports/regions/{code}.html"): (
        lambda c: ("/api/exports/regions/640104.html", {}),
        PUBLIC_ROUTE,
    ),
    ("GET", "/api/hidden-dangers"): (lambda c: ("/api/hidden-dangers", {}), DANGER_LISTS),
    ("POST", "/api/hidden-dangers"): (
        lambda c: (
            "/api/hidden-dangers",
            {"json": {"enterprise_id": c.enterprise_id, "title": "矩阵隐患"}},
        ),
        _expect(403, public=401, admin=OK, official=OK, enterprise=OK, warden=OK),
    ),
    ("GET", "/api/hidden-dangers/{id}"): (lambda c: (_danger(c), {}), DANGER_READERS),
    ("GET", "/api/hidden-dangers/{id}/history"): (
        lambda c: (f"{_danger(c)}/history", {}),
        DANGER_READERS,
    ),
    # Registering is an official's step; wardens and enterprises see the danger but not this.
    ("POST", "/api/hidden-dangers/{id}/transitions"): (
        lambda c: (f"{_danger(c)}/transitions", {"json": {"action": "register"}}),
        _expect(403, public=404, planner=404, admin=OK, official=OK),
    ),
    ("POST", "/api/hidden-dangers/{id}/evidence"): (
        lambda c: (f"{_danger(c)}/evidence", {"files": {"file": ("p.png", PNG, "image/png")}}),
        _expect(403, public=404, planner=404, admin=OK, official=OK, enterprise=OK, warden=OK),
    ),
    ("GET", "/api/hidden-dangers/{id}/evidence/{sha256}"): (
        lambda c: (_photo(c), {}),
        DANGER_READERS,
    ),
    ("GET", "/api/hidden-dangers/inbox"): (lambda c: ("/api/hidden-dangers/inbox", {}), OFFICIALS),
    ("POST", "/api/hidden-dangers/escalations"): (
        lambda c: ("/api/hidden-dangers/escalations", {}),
        OFFICIALS,
    ),
    # A spot check: the officials' kind (enterprises self-check, wardens check grid cells).
    ("POST", "/api/inspections"): (
        lambda c: (
            "/api/inspections",
            {
                "json": {
                    "enterprise_id": c.enterprise_id,
                    "kind": "spot_check",
                    "checklist": [{"item": "消防通道", "ok": True}],
                }
            },
        ),
        OFFICIALS,
    ),
    ("GET", "/api/inspections"): (lambda c: ("/api/inspections", {}), DANGER_LISTS),
    # Leads (issue 13): wardens report in their cells, officials of the region decide.
    ("GET", "/api/leads"): (
        lambda c: ("/api/leads", {}),
        _expect(403, public=401, admin=OK, official=OK, warden=OK),
    ),
    ("POST", "/api/leads"): (
        lambda c: ("/api/leads", {"json": _lead_body()}),
        _expect(403, public=401, admin=OK, official=OK, warden=OK),
    ),
    ("GET", "/api/leads/{id}"): (
        lambda c: (_lead(c), {}),
        _expect(403, public=401, admin=OK, official=OK, warden=OK),
    ),
    ("POST", "/api/leads/{id}/decision"): (
        lambda c: (f"{_lead(c)}/decision", {"json": {"action": "confirm"}}),
        _expect(403, public=401, admin=OK, official=OK),
    ),
    ("GET", "/m"): (lambda c: ("/m", {}), PUBLIC_ROUTE),
    ("GET", "/m/sw.js"): (lambda c: ("/m/sw.js", {}), PUBLIC_ROUTE),
    ("GET", "/m/manifest.webmanifest"): (lambda c: ("/m/manifest.webmanifest", {}), PUBLIC_ROUTE),
    ("GET", "/report"): (lambda c: ("/report", {}), PUBLIC_ROUTE),
    ("POST", "/api/tipoffs"): (
        lambda c: ("/api/tipoffs", {"json": {**_lead_body(), "kind": "illegal_operation"}}),
        PUBLIC_ROUTE,
    ),
    ("GET", "/api/inspections/overdue"): (lambda c: ("/api/inspections/overdue", {}), DANGER_LISTS),
    **PLANNING,
    **ISSUE_15,
}


# Issue 12: the major-danger map, spot-check draws and the key-supervision list.


def _draw(c: Context) -> str:
    """A spot-check draw of 银川市 made by the admin (the test enterprise graded first; the
    two officials of 银川市 are the inspector pool): its URL."""
    c.fresh("risk_points")
    response = c.admin.post(
        "/api/spot-checks/draws", json={"region": "640100", "period": "2026-11", "seed": "m"}
    )
    assert response.status_code == 201, response.text
    return f"/api/spot-checks/draws/{response.json()['id']}"


def _new_draw(c: Context) -> tuple[str, dict[str, Any]]:
    c.fresh("risk_points")  # grades the test enterprise: the draw has a target
    return "/api/spot-checks/draws", {"json": {"region": "640100", "period": "2026-Q4"}}


def _key_list(c: Context) -> tuple[str, dict[str, Any]]:
    units = [{"code": "640104"}, {"code": "640105"}]
    body = {"region": "640100", "year": 2026, "units": units, "enterprises": []}
    return "/api/key-supervision", {"json": body}


MATRIX.update(
    {
        ("GET", "/api/hidden-dangers/lifecycle"): (
            lambda c: ("/api/hidden-dangers/lifecycle", {}),
            PUBLIC_ROUTE,
        ),
        ("GET", "/api/hidden-dangers/map"): (
            lambda c: ("/api/hidden-dangers/map?bbox=105,37,108,40", {}),
            DANGER_LISTS,
        ),
        ("POST", "/api/spot-checks/draws"): (_new_draw, OFFICIALS),
        ("GET", "/api/spot-checks/draws"): (lambda c: ("/api/spot-checks/draws", {}), OFFICIALS),
        ("GET", "/api/spot-checks/draws/{id}"): (lambda c: (_draw(c), {}), OFFICIALS),
        ("GET", "/api/spot-checks/draws/{id}/xlsx"): (
            lambda c: (f"{_draw(c)}/xlsx", {}),
            OFFICIALS,
        ),
        ("GET", "/api/spot-checks/draws/{id}/public"): (
            lambda c: (f"{_draw(c)}/public", {}),
            PUBLIC_ROUTE,
        ),
        ("GET", "/api/spot-checks/draws/{id}/public/xlsx"): (
            lambda c: (f"{_draw(c)}/public/xlsx", {}),
            PUBLIC_ROUTE,
        ),
        ("GET", "/api/key-supervision"): (
            lambda c: ("/api/key-supervision?region=640100", {}),
            OFFICIALS,
        ),
        ("PUT", "/api/key-supervision"): (_key_list, OFFICIALS),
    }
)


def _operations() -> set[tuple[str, str]]:
    """Every (method, path) the app routes, included routers flattened."""
    found: set[tuple[str, str]] = set()

    def visit(routes: Any) -> None:
        for route in routes:
            if hasattr(route, "effective_route_contexts"):
                for context in route.effective_route_contexts():
                    found.update((m, context.path) for m in context.methods)
            elif getattr(route, "include_in_schema", False) or getattr(route, "path", None) == "/":
                found.update((m, route.path) for m in route.methods if m != "HEAD")

    visit(create_app().router.routes)
    return {(method, path) for method, path in found if method != "HEAD"}


def test_every_route_is_classified() -> None:
    operations = _operations()
    assert operations - MATRIX.keys() == set(), "classify these routes in MATRIX"
    assert MATRIX.keys() - operations == set(), "MATRIX names routes that do not exist"


@pytest.fixture
def context(client: TestClient, make_user, session: Session) -> Iterator[Context]:
    enterprise = client.post("/api/enterprises", json=enterprise_payload()).json()
    session.execute(
        text(
            "INSERT INTO grid_cells (code, name, county_code, geom, source) "
            "SELECT '640104-M1', '矩阵网格', '640104', geom, 'imported' "
            "FROM regions WHERE code = '640104'"
        )
    )
    session.commit()
    users = {
        "public": PUBLIC,
        "admin": make_user("admin", username="matrix-admin"),
        "official": make_user("official", region_code="640100"),
        "planner": make_user("planner", region_code="640000"),
        "warden": make_user("warden", grid_cells=["640104-M1"]),
        "enterprise": make_user("enterprise", enterprise_id=enterprise["id"]),
    }
    # A second official of 银川市: a spot-check draw needs two inspectors per target.
    make_user("official", region_code="640100")
    pair = client.post(
        "/api/auth/token",
        headers=PUBLIC,
        data={"username": "matrix-admin", "password": TEST_PASSWORD},
    ).json()
    admin_id = session.execute(text("SELECT id FROM users WHERE username = 'matrix-admin'"))
    yield Context(
        client,
        enterprise["id"],
        users,
        {"refresh": pair["refresh_token"], "admin_id": str(admin_id.scalar_one())},
    )


@pytest.fixture(autouse=True)
def _tipoffs_unlimited(monkeypatch: pytest.MonkeyPatch) -> None:
    # The probes send one tip-off per role, all from the test client's one address.
    monkeypatch.setattr(leads_service, "TIPOFFS_PER_HOUR", 1000)


@pytest.mark.parametrize(
    ("method", "path"), sorted(MATRIX), ids=[f"{m} {p}" for m, p in sorted(MATRIX)]
)
def test_each_role_gets_the_classified_answer(context: Context, method: str, path: str) -> None:
    probe, expected = MATRIX[(method, path)]
    wrong = []
    for role in ROLES:
        url, kwargs = probe(context)
        response = context.admin.request(method, url, headers=context.users[role], **kwargs)
        want = expected[role]
        good = 200 <= response.status_code < 300 if want == OK else response.status_code == want
        if not good:
            wrong.append(f"{role}: {response.status_code} (want {want}) {response.text[:120]}")
    assert not wrong, "\n".join(wrong)
