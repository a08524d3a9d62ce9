"""A private PostGIS cluster under .data/postgres on loopback, for development and tests.

Used only when DATABASE_URL is unset. Debian's PostgreSQL 15 with PostGIS 3 is installed
on demand. initdb refuses to run as root, so the cluster belongs to the `postgres` user.

Access is least privilege (see app/db_roles.py): TCP on 127.0.0.1 needs a password
(scram-sha-256) and serves the owner and app roles, whose passwords live in
.data/secrets/. The superuser `postgres` has no password and logs in only over the
cluster's Unix socket (inside .data/postgres), by peer authentication of the cluster's OS
user or of whoever runs this code; it is used here only to create roles and databases.
Every start rewrites the access files, so a cluster made before the roles existed (trust
auth, everything owned by `postgres`) is upgraded in place.
"""

import fcntl
import os
import pwd
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

from app.db_roles import (
    APP_ROLE,
    OWNER_ROLE,
    adopt_objects,
    ensure_password,
    grant_app_role,
)
from app.settings import Settings

PG_BIN = Path("/usr/lib/postgresql/15/bin")
POSTGIS_CONTROL = Path("/usr/share/postgresql/15/extension/postgis.control")
APT_PACKAGE = "postgresql-15-postgis-3"
SUPERUSER = "postgres"
# Included last from postgresql.conf, so it overrides what older versions appended there.
CONF_FILE = "riskatlas.conf"


class EmbeddedDatabaseError(RuntimeError):
    """The embedded cluster could not be installed, started or stopped."""


def ensure_installed() -> None:
    """Install PostgreSQL 15 + PostGIS 3 from Debian when missing."""
    if (PG_BIN / "initdb").exists() and POSTGIS_CONTROL.exists():
        return
    if shutil.which("apt-get") is None:
        raise EmbeddedDatabaseError(
            f"PostgreSQL 15 with PostGIS 3 is missing and this system has no apt-get: "
            f"install the package {APT_PACKAGE} (or set DATABASE_URL to a PostGIS server)"
        )
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", APT_PACKAGE], check=True, env=env)


def _cluster_owner() -> pwd.struct_passwd:
    """The OS user the cluster runs as."""
    return pwd.getpwnam("postgres") if os.geteuid() == 0 else pwd.getpwuid(os.geteuid())


