"""The `riskatlas cluster` sub-command (registered by app/cli.py)."""

import argparse
from typing import Any

from app.cluster import service
from app.cluster.config import ClusterSettings


def _cluster(args: argparse.Namespace, _settings: Any) -> None:
    settings = ClusterSettings()
    if args.workers is not None:
        settings.workers = args.workers
    if args.action == "up":
        print(service.up(settings, setup=not args.no_setup))
    elif args.action == "down":
        print(service.down(settings))
    elif args.action == "status":
        print(service.status(settings))
    else:
        print(service.env_lines(settings))


def add_parser(commands: Any) -> None:
    """Add `cluster up|down|status|env` to the command's sub-parsers."""
    cluster = commands.add_parser(
        "cluster", help="a local Citus cluster: coordinator and workers on loopback"
    )
    cluster.add_argument("action", choices=["up", "down", "status", "env"])
    cluster.add_argument("--workers", type=int, help="number of workers (default 2)")
    cluster.add_argument(
        "--no-setup", action="store_true", help="up: start only (no migrations, no loads)"
    )
    cluster.set_defaults(handler=_cluster)
