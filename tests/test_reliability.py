"""Issue 9: acknowledged writes are stored, and no client input gives a 5xx."""

import json
import math
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import db
from app.auth import tokens
from app.auth.models import User
from app.main import create_app
from app.reports import search as search_service
from tests.factories import XINGQING, enterprise_payload, lec_point

NINGXIA_ITEMS = "/ogc/collections/enterprises/items"


def _assert_error_body(response, status: int, field: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert isinstance(body["detail"], str)
    assert body["request_id"] == response.headers["x-request-id"]
    if field is not None:
        assert body["field"] == field
    for leak in ("SELECT", "INSERT", "Traceback", "psycopg", "DETAIL:", "Key ("):
        assert leak not in response.text
    return body


# The seven inputs that gave 500, and the limits around them.


def test_nul_byte_in_a_query_parameter_is_refused(client: TestClient) -> None:
    _assert_error_body(client.get("/api/search?q=%00"), 422, "q")


def test_offset_beyond_64_bits_is_refused(client: TestClient) -> None:
    _assert_error_body(client.get("/api/enterprises?offset=9223372036854775808"), 422, "offset")
    _assert_error_body(client.get(f"{NINGXIA_ITEMS}?offset=9223372036854775808"), 422, "offset")


def test_null_for_a_required_field_in_patch_is_refused(client: TestClient) -> None:
    point = client.post("/api/risk-points", json=lec_point(None, 3, 6, 15)).json()
    _assert_error_body(
        client.patch(f"/api/risk-points/{point['id']}", json={"inputs": None}), 422, "inputs"
    )
    _assert_error_body(
        client.patch(f"/api/risk-points/{point['id']}", json={"name": None}), 422, "name"
    )
    assert client.get(f"/api/risk-points/{point['id']}").json()["inputs"] == {
        "l": 3,
        "e": 6,
        "c": 15,
    }


def test_ogc_interval_with_one_zone_less_end_is_read_as_china_time(client: TestClient) -> None:
    created = client.post("/api/enterprises", json=enterprise_payload()).json()
    response = client.get(
        NINGXIA_ITEMS, params={"datetime": "2000-01-01T00:00:00Z/2999-01-01T00:00:00"}
    )
    assert response.status_code == 200, response.text
    assert created["id"] in [f["id"] for f in response.json()["features"]]
    response = client.get("/api/enterprises", params={"updated_since": "2999-01-01T00:00:00"})
    assert response.json()["total"] == 0


def test_three_dimensional_point_keeps_longitude_and_latitude(client: TestClient) -> None:
    body = enterprise_payload(
        lon=None, lat=None, geometry={"type": "Point", "coordinates": [*XINGQING, 1200.0]}
    )
    response = client.post("/api/enterprises", json=body)
    assert response.status_code == 201, response.text
    assert response.json()["geometry"]["coordinates"] == list(XINGQING)


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_numbers_are_refused_naming_the_field(client: TestClient, constant: str) -> None:
    raw = (
        '{"name": "x", "method": "lec", "lon": 106.28, "lat": 38.47,'
        f' "inputs": {{"l": {constant}, "e": 6, "c": 15}}}}'
    )
    response = client.post(
        "/api/risk-points", content=raw, headers={"content-type": "application/json"}
    )
    _assert_error_body(response, 422, "inputs.l")


def test_deeply_nested_json_is_refused(client: TestClient) -> None:
    raw = '{"inputs": ' + "[" * 900 + "]" * 900 + "}"
    _assert_error_body(client.post("/api/risk-points", content=raw), 422, "body")


def test_nul_inside_a_json_string_is_refused(client: TestClient) -> None:
    _assert_error_body(
        client.post("/api/enterprises", json=enterprise_payload(name="a\x00b")), 422, "name"
    )


def test_body_over_the_limit_is_refused_with_413(client: TestClient) -> None:
    huge = enterprise_payload(address="x" * (3 * 1024 * 1024))
    _assert_error_body(client.post("/api/enterprises", json=huge), 413, "body")
    assert client.get("/api/enterprises").json()["total"] == 0


def test_geometry_with_too_many_vertices_is_refused(client: TestClient) -> None:
    ring = [
        [
            106.28 + 0.01 * math.cos(2 * math.pi * i / 20_000),
            38.47 + 0.01 * math.sin(2 * math.pi * i / 20_000),
        ]
        for i in range(20_000)
    ]
    ring.append(ring[0])
    zone = {
        "name": "广场",
        "kind": "square",
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }
    _assert_error_body(client.post("/api/public-zones", json=zone), 422, "geometry")


def test_long_text_is_refused_naming_the_field(client: TestClient) -> None:
    point = {**lec_point(None, 3, 6, 15), "control_measures": "措" * 5000}
    _assert_error_body(client.post("/api/risk-points", json=point), 422, "control_measures")


def test_absurd_quantity_is_refused(client: TestClient) -> None:
    body = {"substances": [{"cas": "7664-41-7", "quantity_t": 1e308}], "exposed_people": 10}
    _assert_error_body(
        client.post("/api/hazard-sources/assess", json=body), 422, "substances[0].quantity_t"
    )


def test_full_detail_region_outlines_come_in_small_pages(client: TestClient) -> None:
    response = client.get(
        "/api/features/regions", params={"limit": 10000, "detail": "full", "parent": "640000"}
    )
    page = response.json()
    assert page["numberReturned"] <= 10
    assert page["numberMatched"] == 5  # Ningxia's five cities
    coarse = client.get(
        "/api/features/regions", params={"limit": 10000, "detail": "coarse", "parent": "640000"}
    ).json()
    assert coarse["numberReturned"] == 5


# Honest errors.


def test_duplicate_key_conflict_carries_no_row_data(client: TestClient) -> None:
    first = enterprise_payload()
    assert client.post("/api/enterprises", json=first).status_code == 201
    again = {**enterprise_payload(), "credit_code": first["credit_code"]}
    body = _assert_error_body(client.post("/api/enterprises", json=again), 409)
    assert first["credit_code"] not in json.dumps(body)


def test_unexpected_error_is_json_with_a_request_id(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(search_service, "search", broken)
    response = client.get("/api/search?q=abc", headers={"X-Request-ID": "trace-me-1"})
    body = _assert_error_body(response, 500)
    assert body["request_id"] == "trace-me-1"
    assert "secret internals" not in response.text


def test_openapi_documents_the_error_body(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    operation = spec["paths"]["/api/enterprises"]["post"]
    for status in ("404", "409", "413", "422", "503"):
        schema = operation["responses"][status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorBody"}
    detail = spec["components"]["schemas"]["ErrorBody"]["properties"]["detail"]
    assert detail["type"] == "string"


def test_health_distinguishes_live_from_ready(client: TestClient) -> None:
    assert client.get("/api/health/live").json() == {"status": "ok"}
    ready = client.get("/api/health/ready").json()
    assert ready["database"] == "ok" and ready["postgis"]


# Acknowledged = stored.


class _CheckCommittedOnResponse:
    """Records, as the response starts, what another connection sees of the table."""

    def __init__(self, app: ASGIApp, engine: Engine, name: str) -> None:
        self.app, self.engine, self.name = app, engine, name
        self.seen_at_response: list[int] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def check_then_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                with self.engine.connect() as other:
                    self.seen_at_response.append(
                        other.execute(
                            text("SELECT count(*) FROM enterprises WHERE name = :n"),
                            {"n": self.name},
                        ).scalar_one()
                    )
            await send(message)

        await self.app(scope, receive, check_then_send)


@pytest.fixture
def committing_app(
    engine: Engine,
    password_hash: str,
) -> Iterator[tuple[TestClient, _CheckCommittedOnResponse]]:
    """The API on the test database with real commits; its rows are deleted afterwards."""
    factory = sessionmaker(engine, expire_on_commit=False)

    async def real_session() -> AsyncIterator[Session]:
        async for session in db.session_scope(factory()):
            yield session

    app = create_app()
    app.dependency_overrides[db.get_session] = real_session
    watcher = _CheckCommittedOnResponse(app, engine, "提交检查有限公司")
    with factory() as setup, setup.begin():
        admin = User(
            username=f"commit-check-{uuid.uuid4().hex[:8]}",
            role="admin",
            password_hash=password_hash,
        )
        setup.add(admin)
    token, _ = tokens.issue(admin.id, 0, "access")
    try:
        with TestClient(watcher, raise_server_exceptions=False) as client:
            client.headers["Authorization"] = f"Bearer {token}"
            yield client, watcher
    finally:
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM enterprises WHERE name = :n"), {"n": watcher.name})
            connection.execute(text("DELETE FROM users WHERE id = :id"), {"id": admin.id})


def test_a_201_is_committed_before_the_response_starts(committing_app) -> None:
    client, watcher = committing_app
    response = client.post("/api/enterprises", json=enterprise_payload(name=watcher.name))
    assert response.status_code == 201
    assert watcher.seen_at_response == [1]
    assert client.get(f"/api/enterprises/{response.json()['id']}").status_code == 200


def test_file_uploads_have_their_own_larger_limit(client: TestClient) -> None:
    three_mb = {"file": ("photo.png", b"\x89PNG" + b"0" * 3 * 1024 * 1024, "image/png")}
    # Past the 2 MB body limit, inside the upload limit: the endpoint itself answers.
    assert client.post("/api/enterprises", files=three_mb).status_code == 422
    seven_mb = {"file": ("photo.png", b"\x89PNG" + b"0" * 7 * 1024 * 1024, "image/png")}
    _assert_error_body(client.post("/api/enterprises", files=seven_mb), 413, "body")


@pytest.mark.parametrize(
    ("geometry", "says"),
    [
        # GEOS's GeoJSON reader would say "ParseException: … json.exception.type_error …".
        ({"type": "Polygon", "coordinates": "abc"}, "RFC 7946"),
        # An empty geometry is "valid" to GEOS ("Valid Geometry"): say it is empty.
        ({"type": "Polygon", "coordinates": []}, "no coordinates"),
    ],
)
def test_geometry_refusals_speak_of_the_input_not_the_parser(
    client: TestClient, geometry: dict, says: str
) -> None:
    zone = {"name": "广场", "kind": "square", "geometry": geometry}
    body = _assert_error_body(client.post("/api/public-zones", json=zone), 422, "geometry")
    assert says in body["detail"]
    for internal in ("Exception", "json.exception", "Valid Geometry"):
        assert internal not in body["detail"]
