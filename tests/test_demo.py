"""The Ningxia demo generator: valid, located where it claims, clustered, deterministic."""

from datetime import date, datetime, time, timedelta, timezone
from itertools import pairwise

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from app import cli
from app.auth.scope import Scope
from app.dangers import rules
from app.datetimes import china_today
from app.inspections import service as inspections
from app.risk import grading
from app.risk.gb18218 import assess_hazard_source
from app.risk.methods import LEVELS, assess_lec, assess_ls, ruleset_version
from app.settings import get_settings
from app.sites.credit_code import is_valid_credit_code
from app.sites.demo import generate_demo, plan_demo, substance_inputs
from app.spotchecks import draw
from app.spotchecks import service as spot_checks

AS_OF = date(2024, 6, 1)
NINGXIA = "640000"
NINGDONG = (106.6, 38.1)
TABLES = (
    "enterprises",
    "hazard_sources",
    "risk_points",
    "hidden_dangers",
    "public_zones",
    "emergency_resources",
)


def _max_ids(session) -> dict[str, int]:
    return {
        t: session.execute(text(f"SELECT coalesce(max(id), 0) FROM {t}")).scalar_one()
        for t in TABLES
    }


@pytest.fixture
def demo(session):
    """Generate 300 enterprises; yields (counts, {table: id above which the rows are new})."""
    before = _max_ids(session)
    counts = generate_demo(session, seed=42, enterprises=300, as_of=AS_OF)
    return counts, before


def _rows(session, table: str, before: dict[str, int], columns: str = "*"):
    return (
        session.execute(
            text(f"SELECT {columns} FROM {table} WHERE id > :id ORDER BY id"), {"id": before[table]}
        )
        .mappings()
        .all()
    )


def test_counts_match_the_tables(session, demo):
    counts, before = demo
    for table in TABLES:
        n = session.execute(
            text(f"SELECT count(*) FROM {table} WHERE id > :id"), {"id": before[table]}
        ).scalar_one()
        assert counts[table] == n, table
    assert counts["enterprises"] == 300
    assert counts["risk_points"] >= 300
    assert counts["hazard_sources"] >= 5
    assert counts["hidden_dangers"] >= 10


def test_credit_codes_are_valid_and_unique(session, demo):
    _, before = demo
    rows = _rows(session, "enterprises", before, "credit_code, county_code")
    codes = [r["credit_code"] for r in rows]
    assert len(set(codes)) == len(codes) == 300
    for r in rows:
        assert is_valid_credit_code(r["credit_code"])
        assert r["credit_code"][2:8] == r["county_code"]


def test_every_row_lies_in_its_ningxia_county(session, demo):
    _, before = demo
    for table in TABLES:
        bad = session.execute(
            text(f"""
            SELECT count(*) FROM {table} t JOIN regions r ON r.code = t.county_code
             WHERE t.id > :id
               AND (r.province_code <> :p OR NOT r.is_leaf
                    OR NOT ST_Intersects(r.geom, CASE WHEN GeometryType(t.geom) = 'POINT'
                                                 THEN t.geom ELSE ST_PointOnSurface(t.geom) END))
        """),
            {"id": before[table], "p": NINGXIA},
        ).scalar_one()
        assert bad == 0, table
    # The address names the county the point is in.
    rows = session.execute(
        text("""
        SELECT e.address, r.name FROM enterprises e JOIN regions r ON r.code = e.county_code
         WHERE e.id > :id"""),
        {"id": before["enterprises"]},
    ).all()
    assert all(county in address for address, county in rows)


def test_all_22_counties_have_enterprises(session, demo):
    _, before = demo
    counties = {r["county_code"] for r in _rows(session, "enterprises", before, "county_code")}
    leaves = session.execute(
        text("SELECT count(*) FROM regions WHERE province_code = :p AND is_leaf"), {"p": NINGXIA}
    ).scalar_one()
    assert leaves == 22
    assert len(counties) == 22


def test_sectors_and_enterprise_fields(session, demo):
    _, before = demo
    rows = _rows(session, "enterprises", before)
    sectors = {r["sector"] for r in rows}
    assert len(sectors) >= 8
    assert {"危险化学品", "建筑施工", "道路运输", "工贸"} <= sectors
    assert len({r["name"] for r in rows}) == len(rows)
    for r in rows:
        assert r["name"].endswith("公司")
        assert r["employees"] > 0
        assert r["responsible_person"] and r["government_person"]
        assert r["responsible_phone"].isdigit() and len(r["responsible_phone"]) == 11
        assert r["risk_level"] is None and r["level_basis"] is None


