"""Backups (pg_dump's custom format) and restores, run as the owner role.

A backup is a whole-database archive: RiskAtlas's tables, functions, triggers and rows in
schema public, and the fact that PostGIS is installed. A restore replaces the objects of
schema public only, dropping and recreating them in one transaction, so it either fully
replaces them or changes nothing; PostGIS (owned by the superuser) stays as the target
database has it. Objects
are recreated by the owner without the archive's owners and grants (an archive may come
from another server with other roles); the app role gets its privileges back from the
owner's default privileges and an explicit grant. The password travels in PGPASSWORD,
never on a command line that `ps` shows.
"""

import os
import subprocess
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.types.json import Jsonb

from app.db_roles import grant_app_role
from app.embedded_db import PG_BIN


class BackupError(RuntimeError):
    """pg_dump or pg_restore failed, or the file is not a backup."""


def _client(program: str) -> str:
    path = PG_BIN / program
    if not path.exists():
        raise BackupError(f"{path} is missing: install Debian's postgresql-client-15")
    return str(path)


def _libpq_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _libpq_args(url: str) -> tuple[str, dict[str, str]]:
    """The connection string without its password, and an environment carrying it."""
    params = conninfo_to_dict(_libpq_url(url))
    password = params.pop("password", None)
    env = dict(os.environ)
    if password is not None:
        env["PGPASSWORD"] = str(password)
    return make_conninfo("", **params), env


def _run(args: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BackupError(f"{Path(args[0]).name} failed: {result.stderr.strip()}")


def backup(owner_url: str, path: Path) -> None:
    """Write the database to `path` (readable by this OS user only)."""
    conninfo, env = _libpq_args(owner_url)
    # Written aside and renamed: a failed dump never leaves a truncated file under `path`.
    partial = path.with_name(f".{path.name}.partial")
    try:
        # PostGIS's table of coordinate systems is the extension's, recreated with it.
        _run(
            [
                _client("pg_dump"),
                "--format=custom",
                "--exclude-table-data=public.spatial_ref_sys",
                f"--file={partial}",
                f"--dbname={conninfo}",
            ],
            env,
        )
        os.chmod(partial, 0o600)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def _one_value(conn: psycopg.Connection, query: str) -> object:
    """The single value of a query that always returns one row."""
    row = conn.execute(query).fetchone()
    if row is None:
        raise BackupError(f"the server returned no row for {query!r}")
    return row[0]


def _layer_versions(conn: psycopg.Connection) -> dict[str, int]:
    exists = _one_value(conn, "SELECT to_regclass('public.layer_versions')")
    if exists is None:
        return {}
    return dict(conn.execute("SELECT layer, version FROM layer_versions").fetchall())


def restore(owner_url: str, path: Path, app_role: str | None = None) -> None:
    """Replace the database's objects and rows with those of the backup at `path`.

    `app_role`, when it differs from the owner, is granted what the API needs. Layer
    versions end above both the restored and the replaced ones, and are announced, so no
    API process keeps serving tiles cached before the restore.
    """
    if not path.is_file():
        raise BackupError(f"{path} does not exist")
    conninfo, env = _libpq_args(owner_url)
    # Reading the table of contents refuses anything that is not a custom-format archive
    # before the database is touched.
    _run([_client("pg_restore"), "--list", str(path)], env)
    with psycopg.connect(_libpq_url(owner_url), autocommit=True) as conn:
        before = _layer_versions(conn)
    _run(
        [
            _client("pg_restore"),
            "--schema=public",
            "--clean",
            "--if-exists",
            "--single-transaction",
            "--exit-on-error",
            "--no-owner",
            "--no-acl",
            f"--dbname={conninfo}",
            str(path),
        ],
        env,
    )
    with psycopg.connect(_libpq_url(owner_url)) as conn:
        owner = str(_one_value(conn, "SELECT current_user"))
        if app_role and app_role != owner:
            grant_app_role(conn, owner, app_role)
        if _layer_versions(conn):
            # Rows in layer order first, as every writer's trigger takes them: no deadlock.
            conn.execute("SELECT 1 FROM layer_versions ORDER BY layer FOR UPDATE")
            conn.execute(
                "WITH bumped AS (UPDATE layer_versions SET version ="
                "  greatest(version, coalesce((%s::jsonb ->> layer)::bigint, 0)) + 1"
                "  RETURNING layer, version)"
                " SELECT pg_notify('riskatlas_layers', layer || '=' || version) FROM bumped",
                (Jsonb(before),),
            )
