"""The two database roles: an owner for schema changes and bulk jobs, an app role for the API.

`riskatlas_owner` owns the database and every object in it: migrations, region and demo
loads, rebuilds, backups and restores run as this role. `riskatlas_app` is what the API
server logs in as: it may read and write rows, use sequences and call functions, and
nothing else (no CREATE, ALTER, DROP or TRUNCATE), so a flaw in the API cannot change the
schema. For the embedded cluster both passwords are generated at set-up and kept under
`<data_dir>/secrets/` (directory 0700, files 0600); nothing prints them.
"""

import os
import secrets
from pathlib import Path

import psycopg
from psycopg import sql

OWNER_ROLE = "riskatlas_owner"
APP_ROLE = "riskatlas_app"

# Privileges of the app role per kind of relation (pg_class.relkind).
_TABLE_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"
_RELATION_GRANTS = {
    "r": ("TABLE", _TABLE_PRIVILEGES),
    "p": ("TABLE", _TABLE_PRIVILEGES),
    "v": ("TABLE", _TABLE_PRIVILEGES),
    "f": ("TABLE", _TABLE_PRIVILEGES),
    "m": ("TABLE", "SELECT"),
    "S": ("SEQUENCE", "USAGE, SELECT"),
}

# Objects of an extension (PostGIS's spatial_ref_sys, its functions) are the extension's
# business: never re-owned, never granted.
_NOT_EXTENSION_MEMBER = """
    NOT EXISTS (SELECT 1 FROM pg_depend d
                WHERE d.classid = {catalog}::regclass AND d.objid = {oid} AND d.deptype = 'e')
"""


class MissingCredentialsError(RuntimeError):
    """A role's password file does not exist yet: the embedded cluster was never set up."""


def password_file(data_dir: Path, role: str) -> Path:
    """Where the embedded cluster keeps `role`'s password."""
    return data_dir / "secrets" / f"{role}.password"


def read_password(data_dir: Path, role: str) -> str:
    """The password of `role` on the embedded cluster."""
    path = password_file(data_dir, role)
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise MissingCredentialsError(
            f"no password for {role} in {path.parent}: run `riskatlas db start` "
            "(or `riskatlas setup`) first"
        ) from None


def ensure_password(data_dir: Path, role: str) -> str:
    """Return `role`'s password, generating it (readable by this OS user only) when missing."""
    path = password_file(data_dir, role)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    os.chmod(path.parent, 0o700)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        os.chmod(path, 0o600)
        return read_password(data_dir, role)
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(secrets.token_urlsafe(32) + "\n")
    return read_password(data_dir, role)


def adopt_objects(conn: psycopg.Connection, owner: str) -> None:
    """Give `owner` every schema object in public that someone else created (superuser only).

    Clusters set up before the roles existed hold tables made by `postgres`; only their
    owner could migrate them further.
    """
    relations = conn.execute(
        "SELECT c.oid::regclass::text, c.relkind FROM pg_class c"
        " WHERE c.relnamespace = 'public'::regnamespace"
        " AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND c.relowner <> %s::regrole"
        # Identity and serial sequences follow their table.
        " AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass"
        "                 AND d.objid = c.oid AND d.deptype IN ('a', 'i'))"
        " AND" + _NOT_EXTENSION_MEMBER.format(catalog="'pg_class'", oid="c.oid"),
        (owner,),
    ).fetchall()
    kinds = {"S": "SEQUENCE", "v": "VIEW", "m": "MATERIALIZED VIEW", "f": "FOREIGN TABLE"}
    for name, relkind in relations:
        conn.execute(
            sql.SQL("ALTER {} {} OWNER TO {}").format(
                sql.SQL(kinds.get(relkind, "TABLE")), sql.SQL(name), sql.Identifier(owner)
            )
        )
    routines = conn.execute(
        "SELECT p.oid::regprocedure::text FROM pg_proc p"
        " WHERE p.pronamespace = 'public'::regnamespace AND p.proowner <> %s::regrole"
        " AND" + _NOT_EXTENSION_MEMBER.format(catalog="'pg_proc'", oid="p.oid"),
        (owner,),
    ).fetchall()
    for (signature,) in routines:
        conn.execute(
            sql.SQL("ALTER ROUTINE {} OWNER TO {}").format(
                sql.SQL(signature), sql.Identifier(owner)
            )
        )


def grant_app_role(conn: psycopg.Connection, owner: str, app: str) -> None:
    """Let `app` use what `owner` has made in schema public, now and after later migrations.

    Run as the owner or a superuser, in the database concerned. Idempotent.
    """
    app_id, owner_id = sql.Identifier(app), sql.Identifier(owner)
    conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(app_id))
    for kind, privileges in (
        ("TABLES", _TABLE_PRIVILEGES),
        ("SEQUENCES", "USAGE, SELECT"),
        ("ROUTINES", "EXECUTE"),
    ):
        conn.execute(
            sql.SQL(
                "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA public GRANT {} ON {} TO {}"
            ).format(owner_id, sql.SQL(privileges), sql.SQL(kind), app_id)
        )
    relations = conn.execute(
        "SELECT c.oid::regclass::text, c.relkind FROM pg_class c"
        " WHERE c.relnamespace = 'public'::regnamespace AND c.relowner = %s::regrole"
        " AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')"
        " AND" + _NOT_EXTENSION_MEMBER.format(catalog="'pg_class'", oid="c.oid"),
        (owner,),
    ).fetchall()
    for name, relkind in relations:
        kind, privileges = _RELATION_GRANTS[relkind]
        conn.execute(
            sql.SQL("GRANT {} ON {} {} TO {}").format(
                sql.SQL(privileges), sql.SQL(kind), sql.SQL(name), app_id
            )
        )
    routines = conn.execute(
        "SELECT p.oid::regprocedure::text FROM pg_proc p"
        " WHERE p.pronamespace = 'public'::regnamespace AND p.proowner = %s::regrole"
        " AND" + _NOT_EXTENSION_MEMBER.format(catalog="'pg_proc'", oid="p.oid"),
        (owner,),
    ).fetchall()
    for (signature,) in routines:
        conn.execute(
            sql.SQL("GRANT EXECUTE ON ROUTINE {} TO {}").format(sql.SQL(signature), app_id)
        )
