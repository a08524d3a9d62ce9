"""The nodes of the local Citus cluster: initialise, configure, start, stop, connect.

Each node is a PostgreSQL 15 cluster of its own under ClusterSettings.data_dir (the
coordinator, then worker1 … workerN) on 127.0.0.1, owned by the `postgres` OS user like
the embedded cluster (app/embedded_db.py), with the same roles and rules of access, and
one difference: the nodes open connections to each other over TCP as the user of the
query (the superuser too, for Citus's metadata), so every role, `postgres` included, has a
password; `pg_dist_authinfo` gives it to the node that connects. The passwords are kept
under <data_dir>/secrets (0700/0600).
"""

import os
import subprocess
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql

from app.cluster.config import ClusterSettings
from app.db_roles import APP_ROLE, OWNER_ROLE, ensure_password, grant_app_role
from app.embedded_db import (
    PG_BIN,
    SUPERUSER,
    EmbeddedDatabaseError,
    _as_cluster_owner,
    _cluster_owner,
    superuser_connection,
)

CONF_FILE = "riskatlas.conf"
ROLES = (SUPERUSER, OWNER_ROLE, APP_ROLE)


class ClusterError(EmbeddedDatabaseError):
    """A node could not be initialised, started or stopped."""


@dataclass(frozen=True)
class Node:
    """One PostgreSQL server of the cluster."""

    name: str
    port: int
    directory: Path

    @property
    def is_coordinator(self) -> bool:
        """True for the node the API talks to."""
        return self.name == "coordinator"


def nodes(settings: ClusterSettings) -> list[Node]:
    """The coordinator, then the workers."""
    root = settings.data_dir.resolve()
    names = ["coordinator", *(f"worker{i}" for i in range(1, settings.workers + 1))]
    return [Node(n, p, root / n) for n, p in zip(names, settings.ports, strict=True)]


def _chown(path: Path) -> None:
    if os.geteuid() == 0:
        owner = _cluster_owner()
        os.chown(path, owner.pw_uid, owner.pw_gid)


def _write(node: Node, name: str, content: str) -> None:
    path = node.directory / name
    partial = path.with_name(name + ".partial")
    partial.write_text(content, encoding="utf-8")
    os.chmod(partial, 0o600)
    _chown(partial)
    os.replace(partial, path)


