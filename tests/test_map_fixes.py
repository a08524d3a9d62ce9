"""Map fixes found in use: search by part of a credit code and by hazardous substance, no
duplicate regions; counts under the colour and sector filters."""

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from tests.factories import enterprise_payload, lec_point


def test_search_finds_part_of_a_credit_code_and_a_substance(
    client: TestClient, session: Session
) -> None:
    enterprise = client.post("/api/enterprises", json=enterprise_payload()).json()
    session.execute(
        text("""
        INSERT INTO hazard_sources (enterprise_id, name, unit_type, substances, grade, geom)
        SELECT id, '氯气储罐区', 'storage', '[{"name": "液氯", "cas": "7782-50-5", "q": 60}]',
               2, geom FROM enterprises WHERE id = :id
    """),
        {"id": enterprise["id"]},
    )
    middle = enterprise["credit_code"][8:14]
    hits = client.get("/api/search", params={"q": middle}).json()["items"]
    assert enterprise["id"] in [i.get("id") for i in hits]
    by_substance = client.get("/api/search", params={"q": "液氯"}).json()["items"]
    hit = next(i for i in by_substance if i.get("id") == enterprise["id"])
    assert hit["substance"] == "液氯"


def test_search_has_no_duplicate_regions(client: TestClient) -> None:
    for q in ("北京", "上海市", "重庆"):
        items = client.get("/api/search", params={"q": q, "limit": 50}).json()["items"]
        names = [(i["name"], i["context"]) for i in items if i["type"] == "region"]
        assert len(names) == len(set(names)), q
        assert len({i["code"] for i in items if i["type"] == "region"}) == len(names)
    top = client.get("/api/search", params={"q": "北京市"}).json()["items"]
    assert [i["code"] for i in top if i["name"] == "北京市"] == ["110000"]


def test_counts_follow_colour_and_sector_filters(client: TestClient) -> None:
    chemical = client.post("/api/enterprises", json=enterprise_payload()).json()
    mine = client.post("/api/enterprises", json=enterprise_payload(sector="非煤矿山")).json()
    client.post("/api/risk-points", json=lec_point(chemical["id"], 6, 6, 15))  # red
    client.post("/api/risk-points", json=lec_point(mine["id"], 1, 1, 7))  # blue
    everything = client.get("/api/map/counts", params={"code": "640100"}).json()
    assert everything["risk_points"] == {"red": 1, "orange": 0, "yellow": 0, "blue": 1}
    red = client.get("/api/map/counts", params={"code": "640100", "level": "red"}).json()
    assert red["risk_points"]["blue"] == 0 and red["risk_points"]["red"] == 1
    mines = client.get("/api/map/counts", params={"code": "640100", "sector": "非煤矿山"}).json()
    assert mines["risk_points"] == {"red": 0, "orange": 0, "yellow": 0, "blue": 1}
    assert mines["enterprises"]["blue"] == 1 and mines["public_zones"] is None
    assert client.get("/api/map/counts", params={"level": "pink"}).status_code == 422