def test_chemical_enterprises_cluster_in_parks(session, demo):
    _, before = demo
    share, in_parks = session.execute(
        text("""
        SELECT avg(ST_DWithin(geom::geography, ST_MakePoint(:x, :y)::geography, 10000)::int),
               avg((park IS NOT NULL)::int)
          FROM enterprises WHERE id > :id AND sector = '危险化学品'
    """),
        {"id": before["enterprises"], "x": NINGDONG[0], "y": NINGDONG[1]},
    ).one()
    assert share >= 0.25
    assert in_parks >= 0.5
    # Footprints: only chemical enterprises in parks, a few hundred metres, around the point.
    bad = session.execute(
        text("""
        SELECT count(*) FROM enterprises WHERE id > :id AND footprint IS NOT NULL
           AND (sector <> '危险化学品' OR park IS NULL OR NOT ST_Contains(footprint, geom)
                OR sqrt(ST_Area(footprint::geography)) NOT BETWEEN 150 AND 650)
    """),
        {"id": before["enterprises"]},
    ).scalar_one()
    assert bad == 0


def test_hazard_sources_resolve_by_gb18218(session, demo):
    _, before = demo
    rows = _rows(session, "hazard_sources", before)
    assert rows
    for r in rows:
        assert r["unit_type"] in ("production", "storage")
        assessment = assess_hazard_source(substance_inputs(r["substances"]), 0)
        assert assessment.is_major, r["substances"]
        for s in r["substances"]:
            assert set(s) == {"cas", "name", "category", "quantity_t"}
        assert (
            r["s_value"],
            r["r_value"],
            r["alpha"],
            r["exposed_people"],
            r["grade"],
            r["risk_level"],
        ) == (None,) * 6
    # Inside a chemical enterprise's footprint.
    bad = session.execute(
        text("""
        SELECT count(*) FROM hazard_sources h JOIN enterprises e ON e.id = h.enterprise_id
         WHERE h.id > :id AND (e.sector <> '危险化学品' OR h.county_code <> e.county_code
                               OR (e.footprint IS NOT NULL AND NOT ST_Contains(e.footprint, h.geom)))
    """),
        {"id": before["hazard_sources"]},
    ).scalar_one()
    assert bad == 0


def test_risk_points_are_graded_by_the_methods(session, demo):
    _, before = demo
    rows = _rows(session, "risk_points", before)
    per_enterprise: dict[int, int] = {}
    levels: dict[str, int] = {}
    for r in rows:
        per_enterprise[r["enterprise_id"]] = per_enterprise.get(r["enterprise_id"], 0) + 1
        inputs = r["inputs"]
        if r["method"] == "lec":
            res = assess_lec(inputs["l"], inputs["e"], inputs["c"])
            assert (r["score"], r["risk_level"]) == (res.d, res.level)
        else:
            assert r["method"] == "ls"
            res_ls = assess_ls(inputs["l"], inputs["s"])
            assert (r["score"], r["risk_level"]) == (res_ls.r, res_ls.level)
        levels[r["risk_level"]] = levels.get(r["risk_level"], 0) + 1
    assert len(per_enterprise) == 300
    assert all(1 <= n <= 5 for n in per_enterprise.values())
    # Skewed: blue and yellow dominate, red is rare but present.
    assert levels["blue"] + levels["yellow"] > 0.6 * len(rows)
    assert 0 < levels["red"] < levels["orange"] < levels["yellow"]
    same_county = session.execute(
        text("""
        SELECT count(*) FROM risk_points p JOIN enterprises e ON e.id = p.enterprise_id
         WHERE p.id > :id AND p.county_code <> e.county_code"""),
        {"id": before["risk_points"]},
    ).scalar_one()
    assert same_county == 0


def test_severe_sectors_grade_higher(session):
    before = _max_ids(session)
    generate_demo(session, seed=7, enterprises=1500, as_of=AS_OF)
    share = dict(
        session.execute(
            text("""
        SELECT e.sector IN ('危险化学品', '非煤矿山', '烟花爆竹'),
               avg((p.risk_level IN ('red', 'orange'))::int)
          FROM risk_points p JOIN enterprises e ON e.id = p.enterprise_id
         WHERE p.id > :id GROUP BY 1"""),
            {"id": before["risk_points"]},
        ).all()
    )
    assert share[True] > share[False]


