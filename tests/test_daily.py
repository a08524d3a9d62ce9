"""The daily run (`riskatlas daily`): every job that must not wait for a caller."""

from datetime import date

from fastapi.testclient import TestClient
from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from app import cli, daily
from app.datetimes import china_today
from tests.factories import XINGQING, enterprise_payload


def test_the_daily_run_does_every_daily_job(client: TestClient, session: Session) -> None:
    body = {"name": "每日任务", "kind": "rescue_team", "lon": XINGQING[0], "lat": XINGQING[1]}
    sent = client.post(
        "/api/emergency-resources", json=body, headers={"Idempotency-Key": "daily-old"}
    )
    assert sent.status_code == 201, sent.text
    assert client.post("/api/enterprises", json=enterprise_payload()).status_code == 201
    session.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))  # fold the region counts now
    session.execute(
        text(
            "UPDATE idempotency_keys SET created_at = now() - interval '8 days'"
            " WHERE key = 'daily-old'"
        )
    )
    session.commit()
    day = date(2026, 11, 29)

    report = daily.run(session, today=day)

    assert set(report) == {
        "dangers_escalated",
        "blacklist_expired",
        "snapshot_rows",
        "idempotency_keys_purged",
        "import_progress_purged",
    }
    assert report["idempotency_keys_purged"] >= 1
    left = session.execute(
        text("SELECT count(*) FROM idempotency_keys WHERE key = 'daily-old'")
    ).scalar_one()
    assert left == 0
    stored = session.execute(
        text("SELECT count(*) FROM region_count_snapshots WHERE day = :d"), {"d": day}
    ).scalar_one()
    assert stored == report["snapshot_rows"] > 0
    # The day's snapshot holds the county's enterprises as counted now.
    snapshot, now = session.execute(
        text(
            "SELECT s.value, c.value FROM region_count_snapshots s JOIN region_counts c"
            " USING (region_code, measure) WHERE s.day = :d AND region_code = '640104'"
            " AND measure = 'enterprises.total'"
        ),
        {"d": day},
    ).one()
    assert snapshot == now >= 1


def test_serving_an_older_database_runs_todays_jobs_first(
    client: TestClient, session: Session, connection: Connection, monkeypatch, capsys
) -> None:
    """`riskatlas serve` (make run) on a database set up on an earlier day runs today's
    daily jobs before serving: today's snapshot is there, and the run is reported."""
    assert client.post("/api/enterprises", json=enterprise_payload()).status_code == 201
    today = china_today()
    session.execute(text("DELETE FROM region_count_snapshots WHERE day = :d"), {"d": today})
    monkeypatch.setattr(
        cli,
        "_owner_session",
        lambda: Session(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        ),
    )

    cli._daily_catch_up()

    stored = session.execute(
        text("SELECT count(*) FROM region_count_snapshots WHERE day = :d"), {"d": today}
    ).scalar_one()
    assert stored > 0
    assert f"snapshot_rows {stored}" in capsys.readouterr().out
