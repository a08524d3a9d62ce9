"""A private PostGIS cluster under .data/postgres on loopback, for development and tests.

Used only when DATABASE_URL is unset. Debian's PostgreSQL 15 with PostGIS 3 is installed
on demand. initdb refuses to run as root, so the cluster belongs to the `postgres` user.
"""

import os
import pwd
import shutil
import subprocess
import time
from pathlib import Path

import psycopg

from app.settings import Settings

PG_BIN = Path("/usr/lib/postgresql/15/bin")
POSTGIS_CONTROL = Path("/usr/share/postgresql/15/extension/postgis.control")
APT_PACKAGE = "postgresql-15-postgis-3"


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


def _as_cluster_owner(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


def _cluster_dir(settings: Settings) -> Path:
    return settings.data_dir / "postgres"


def _pg_ctl(settings: Settings, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    cmd = _as_cluster_owner([str(PG_BIN / "pg_ctl"), "-D", str(_cluster_dir(settings)), *args])
    return subprocess.run(cmd, check=check, capture_output=True, text=True)


def _init_cluster(settings: Settings) -> None:
    cluster = _cluster_dir(settings)
    cluster.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(settings.data_dir, owner.pw_uid, owner.pw_gid)
        os.chown(cluster, owner.pw_uid, owner.pw_gid)
    subprocess.run(
        _as_cluster_owner([
            str(PG_BIN / "initdb"), "-D", str(cluster), "-U", "postgres",
            "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8",
        ]),
        check=True, capture_output=True, text=True,
    )
    with (cluster / "postgresql.conf").open("a") as conf:
        conf.write(
            "\n# RiskAtlas embedded cluster\n"
            "listen_addresses = '127.0.0.1'\n"
            f"port = {settings.embedded_port}\n"
            "unix_socket_directories = ''\n"
            "shared_buffers = 512MB\n"
            "work_mem = 64MB\n"
            "maintenance_work_mem = 512MB\n"
            "max_connections = 200\n"
            "fsync = on\n"
            "synchronous_commit = off\n"
            "jit = off\n"
        )


def is_running(settings: Settings) -> bool:
    """True when the embedded cluster's postmaster is up."""
    if not (_cluster_dir(settings) / "PG_VERSION").exists():
        return False
    return _pg_ctl(settings, "status", check=False).returncode == 0


def start(settings: Settings) -> str:
    """Install, initialise and start the cluster when needed; create the database."""
    ensure_installed()
    if not (_cluster_dir(settings) / "PG_VERSION").exists():
        _init_cluster(settings)
    if not is_running(settings):
        log = _cluster_dir(settings) / "server.log"
        result = _pg_ctl(settings, "-l", str(log), "-w", "-t", "60", "start", check=False)
        if result.returncode != 0:
            raise EmbeddedDatabaseError(
                f"starting the embedded PostgreSQL failed: {result.stderr.strip()} (see {log})"
            )
    ensure_database(settings, settings.database_name)
    return f"embedded PostGIS running on 127.0.0.1:{settings.embedded_port} ({_cluster_dir(settings)})"


def ensure_database(settings: Settings, name: str) -> None:
    """Create database `name` with PostGIS on the embedded cluster when missing."""
    admin = f"postgresql://postgres@127.0.0.1:{settings.embedded_port}/postgres"
    for attempt in range(30):
        try:
            conn = psycopg.connect(admin, autocommit=True)
            break
        except psycopg.OperationalError:
            if attempt == 29:
                raise
            time.sleep(0.5)
    with conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(
        f"postgresql://postgres@127.0.0.1:{settings.embedded_port}/{name}", autocommit=True
    ) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")


def stop(settings: Settings) -> str:
    """Stop the cluster if it runs."""
    if not is_running(settings):
        return "embedded PostGIS is not running"
    _pg_ctl(settings, "-m", "fast", "-w", "stop")
    return "embedded PostGIS stopped"


def status(settings: Settings) -> str:
    """Say whether the cluster runs, and where."""
    state = "running" if is_running(settings) else "stopped"
    return f"embedded PostGIS {state}: 127.0.0.1:{settings.embedded_port} ({_cluster_dir(settings)})"