def test_public_zones_and_emergency_resources(session, demo):
    _, before = demo
    zones = (
        session.execute(
            text("""
        SELECT kind, GeometryType(geom) AS type, population, risk_level, managing_department
          FROM public_zones WHERE id > :id"""),
            {"id": before["public_zones"]},
        )
        .mappings()
        .all()
    )
    kinds = {z["kind"] for z in zones}
    assert kinds == {
        "school",
        "hospital",
        "market",
        "station",
        "residential",
        "gas_pipeline",
        "village",
    }
    for z in zones:
        assert z["risk_level"] in ("red", "orange", "yellow", "blue")
        assert z["managing_department"]
        if z["kind"] == "residential":
            assert z["type"] == "POLYGON" and 500 <= z["population"] <= 8000
        elif z["kind"] == "gas_pipeline":
            assert z["type"] == "LINESTRING"
        elif z["kind"] == "village":
            assert z["type"] == "POINT" and 3 <= z["population"] <= 450
        else:
            assert z["type"] == "POINT" and z["population"] > 0
    low = sum(z["risk_level"] in ("blue", "yellow") for z in zones)
    assert low > 0.7 * len(zones)
    length = session.execute(
        text("""
        SELECT min(ST_Length(geom::geography)), max(ST_Length(geom::geography))
          FROM public_zones WHERE id > :id AND kind = 'gas_pipeline'"""),
        {"id": before["public_zones"]},
    ).one()
    assert 1000 < length[0] and length[1] < 10000
    resources = _rows(session, "emergency_resources", before)
    assert {r["kind"] for r in resources} == {
        "fire_station",
        "rescue_team",
        "materials_depot",
        "hospital",
    }
    assert all(r["contact_person"] and r["contact_phone"] for r in resources)


def test_hidden_dangers(session, demo):
    _, before = demo
    rows = _rows(session, "hidden_dangers", before)
    assert {r["grade"] for r in rows} == {"general", "major"}
    assert sum(r["grade"] == "major" for r in rows) < sum(r["grade"] == "general" for r in rows)
    assert len({r["status"] for r in rows}) >= 3
    end = datetime.combine(AS_OF, time(23, 59), timezone(timedelta(hours=8)))
    for r in rows:
        assert r["title"] and r["enterprise_id"]
        assert r["found_at"] <= end
        assert (r["closed_at"] is not None) == (r["status"] == "closed")
        if r["closed_at"] is not None:
            assert r["found_at"] <= r["closed_at"]
    linked = session.execute(
        text("""
        SELECT count(*) FROM hidden_dangers d JOIN risk_points p ON p.id = d.risk_point_id
         WHERE d.id > :id AND p.enterprise_id <> d.enterprise_id"""),
        {"id": before["hidden_dangers"]},
    ).scalar_one()
    assert linked == 0


def test_hidden_dangers_have_their_history(session, demo):
    """Each danger's history walks legal steps from the first status to its own, in time
    order, and a supervised danger's history says at which level: the statistics and the
    timeline read it."""
    _, before = demo
    dangers = {r["id"]: r for r in _rows(session, "hidden_dangers", before)}
    events: dict[int, list] = {}
    for e in session.execute(
        text(
            "SELECT danger_id, action, from_status, to_status, at, supervision_level, county_code"
            " FROM hidden_danger_events WHERE danger_id = ANY(:ids) ORDER BY danger_id, at, id"
        ),
        {"ids": list(dangers)},
    ).mappings():
        events.setdefault(e["danger_id"], []).append(e)
    assert set(events) == set(dangers)
    legal = {(s.action, s.source, s.target) for s in rules.steps()}
    for id_, history in events.items():
        danger = dangers[id_]
        assert history[0]["action"] == "report" and history[0]["at"] == danger["found_at"]
        assert history[-1]["to_status"] == danger["status"]
        for earlier, later in pairwise(history):
            assert (later["action"], later["from_status"], later["to_status"]) in legal
            assert later["from_status"] == earlier["to_status"]
        if danger["closed_at"] is not None:
            assert history[-1]["at"] == danger["closed_at"]
        levels = {e["supervision_level"] for e in history} - {None}
        assert levels == ({danger["supervision_level"]} if danger["supervision_level"] else set())
        assert {e["county_code"] for e in history} == {danger["county_code"]}
    assert any(d["supervision_level"] for d in dangers.values())


