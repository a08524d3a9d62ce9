"""`riskatlas backup` / `riskatlas restore`: a restore gives back exactly the rows backed up.

Runs against a scratch database of its own on the test server (never the test database
nor the service's), through the command line as an operator would, with DATABASE_URL and
RISKATLAS_OWNER_DATABASE_URL pointing at the scratch database.
"""

import os
import random
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import errors, sql
from sqlalchemy.engine import make_url

from app import backup, embedded_db
from app.settings import PROJECT_ROOT, get_settings
from app.sites.credit_code import make_credit_code

# Named after this run's test database, so parallel runs never share it.
SCRATCH = os.environ.get("RISKATLAS_TEST_DATABASE", "riskatlas_test") + "_backup"

pytestmark = pytest.mark.skipif(
    not get_settings().embedded, reason="needs a server where tests may create databases"
)


@pytest.fixture(scope="module")
def scratch(database_urls: tuple[str, str]) -> Iterator[dict[str, str]]:
    """Environment for the CLI on a scratch database with Ningxia and a small demo."""
    settings = get_settings()
    embedded_db.drop_database(settings, SCRATCH)
    embedded_db.ensure_database(settings, SCRATCH)
    app_url, owner_url = (
        make_url(url)
        .set(database=SCRATCH, drivername="postgresql")
        .render_as_string(hide_password=False)
        for url in database_urls
    )
    env = {**os.environ, "DATABASE_URL": app_url, "RISKATLAS_OWNER_DATABASE_URL": owner_url}
    _riskatlas(env, "db", "migrate")
    # Not a terminal: progress comes as plain lines (per province, per step).
    assert "read 1/1 (" in _riskatlas(env, "load", "regions", "--provinces", "640000")
    demo = _riskatlas(env, "load", "demo", "--enterprises", "40")
    assert "[1/6] demo: clearing located data …" in demo and "[6/6] demo: history …" in demo
    try:
        yield env
    finally:
        embedded_db.drop_database(settings, SCRATCH)


def _riskatlas(env: dict[str, str], *args: str) -> str:
    """Run the command; its output and progress (stdout, then stderr)."""
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout + result.stderr


def _fingerprint(url: str) -> dict[str, tuple]:
    """Per table: row count and md5 of its rows in primary-key order; per sequence: state."""
    prints = {}
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "SELECT c.oid::regclass::text, coalesce((SELECT string_agg(quote_ident(a.attname),"
            "   ', ' ORDER BY k.n) FROM pg_index i"
            "   CROSS JOIN unnest(i.indkey::int2[]) WITH ORDINALITY AS k(att, n)"
            "   JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.att"
            "   WHERE i.indrelid = c.oid AND i.indisprimary), 't::text')"
            " FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace"
            " AND c.relkind IN ('r', 'p')"
        ).fetchall()
        for table, order in tables:
            prints[table] = conn.execute(
                sql.SQL(
                    "SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY {}), ''))"
                    " FROM {} AS t"
                ).format(sql.SQL(order), sql.SQL(table))
            ).fetchone()
        sequences = conn.execute(
            "SELECT c.oid::regclass::text FROM pg_class c"
            " WHERE c.relnamespace = 'public'::regnamespace"
            " AND c.relkind = 'S'"
        ).fetchall()
        for (sequence,) in sequences:
            prints[sequence] = conn.execute(
                sql.SQL("SELECT last_value, is_called FROM {}").format(sql.SQL(sequence))
            ).fetchone()
    return prints


