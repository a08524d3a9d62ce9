"""`riskatlas cluster up|down|status|env`: the local Citus cluster as one unit."""

import os
import subprocess
import sys

from app.cluster import build, nodes
from app.cluster.config import ClusterSettings
from app.db_roles import APP_ROLE, OWNER_ROLE
from app.settings import PROJECT_ROOT


def environment(settings: ClusterSettings) -> dict[str, str]:
    """The variables that point RiskAtlas (API, CLI, tests) at the coordinator."""
    return {
        "RISKATLAS_DATABASE_URL": nodes.url(settings, APP_ROLE),
        "RISKATLAS_OWNER_DATABASE_URL": nodes.url(settings, OWNER_ROLE),
        # Layer versions are bumped on the workers, whose notifications never reach the
        # API's connection to the coordinator: read them from the table instead.
        "RISKATLAS_TILE_VERSIONS": "query",
    }


def start(settings: ClusterSettings) -> list[nodes.Node]:
    """Build Citus if needed; start every node; roles, database, extensions, workers."""
    print(build.ensure_citus(settings), flush=True)
    every = nodes.nodes(settings)
    coordinator, workers = every[0], every[1:]
    for node in every:
        nodes.start(node, settings)
        nodes.ensure_roles(node, settings)
    # Workers first: adding a worker copies the coordinator's metadata to it.
    for node in [*workers, coordinator]:
        nodes.ensure_database(node, settings)
    nodes.register_workers(coordinator, workers, settings)
    return every


def up(settings: ClusterSettings, *, setup: bool = True) -> str:
    """Start the cluster, then migrate it and load China and the demo (`riskatlas setup`)."""
    every = start(settings)
    if setup:
        # A process of its own: the CLI's settings are read once per process.
        env = {**os.environ, **environment(settings), "PYTHONPATH": str(PROJECT_ROOT)}
        result = subprocess.run([sys.executable, "-m", "app.cli", "setup"], env=env, check=False)
        if result.returncode != 0:
            raise nodes.ClusterError("setting up the coordinator's database failed (above)")
    return f"citus cluster up: {describe(every)}\n" + env_lines(settings)


def down(settings: ClusterSettings) -> str:
    """Stop the coordinator, then the workers."""
    stopped = [node.name for node in nodes.nodes(settings) if nodes.stop(node)]
    return f"citus cluster stopped ({', '.join(stopped) or 'nothing was running'})"


def describe(every: list[nodes.Node]) -> str:
    """One line: each node, its port and state."""
    return ", ".join(
        f"{n.name} 127.0.0.1:{n.port} {'running' if nodes.is_running(n) else 'stopped'}"
        for n in every
    )


def status(settings: ClusterSettings) -> str:
    """Each node's state; the workers the coordinator knows; whether Citus is built."""
    every = nodes.nodes(settings)
    lines = [f"citus cluster in {settings.data_dir}: {describe(every)}"]
    if not build.is_installed():
        reason = build.unavailable_reason(settings)
        lines.append(f"citus extension not installed ({reason or 'built by `cluster up`'})")
    coordinator = every[0]
    if nodes.is_running(coordinator):
        with nodes.admin(coordinator) as conn:
            if not conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (settings.database_name,)
            ).fetchone():
                lines.append(f"no database {settings.database_name} yet (`cluster up`)")
                return "\n".join(lines)
        with nodes.admin(coordinator, settings.database_name) as conn:
            active = conn.execute(
                "SELECT string_agg(node_name || ':' || node_port, ', ' ORDER BY node_port)"
                " FROM citus_get_active_worker_nodes()"
            ).fetchone()
            distributed = conn.execute(
                "SELECT count(*) FILTER (WHERE partmethod = 'h'),"
                " count(*) FILTER (WHERE partmethod = 'n') FROM pg_dist_partition"
            ).fetchone()
        assert active is not None and distributed is not None
        lines.append(f"active workers: {active[0] or 'none'}")
        lines.append(
            f"tables: {distributed[0]} distributed by county_code, {distributed[1]} reference"
        )
    return "\n".join(lines)


def env_lines(settings: ClusterSettings) -> str:
    """`export` lines for a shell (they carry the passwords: for this machine's user only)."""
    return "\n".join(f"export {k}='{v}'" for k, v in environment(settings).items())