def test_every_graded_row_has_a_grading_record(session, demo):
    _, before = demo
    grading.rebuild(session, regrade=True)  # what `riskatlas setup` does after the demo
    for table, subject in (("risk_points", "risk_point"), ("hazard_sources", "hazard_source")):
        missing = session.execute(
            text(f"""
            SELECT count(*) FROM {table} t
             WHERE t.id > :id AND t.risk_level IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM assessments a
                                WHERE a.subject_type = :subject AND a.subject_id = t.id
                                  AND a.risk_level = t.risk_level
                                  AND a.ruleset_version = :version)"""),
            {"id": before[table], "subject": subject, "version": ruleset_version()},
        ).scalar_one()
        assert missing == 0, table
    graded = session.execute(
        text("SELECT count(*) FROM hazard_sources WHERE id > :id AND grade IS NOT NULL"),
        {"id": before["hazard_sources"]},
    ).scalar_one()
    assert graded > 0


def test_colour_mix_is_realistic_and_alpha_meets_every_band(session):
    before = _max_ids(session)
    generate_demo(session, seed=5, enterprises=2000, as_of=AS_OF)
    enterprises = grading.regrade_hazard_sources(
        session,
        ids=list(
            session.scalars(
                text("SELECT id FROM hazard_sources WHERE id > :id"),
                {"id": before["hazard_sources"]},
            )
        ),
    )
    assert enterprises
    grading.refresh_enterprise_levels(
        session,
        ids=list(
            session.scalars(
                text("SELECT id FROM enterprises WHERE id > :id"), {"id": before["enterprises"]}
            )
        ),
    )
    alphas = set(
        session.scalars(
            text("SELECT DISTINCT alpha FROM hazard_sources WHERE id > :id"),
            {"id": before["hazard_sources"]},
        )
    )
    assert alphas == {0.5, 1.0, 1.2, 1.5, 2.0}
    share = dict(
        session.execute(
            text("""
            SELECT coalesce(risk_level, 'none'), count(*)::float / sum(count(*)) OVER ()
              FROM enterprises WHERE id > :id GROUP BY 1"""),
            {"id": before["enterprises"]},
        ).all()
    )
    # A few per cent red (重大), more orange, most yellow and blue.
    assert 0.01 <= share["red"] <= 0.06, share
    assert share["red"] < share["orange"] < 0.25, share
    assert share["yellow"] + share["blue"] > 0.7, share


def test_plan_is_deterministic(session):
    a = plan_demo(session, seed=11, enterprises=200, as_of=AS_OF)
    b = plan_demo(session, seed=11, enterprises=200, as_of=AS_OF)
    c = plan_demo(session, seed=12, enterprises=200, as_of=AS_OF)
    assert a == b
    key = [(e["name"], e["credit_code"], e["geom"]) for e in a.enterprises]
    assert key == [(e["name"], e["credit_code"], e["geom"]) for e in b.enterprises]
    assert key != [(e["name"], e["credit_code"], e["geom"]) for e in c.enterprises]
    assert [e["credit_code"] for e in a.enterprises] != [e["credit_code"] for e in c.enterprises]


def test_plan_writes_nothing(session):
    before = _max_ids(session)
    plan_demo(session, seed=3, enterprises=50, as_of=AS_OF)
    assert _max_ids(session) == before


@pytest.fixture
def demo_set_up(session, connection, demo, monkeypatch, capsys):
    """The small demo as `riskatlas setup` finishes it: graded, gridded, its accounts
    made, its activity (inspection history, today's daily run) written — through the
    set-up's own functions, on the test's transaction."""
    grading.rebuild(session, regrade=True)
    session.flush()
    monkeypatch.setattr(
        cli,
        "_owner_session",
        lambda: Session(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        ),
    )
    cli._demo_accounts(get_settings())
    cli._demo_activity(42)
    return capsys.readouterr().out


