"""Least privilege: the API's role reads and writes rows only; TCP logins need passwords."""

import os
import shutil
import socket
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import errors
from sqlalchemy import Engine, text

from app import embedded_db
from app.db_roles import APP_ROLE, OWNER_ROLE, password_file
from app.settings import Settings, get_settings

embedded_only = pytest.mark.skipif(
    not get_settings().embedded, reason="roles and access rules of the embedded cluster"
)


def _plain(engine: Engine) -> str:
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


@embedded_only
def test_the_api_role_is_not_privileged(engine: Engine) -> None:
    with engine.connect() as connection:
        role = connection.execute(
            text(
                "SELECT rolname, rolsuper, rolcreatedb, rolcreaterole, rolreplication,"
                " rolbypassrls FROM pg_roles WHERE rolname = current_user"
            )
        ).one()
        owns = connection.execute(
            text("SELECT count(*) FROM pg_class WHERE relowner = current_user::regrole")
        ).scalar()
    assert tuple(role) == (APP_ROLE, False, False, False, False, False)
    assert owns == 0


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE TABLE intruder (id int)",
        "CREATE VIEW intruder AS SELECT 1",
        "CREATE FUNCTION intruder() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        "CREATE SCHEMA intruder",
        "DROP TABLE risk_points",
        "ALTER TABLE enterprises ADD COLUMN intruder int",
        "ALTER TABLE enterprises DISABLE TRIGGER ALL",
        "CREATE INDEX intruder ON enterprises (name)",
        "TRUNCATE enterprises",
        "DROP FUNCTION bump_layer_versions()",
        "CREATE ROLE intruder",
        "CREATE DATABASE intruder",
    ],
)
@embedded_only
def test_the_api_role_cannot_change_the_schema(engine: Engine, statement: str) -> None:
    # CREATE DATABASE refuses transaction blocks before it looks at privileges.
    autocommit = statement.startswith("CREATE DATABASE")
    with (
        psycopg.connect(_plain(engine), autocommit=autocommit) as conn,
        pytest.raises(errors.InsufficientPrivilege),
    ):
        conn.execute(statement)


def test_the_api_role_reads_and_writes_rows(engine: Engine) -> None:
    with psycopg.connect(_plain(engine)) as conn:
        enterprise = conn.execute(
            "INSERT INTO enterprises (name, credit_code, sector, geom)"
            " VALUES ('权限测试有限公司', '91640104MA7TEST01X', '危险化学品',"
            "         ST_SetSRID(ST_MakePoint(106.28, 38.47), 4326))"
            " RETURNING id, county_code"
        ).fetchone()
        assert enterprise[1] == "640104"  # the region trigger ran with the API's rights
        conn.execute(
            "UPDATE enterprises SET name = name || '（改）' WHERE id = %s", (enterprise[0],)
        )
        conn.execute("DELETE FROM enterprises WHERE id = %s", (enterprise[0],))
        conn.execute("SELECT rebuild_region_counts()")
        conn.rollback()


@embedded_only
def test_tables_of_later_migrations_are_the_api_roles_too(
    engine: Engine, owner_engine: Engine
) -> None:
    """Default privileges: what the owner creates later is readable and writable at once."""
    with owner_engine.begin() as connection:
        connection.execute(
            text(
                "CREATE TABLE later_migration_probe (id bigint GENERATED ALWAYS AS IDENTITY"
                " PRIMARY KEY, note text)"
            )
        )
    try:
        with psycopg.connect(_plain(engine)) as conn:
            conn.execute("INSERT INTO later_migration_probe (note) VALUES ('x')")
            assert conn.execute("SELECT note FROM later_migration_probe").fetchone() == ("x",)
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute("DROP TABLE later_migration_probe")
    finally:
        with owner_engine.begin() as connection:
            connection.execute(text("DROP TABLE later_migration_probe"))