def _init(node: Node) -> None:
    node.directory.mkdir(parents=True, exist_ok=True)
    _chown(node.directory.parent)
    _chown(node.directory)
    subprocess.run(
        _as_cluster_owner(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(node.directory),
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


def _configure(node: Node, settings: ClusterSettings) -> None:
    header = "# Written by RiskAtlas (app/cluster/nodes.py) at every start: edits are lost.\n"
    _write(
        node,
        CONF_FILE,
        header
        + (
            "listen_addresses = '127.0.0.1'\n"
            f"port = {node.port}\n"
            f"unix_socket_directories = '{node.directory}'\n"
            "unix_socket_permissions = 0700\n"
            "password_encryption = 'scram-sha-256'\n"
            "shared_preload_libraries = 'citus'\n"
            f"shared_buffers = {settings.shared_buffers}\n"
            "work_mem = 32MB\n"
            "maintenance_work_mem = 256MB\n"
            "max_connections = 300\n"
            # Multi-shard writes commit with two-phase commit.
            "max_prepared_transactions = 300\n"
            "synchronous_commit = off\n"
            "jit = off\n"
        ),
    )
    main_conf = node.directory / "postgresql.conf"
    include = f"include '{CONF_FILE}'\n"
    if include not in main_conf.read_text(encoding="utf-8").splitlines(keepends=True):
        with main_conf.open("a", encoding="utf-8") as conf:
            conf.write("\n# RiskAtlas settings, last so that they win\n" + include)
    _write(
        node,
        "pg_hba.conf",
        header
        + (
            "# TYPE  DATABASE  USER      ADDRESS        METHOD\n"
            f"local   all       {SUPERUSER}                 peer map=riskatlas\n"
            "host    all       all       127.0.0.1/32   scram-sha-256\n"
        ),
    )
    os_users = dict.fromkeys([_cluster_owner().pw_name, "root" if os.geteuid() == 0 else ""])
    _write(
        node,
        "pg_ident.conf",
        header + "".join(f"riskatlas  {user}  {SUPERUSER}\n" for user in os_users if user),
    )


def _pg_ctl(node: Node, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = _as_cluster_owner([str(PG_BIN / "pg_ctl"), "-D", str(node.directory), *args])
    return subprocess.run(cmd, check=False, capture_output=True, text=True)


def is_running(node: Node) -> bool:
    """True when the node's postmaster is up."""
    return (node.directory / "PG_VERSION").exists() and _pg_ctl(node, "status").returncode == 0


def start(node: Node, settings: ClusterSettings) -> None:
    """Initialise (once), configure and start the node."""
    if not (node.directory / "PG_VERSION").exists():
        _init(node)
    _configure(node, settings)
    if is_running(node):
        _pg_ctl(node, "reload")
        return
    log = node.directory / "server.log"
    result = _pg_ctl(node, "-l", str(log), "-w", "-t", "60", "start")
    if result.returncode != 0:
        raise ClusterError(f"{node.name} did not start: {result.stderr.strip()} (see {log})")


def stop(node: Node) -> bool:
    """Stop the node if it runs; True when it was running."""
    if not is_running(node):
        return False
    result = _pg_ctl(node, "-m", "fast", "-w", "stop")
    if result.returncode != 0:
        raise ClusterError(f"{node.name} did not stop: {result.stderr.strip()}")
    return True


def admin(node: Node, database: str = "postgres") -> AbstractContextManager[psycopg.Connection]:
    """A superuser connection over the node's Unix socket (peer authentication)."""
    return superuser_connection(node.directory, node.port, database)


def password(settings: ClusterSettings, role: str) -> str:
    """The cluster's password of `role` (generated at the first `cluster up`)."""
    return ensure_password(settings.data_dir, role)


def ensure_roles(node: Node, settings: ClusterSettings) -> None:
    """The owner and app roles (as the embedded cluster makes them) and every password."""
    with admin(node) as conn:
        for role in ROLES:
            verifier = conn.pgconn.encrypt_password(
                password(settings, role).encode(), role.encode(), b"scram-sha-256"
            ).decode()
            if role == SUPERUSER:
                conn.execute(
                    sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                        sql.Identifier(role), sql.Literal(verifier)
                    )
                )
                continue
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
        # Objects the owner's migrations create reach the workers when a distributed
        # table needs them (migration 0020 distributes the functions its triggers call),
        # not at once: at once, 0001's `CREATE EXTENSION IF NOT EXISTS postgis` would have
        # the owner re-register the superuser's extension on the workers, which it may not.
        # And its migrations may create triggers on distributed tables (0020 says which
        # triggers a shard can run).
        for setting in (
            "citus.create_object_propagation TO 'deferred'",
            "citus.enable_unsafe_triggers TO on",
        ):
            conn.execute(sql.SQL("ALTER ROLE {} SET " + setting).format(sql.Identifier(OWNER_ROLE)))
        # Joins of a child to its enterprise by id alone (not by county and id) are
        # repartitioned by id; docs/scaling.md says which queries pay for it.
        for role in (OWNER_ROLE, APP_ROLE):
            conn.execute(
                sql.SQL("ALTER ROLE {} SET citus.enable_repartition_joins TO on").format(
                    sql.Identifier(role)
                )
            )
        # The API's statements are short: one connection per worker runs a statement's
        # tasks on that worker in turn. More are opened to run them in parallel and closed
        # at the transaction's end (one is kept), so every request paid for new connections:
        # a tile's version read under 4 clients, p50 154-245 ms against 76 with one.
        conn.execute(
            sql.SQL("ALTER ROLE {} SET citus.max_adaptive_executor_pool_size TO 1").format(
                sql.Identifier(APP_ROLE)
            )
        )


def ensure_database(node: Node, settings: ClusterSettings) -> None:
    """The database, owned by the owner role, with citus, PostGIS and the app role's grants.

    Citus is created first (it must be the first extension loaded), on every node; the
    node-to-node passwords go into pg_dist_authinfo (nodeid 0: towards every node).
    """
    name = settings.database_name
    database = sql.Identifier(name)
    with admin(node) as conn:
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if row is None:
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(database, sql.Identifier(OWNER_ROLE))
            )
        conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(database))
        conn.execute(
            sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(
                database, sql.Identifier(APP_ROLE)
            )
        )
    with admin(node, name) as conn:
        citus = conn.execute("SELECT to_regclass('pg_catalog.pg_dist_node')").fetchone()
        registered = (
            citus is not None
            and citus[0] is not None
            and conn.execute("SELECT 1 FROM pg_dist_node LIMIT 1").fetchone() is not None
        )
        if not node.is_coordinator and registered:
            # A registered worker: the coordinator owns its schema and grants now.
            return
        for extension in ("citus", "postgis"):
            if not conn.execute(
                "SELECT 1 FROM pg_extension WHERE extname = %s", (extension,)
            ).fetchone():
                conn.execute(sql.SQL("CREATE EXTENSION {}").format(sql.Identifier(extension)))
        for role in ROLES:
            conn.execute(
                "INSERT INTO pg_dist_authinfo (nodeid, rolename, authinfo) VALUES (0, %s, %s)"
                " ON CONFLICT (rolename, nodeid) DO UPDATE SET authinfo = EXCLUDED.authinfo",
                (role, f"password={password(settings, role)}"),
            )
        grant_app_role(conn, OWNER_ROLE, APP_ROLE)


def register_workers(coordinator: Node, workers: list[Node], settings: ClusterSettings) -> None:
    """Tell the coordinator where it and its workers are (idempotent)."""
    with admin(coordinator, settings.database_name) as conn:
        conn.execute("SELECT citus_set_coordinator_host('127.0.0.1', %s)", (coordinator.port,))
        known = {
            port
            for (port,) in conn.execute(
                "SELECT nodeport FROM pg_dist_node WHERE groupid <> 0"
            ).fetchall()
        }
        for worker in workers:
            if worker.port not in known:
                conn.execute("SELECT citus_add_node('127.0.0.1', %s)", (worker.port,))


def url(settings: ClusterSettings, role: str) -> str:
    """A libpq URL of the coordinator's database as `role`."""
    return (
        f"postgresql://{role}:{quote(password(settings, role), safe='')}@127.0.0.1:"
        f"{settings.port}/{settings.database_name}"
    )