def test_the_demo_has_named_inspectors_and_wardens(session, demo_set_up):
    """3 named inspectors per county and city with enterprises: a draw in any of them has
    two per target, none short, and publishes names, not logins; every demo county is
    gridded, each cell named after its warden."""
    assert "inspector-<region>-<n>" in demo_set_up
    inspectors = session.execute(
        text(
            "SELECT username, display_name, region_code FROM users WHERE username LIKE 'inspector-%'"
        )
    ).all()
    counties = set(session.scalars(text("SELECT DISTINCT county_code FROM enterprises")))
    assert counties <= {r.region_code for r in inspectors}
    assert {"640100", "640200", "640300", "640400", "640500"} <= {r.region_code for r in inspectors}
    people = (
        session.execute(
            text(
                "SELECT display_name FROM users WHERE username IN"
                " ('nx-official', 'yc-official', 'ld-official', 'nx-planner')"
                " OR username LIKE 'inspector-%' OR username LIKE 'warden-%'"
            )
        )
        .scalars()
        .all()
    )
    assert all(people) and len(set(people)) == len(people)
    admin = Scope(role="admin", username="test", write_prefix="")
    for region in ("640181", "640104", "640100", "640000"):
        pools = spot_checks.build_pools(session, scope=admin, region=region, period="2026-12")
        assert len(pools["inspectors"]) >= 3
        result = draw.derive("x", pools)
        assert result["targets"] and not any(t["short"] for t in result["targets"]), region
        names = {n for t in result["targets"] for n in t["inspector_names"]}
        assert names and not any(n.startswith(("inspector-", "ld-", "yc-", "nx-")) for n in names)
        # Demo inspectors are named (accounts other tests left committed may not be).
        demo = [u for u in result["inspectors"] if u["username"].startswith("inspector-")]
        assert demo and all(draw.display_name(u) == u["display_name"] for u in demo)
    cells = session.execute(
        text(
            "SELECT g.county_code, g.warden_name, u.display_name FROM grid_cells g"
            " JOIN users u ON u.username LIKE 'warden-%' AND g.code = ANY(u.grid_cells)"
        )
    ).all()
    assert counties <= {c.county_code for c in cells}
    assert all(c.warden_name and c.warden_name == c.display_name for c in cells)


def test_the_demo_has_inspections_and_escalations(session, demo, demo_set_up):
    """A history of self-checks and spot checks leaving a minority overdue (some never
    inspected), and today's daily job run."""
    _, before = demo
    mine = {"id": before["enterprises"]}
    today = china_today()
    graded = session.scalar(
        text("SELECT count(*) FROM enterprises WHERE risk_level IS NOT NULL AND id > :id"), mine
    )
    admin = Scope(role="admin", username="test", write_prefix="")
    for kind in ("self_check", "spot_check"):
        rows = session.execute(
            text(
                "SELECT count(DISTINCT enterprise_id) AS inspected, max(inspected_at) AS last"
                " FROM inspections WHERE kind = :kind AND enterprise_id > :id"
            ),
            {"kind": kind, **mine},
        ).one()
        assert 0.85 * graded < rows.inspected < graded, kind
        assert rows.last.astimezone(timezone(timedelta(hours=8))).date() < today
        page = inspections.overdue(
            session, scope=admin, today=today, kind=kind, limit=1000, offset=0
        )
        levels = [i["risk_level"] for i in page["items"]]
        assert levels == sorted(levels, key=LEVELS.index)  # red first
        assert all(i["days_overdue"] is None or i["days_overdue"] > 0 for i in page["items"])
        overdue = [i for i in page["items"] if i["enterprise_id"] > mine["id"]]
        never = sum(1 for i in overdue if i["last_inspected_at"] is None)
        assert 0 < never < len(overdue) < 0.3 * graded, kind
    # Spot checks are made by the county's inspectors (a draw avoids the last one).
    assert not session.scalar(
        text(
            "SELECT count(*) FROM inspections WHERE kind = 'spot_check' AND enterprise_id > :id"
            " AND username NOT LIKE 'inspector-' || county_code || '-%'"
        ),
        mine,
    )
    assert "inspections (self_check)" in demo_set_up
    # The daily job ran: overdue major dangers escalated, as a deployment shows them.
    escalated = session.scalar(
        text(
            "SELECT count(*) FROM hidden_dangers d WHERE d.escalated_at IS NOT NULL"
            " AND EXISTS (SELECT 1 FROM hidden_danger_events e WHERE e.danger_id = d.id"
            " AND e.action = 'escalate' AND e.username = 'cli:escalate')"
        )
    )
    assert escalated > 0
    assert "dangers_escalated" in demo_set_up