def _refused(**params: object) -> str:
    with pytest.raises(psycopg.OperationalError) as refusal:
        psycopg.connect(
            host="127.0.0.1", passfile="/nonexistent", connect_timeout=5, **params
        ).close()
    return str(refusal.value)


@embedded_only
def test_tcp_logins_need_the_password(engine: Engine, monkeypatch) -> None:
    monkeypatch.delenv("PGPASSWORD", raising=False)
    settings = get_settings()
    for role in (APP_ROLE, OWNER_ROLE):
        assert "no password supplied" in _refused(
            port=settings.embedded_port, user=role, dbname=settings.database_name
        )
        assert "password authentication failed" in _refused(
            port=settings.embedded_port, user=role, dbname=settings.database_name, password="guess"
        )
    # The superuser never logs in over TCP, password or not.
    assert "rejects connection" in _refused(
        port=settings.embedded_port, user="postgres", dbname="postgres"
    )


@embedded_only
def test_passwords_are_private_files(engine: Engine) -> None:
    settings = get_settings()
    assert stat.S_IMODE(password_file(settings.data_dir, APP_ROLE).parent.stat().st_mode) == 0o700
    for role in (APP_ROLE, OWNER_ROLE):
        assert stat.S_IMODE(password_file(settings.data_dir, role).stat().st_mode) == 0o600


# An old cluster, made the way RiskAtlas did before roles: trust for everyone on loopback,
# no Unix socket, every object owned by the superuser.
OLD_CONFIG = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = ''
shared_buffers = 32MB
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def old_cluster() -> Iterator[Settings]:
    # Under /tmp, not pytest's root-only tmp_path: the cluster's OS user must reach it.
    data_dir = Path(tempfile.mkdtemp(prefix="riskatlas-old-"))
    os.chmod(data_dir, 0o755)
    settings = Settings(
        data_dir=data_dir, embedded_port=_free_port(), database_name="riskatlas_old"
    )
    cluster = data_dir / "postgres"
    cluster.mkdir()
    if os.geteuid() == 0:
        shutil.chown(data_dir, "postgres", "postgres")
        shutil.chown(cluster, "postgres", "postgres")
    subprocess.run(
        embedded_db._as_cluster_owner(
            [
                str(embedded_db.PG_BIN / "initdb"),
                "-D",
                str(cluster),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ]
        ),
        check=True,
        capture_output=True,
    )
    with (cluster / "postgresql.conf").open("a") as conf:
        conf.write(OLD_CONFIG.format(port=settings.embedded_port))
    embedded_db._run_server(settings, "start")
    try:
        yield settings
    finally:
        embedded_db.stop(settings)
        shutil.rmtree(data_dir)


@embedded_only
def test_an_old_trust_cluster_is_upgraded_in_place(old_cluster: Settings) -> None:
    settings = old_cluster
    trust = f"postgresql://postgres@127.0.0.1:{settings.embedded_port}/{settings.database_name}"
    with psycopg.connect(trust.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{settings.database_name}"')
    with psycopg.connect(trust, autocommit=True) as conn:
        conn.execute("CREATE TABLE enterprises (id serial PRIMARY KEY, name text)")
        conn.execute("INSERT INTO enterprises (name) VALUES ('旧数据')")

    embedded_db.start(settings)
    embedded_db.start(settings)  # idempotent

    assert "rejects connection" in _refused(
        port=settings.embedded_port, user="postgres", dbname=settings.database_name
    )
    with psycopg.connect(settings.libpq_url) as conn:
        assert conn.execute("SELECT name FROM enterprises").fetchall() == [("旧数据",)]
        conn.execute("INSERT INTO enterprises (name) VALUES ('新数据')")
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("ALTER TABLE enterprises ADD COLUMN intruder int")
    with psycopg.connect(settings.owner_libpq_url) as conn:
        owners = conn.execute(
            "SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class"
            " WHERE relname IN ('enterprises', 'enterprises_id_seq')"
        ).fetchall()
        assert owners == [(OWNER_ROLE,)]
        conn.execute("ALTER TABLE enterprises ADD COLUMN note text")
