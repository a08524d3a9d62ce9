"""Progress of long command-line work (issue 15): plain lines when not a terminal."""

import io

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.progress import ProgressBar
from app.risk import grading
from tests.factories import enterprise_payload, lec_point


def test_plain_lines_per_stage_and_tenth_then_steps() -> None:
    stream = io.StringIO()  # not a terminal
    bar = ProgressBar(stream, unit="provinces")
    for done in range(0, 35):
        bar("read", done, 34)
    bar("build", 1, 2)
    bar.step("tile cells", 3, 3)
    bar.finish()
    lines = stream.getvalue().splitlines()
    assert lines[0] == "read …"
    read = [line for line in lines if line.startswith("read ") and "/34" in line]
    # One line per tenth reached (0 … 10), not one per update.
    assert len(read) == 11 and read[-1].startswith("read 34/34 (")
    assert "provinces/s, ETA 0 s)" in read[-1]
    assert lines[-3:] == ["build …", lines[-2], "[3/3] tile cells …"]
    assert lines[-2].startswith("build 1/2 (")
    assert "\r" not in stream.getvalue()


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_bar_with_rate_and_eta_on_a_terminal() -> None:
    stream = _Terminal()
    bar = ProgressBar(stream)
    bar("check", 50, 100)
    bar.step("committing", 2, 2)
    text = stream.getvalue()
    assert text.startswith("\rcheck  [" + "#" * 15 + "." * 15 + "] 50/100")
    assert "rows/s  ETA" in text
    assert text.endswith("\n[2/2] committing …\n")


def test_a_rebuild_reports_its_stages_and_every_risk_point(
    client: TestClient, session: Session
) -> None:
    enterprise = client.post("/api/enterprises", json=enterprise_payload()).json()
    for _ in range(3):
        point = client.post("/api/risk-points", json=lec_point(enterprise["id"], 3, 6, 7))
        assert point.status_code == 201, point.text
    seen: list[tuple[str, int, int]] = []
    grading.rebuild(session, regrade=True, progress=lambda *update: seen.append(update))
    stages = list(dict.fromkeys(stage for stage, _, _ in seen))
    assert stages == ["risk points", "hazard sources", "enterprise levels", "region counts"]
    stored = session.execute(text("SELECT count(*) FROM risk_points")).scalar_one()
    points = [(done, total) for stage, done, total in seen if stage == "risk points"]
    assert points[0] == (0, stored) and points[-1] == (stored, stored) and stored >= 3
    # Each one-statement stage announces itself once (total 0: a step, not rows).
    others = [(done, total) for stage, done, total in seen if stage != "risk points"]
    assert others == [(0, 0)] * 3


def test_a_step_without_rows_is_announced_on_a_terminal_too() -> None:
    stream = _Terminal()
    bar = ProgressBar(stream)
    bar("region counts", 0, 0)
    bar.finish()
    assert stream.getvalue() == "\rregion counts …\n"