def _layer_versions(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return dict(conn.execute("SELECT layer, version FROM layer_versions").fetchall())


def test_restore_gives_back_every_row(scratch: dict[str, str], tmp_path: Path) -> None:
    app_url, owner_url = scratch["DATABASE_URL"], scratch["RISKATLAS_OWNER_DATABASE_URL"]
    before = _fingerprint(owner_url)
    assert before["enterprises"][0] == 40 and before["risk_points"][0] > 0
    archive = tmp_path / "riskatlas.dump"

    _riskatlas(scratch, "backup", str(archive))
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600

    # Changes after the backup, made by the API's role: deletes, updates, inserts.
    with psycopg.connect(app_url) as conn:
        conn.execute("DELETE FROM hidden_dangers WHERE id = (SELECT min(id) FROM hidden_dangers)")
        conn.execute("DELETE FROM enterprises WHERE id = (SELECT min(id) FROM enterprises)")
        conn.execute(
            "UPDATE enterprises SET name = name || '（已改）', geom ="
            " ST_Translate(geom, 0.001, 0) WHERE id % 3 = 0"
        )
        conn.execute("DELETE FROM public_zones WHERE id % 2 = 0")
        conn.execute(
            "INSERT INTO enterprises (name, credit_code, sector, geom)"
            " VALUES ('备份后新增有限公司', '91640104MA7BACKUPX', '危险化学品',"
            "         ST_SetSRID(ST_MakePoint(106.28, 38.47), 4326))"
        )
        conn.execute("SELECT rebuild_region_counts()")
    changed = _fingerprint(owner_url)
    assert changed != before
    versions_changed = _layer_versions(owner_url)

    _riskatlas(scratch, "restore", str(archive))

    after = _fingerprint(owner_url)
    # Layer versions are tile cache keys, not data: a restore moves them past every version
    # handed out before, so no cached tile of the replaced data is served again.
    del before["layer_versions"], after["layer_versions"]
    assert after == before
    versions_restored = _layer_versions(owner_url)
    assert all(versions_restored[layer] > version for layer, version in versions_changed.items())

    # The API's role works on the recreated tables, and still cannot change them.
    with psycopg.connect(app_url) as conn:
        conn.execute(
            "UPDATE enterprises SET name = name || '（恢复后）'"
            " WHERE id = (SELECT min(id) FROM enterprises)"
        )
        conn.execute(
            "INSERT INTO enterprises (name, credit_code, sector, geom)"
            " VALUES ('恢复后新增有限公司', '91640104MA7RESTORE', '危险化学品',"
            "         ST_SetSRID(ST_MakePoint(106.28, 38.47), 4326))"
        )
        conn.rollback()
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("ALTER TABLE enterprises ADD COLUMN intruder int")


def test_restore_refuses_what_is_not_a_backup(scratch: dict[str, str], tmp_path: Path) -> None:
    owner_url = scratch["RISKATLAS_OWNER_DATABASE_URL"]
    before = _fingerprint(owner_url)
    bogus = tmp_path / "not-a-backup.dump"
    bogus.write_text("SELECT 1;\n")
    with pytest.raises(backup.BackupError):
        backup.restore(owner_url, bogus)
    with pytest.raises(backup.BackupError):
        backup.restore(owner_url, tmp_path / "missing.dump")
    assert _fingerprint(owner_url) == before


def test_the_import_command_reports_every_row(scratch: dict[str, str], tmp_path: Path) -> None:
    """`riskatlas import --dry-run`: the refused rows by number and a summary that adds up;
    inside the demo's grading, progress by stage (plain lines: not a terminal)."""
    good = make_credit_code(random.Random(3), "640104")
    table = tmp_path / "qiye.csv"
    table.write_text(
        "企业名称,统一社会信用代码,行业,经度,纬度\n"
        f"命令行企业,{good},危险化学品,106.28,38.47\n"
        "坏代码企业,91640100XXXXXXXXXX,危险化学品,106.28,38.47\n",
        encoding="utf-8",
    )
    out = _riskatlas(scratch, "import", str(table), "--layer", "enterprises", "--dry-run")
    assert "row 3: 统一社会信用代码: not a valid unified social credit code" in out
    assert "2 rows checked (dry run, nothing written): 1 accepted, 1 rejected" in out
    rebuilt = _riskatlas(scratch, "risk", "rebuild", "--regrade")
    assert "risk points …" in rebuilt and "region counts …" in rebuilt