def _as_cluster_owner(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


def _cluster_dir(settings: Settings) -> Path:
    # Resolved: checkouts sharing one cluster through a symlinked data directory write the
    # same socket directory, instead of each restarting the server to its own path.
    return (settings.data_dir / "postgres").resolve()


def _pg_ctl(settings: Settings, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    cmd = _as_cluster_owner([str(PG_BIN / "pg_ctl"), "-D", str(_cluster_dir(settings)), *args])
    return subprocess.run(cmd, check=check, capture_output=True, text=True)


@contextmanager
def _setup_lock(settings: Settings) -> Iterator[None]:
    """Serialise set-up between processes (parallel test runs share the cluster)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with (settings.data_dir / "setup.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _init_cluster(settings: Settings) -> None:
    cluster = _cluster_dir(settings)
    cluster.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        owner = _cluster_owner()
        os.chown(settings.data_dir, owner.pw_uid, owner.pw_gid)
        os.chown(cluster, owner.pw_uid, owner.pw_gid)
    # No TCP logins until _configure has written the real pg_hba.conf.
    subprocess.run(
        _as_cluster_owner(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(cluster),
                "-U",
                SUPERUSER,
                "--auth-local=peer",
                "--auth-host=reject",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ]
        ),
        check=True,
        capture_output=True,
        text=True,
    )


def _write_cluster_file(settings: Settings, name: str, content: str) -> bool:
    """Write a file of the cluster (owned by its OS user); True when it changed."""
    path = _cluster_dir(settings) / name
    if path.exists() and path.read_text(encoding="utf-8") == content:
        return False
    partial = path.with_name(name + ".partial")
    partial.write_text(content, encoding="utf-8")
    os.chmod(partial, 0o600)
    if os.geteuid() == 0:
        owner = _cluster_owner()
        os.chown(partial, owner.pw_uid, owner.pw_gid)
    os.replace(partial, path)
    return True


def _configure(settings: Settings) -> bool:
    """Write the server settings and access rules; True when any of them changed."""
    cluster = _cluster_dir(settings)
    header = "# Written by RiskAtlas (app/embedded_db.py) at every start: edits are lost.\n"
    changed = _write_cluster_file(
        settings,
        CONF_FILE,
        header
        + (
            "listen_addresses = '127.0.0.1'\n"
            f"port = {settings.embedded_port}\n"
            # The superuser's only way in; the directory is private to the cluster's OS user.
            f"unix_socket_directories = '{cluster}'\n"
            "unix_socket_permissions = 0700\n"
            "password_encryption = 'scram-sha-256'\n"
            "shared_buffers = 512MB\n"
            "work_mem = 64MB\n"
            "maintenance_work_mem = 512MB\n"
            "max_connections = 200\n"
            "fsync = on\n"
            "synchronous_commit = off\n"
            "jit = off\n"
        ),
    )
    main_conf = cluster / "postgresql.conf"
    include = f"include '{CONF_FILE}'\n"
    if include not in main_conf.read_text(encoding="utf-8").splitlines(keepends=True):
        with main_conf.open("a", encoding="utf-8") as conf:
            conf.write("\n# RiskAtlas settings, last so that they win\n" + include)
        changed = True
    changed |= _write_cluster_file(
        settings,
        "pg_hba.conf",
        header
        + (
            "# TYPE  DATABASE  USER      ADDRESS        METHOD\n"
            f"local   all       {SUPERUSER}                 peer map=riskatlas\n"
            f"host    all       {SUPERUSER}  127.0.0.1/32   reject\n"
            f"host    all       {SUPERUSER}  ::1/128        reject\n"
            "host    all       all       127.0.0.1/32   scram-sha-256\n"
            "host    all       all       ::1/128        scram-sha-256\n"
        ),
    )
    os_users = dict.fromkeys([_cluster_owner().pw_name, pwd.getpwuid(os.geteuid()).pw_name])
    changed |= _write_cluster_file(
        settings,
        "pg_ident.conf",
        header + "".join(f"riskatlas  {user}  {SUPERUSER}\n" for user in os_users),
    )
    return changed


def _listening_as_configured(settings: Settings) -> bool:
    """True when the running postmaster has the configured port and Unix socket.

    postmaster.pid holds, from its fourth line, the port and the socket directory. A file
    gone meanwhile (the server stopped) reads as not configured: a restart starts it.
    """
    try:
        lines = (_cluster_dir(settings) / "postmaster.pid").read_text().splitlines()
    except FileNotFoundError:
        return False
    return lines[3:5] == [str(settings.embedded_port), str(_cluster_dir(settings))]


def is_running(settings: Settings) -> bool:
    """True when the embedded cluster's postmaster is up."""
    if not (_cluster_dir(settings) / "PG_VERSION").exists():
        return False
    return _pg_ctl(settings, "status", check=False).returncode == 0


def _run_server(settings: Settings, action: str) -> None:
    log = _cluster_dir(settings) / "server.log"
    result = _pg_ctl(settings, "-l", str(log), "-w", "-t", "60", action, check=False)
    if result.returncode != 0:
        raise EmbeddedDatabaseError(
            f"{action} of the embedded PostgreSQL failed: {result.stderr.strip()} (see {log})"
        )


@contextmanager
def superuser_connection(
    socket_dir: Path, port: int, database: str
) -> Iterator[psycopg.Connection]:
    """A superuser connection over a cluster's Unix socket (peer authentication), waiting
    up to 15 s for a server that is still starting."""
    for attempt in range(30):
        try:
            conn = psycopg.connect(
                host=str(socket_dir), port=port, user=SUPERUSER, dbname=database, autocommit=True
            )
            break
        except psycopg.OperationalError:
            if attempt == 29:
                raise
            time.sleep(0.5)
    with conn:
        yield conn


def _admin(settings: Settings, database: str) -> AbstractContextManager[psycopg.Connection]:
    """A superuser connection to the embedded cluster."""
    return superuser_connection(_cluster_dir(settings), settings.embedded_port, database)


def _ensure_roles(settings: Settings) -> None:
    """Create the owner and app roles, or reset them to their password files and limits."""
    with _admin(settings, "postgres") as conn:
        for role in (OWNER_ROLE, APP_ROLE):
            password = ensure_password(settings.data_dir, role)
            # Hashed here, so the clear password is never sent (nor logged by the server).
            verifier = conn.pgconn.encrypt_password(
                password.encode(), role.encode(), b"scram-sha-256"
            ).decode()
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
            conn.execute(
                sql.SQL(
                    "{} ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION"
                    " NOBYPASSRLS PASSWORD {}"
                ).format(
                    sql.SQL("ALTER" if exists else "CREATE"),
                    sql.Identifier(role),
                    sql.Literal(verifier),
                )
            )


def _ensure_database(settings: Settings, name: str) -> None:
    database = sql.Identifier(name)
    with _admin(settings, "postgres") as conn:
        row = conn.execute(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
        if row is None:
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(database, sql.Identifier(OWNER_ROLE))
            )
        elif row[0] != OWNER_ROLE:
            conn.execute(
                sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                    database, sql.Identifier(OWNER_ROLE)
                )
            )
        conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(database))
        conn.execute(
            sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(
                database, sql.Identifier(APP_ROLE)
            )
        )
    with _admin(settings, name) as conn:
        # PostGIS is not a trusted extension: only the superuser may create it.
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        adopt_objects(conn, OWNER_ROLE)
        grant_app_role(conn, OWNER_ROLE, APP_ROLE)


def start(settings: Settings) -> str:
    """Install, initialise, (re)configure and start the cluster; create roles and database."""
    ensure_installed()
    with _setup_lock(settings):
        if not (_cluster_dir(settings) / "PG_VERSION").exists():
            _init_cluster(settings)
        changed = _configure(settings)
        if not is_running(settings):
            _run_server(settings, "start")
        elif not _listening_as_configured(settings):
            # A cluster from before the Unix socket: once, for everyone sharing it.
            _run_server(settings, "restart")
        elif changed:
            _pg_ctl(settings, "reload")
        _ensure_roles(settings)
        _ensure_database(settings, settings.database_name)
    return (
        f"embedded PostGIS running on 127.0.0.1:{settings.embedded_port} "
        f"({_cluster_dir(settings)}; passwords in {settings.data_dir / 'secrets'})"
    )


def ensure_database(settings: Settings, name: str) -> None:
    """Create database `name` owned by the owner role, with PostGIS and the app role's grants."""
    with _setup_lock(settings):
        _ensure_database(settings, name)


def drop_database(settings: Settings, name: str) -> None:
    """Drop database `name` if it exists (scratch databases of tests)."""
    with _setup_lock(settings), _admin(settings, "postgres") as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def stop(settings: Settings) -> str:
    """Stop the cluster if it runs (never in the middle of another process's set-up)."""
    with _setup_lock(settings):
        if not is_running(settings):
            return "embedded PostGIS is not running"
        _pg_ctl(settings, "-m", "fast", "-w", "stop")
    return "embedded PostGIS stopped"


def status(settings: Settings) -> str:
    """Say whether the cluster runs, and where."""
    state = "running" if is_running(settings) else "stopped"
    return (
        f"embedded PostGIS {state}: 127.0.0.1:{settings.embedded_port} ({_cluster_dir(settings)})"
    )
