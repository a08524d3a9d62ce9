"""Layer and tile-cell data versions, kept in memory from PostgreSQL notifications.

Triggers bump `layer_versions` and NOTIFY `riskatlas_layers` with `layer=version`; the
point tables' triggers also bump `tile_versions`, a version per quadtree cell of zooms
0…10 around each write, and NOTIFY `riskatlas_tiles` with `layer/z/x/y=version;…`.
PostgreSQL delivers notifications only when the writing transaction commits. A listener
thread per API process keeps the newest versions, so a cached tile is served without a
database round trip. While the listener is not connected (start-up, a dropped
connection), versions are read from the tables instead: never a stale answer.
"""

import logging
import threading
import time

import psycopg
from sqlalchemy import TextClause, text
from sqlalchemy.orm import Session

from app.cluster import routing

CHANNEL = "riskatlas_layers"
TILES_CHANNEL = "riskatlas_tiles"
# Tokens a writer sends just before its commit (app/tiles/read_your_writes.py).
SYNC_CHANNEL = "riskatlas_sync"
# Versions are kept per cell of zooms 0…VERSION_ZOOM (tile_version_cells_sql in
# migrations/sql/0016_tile_preaggregates.sql); deeper tiles take their ancestor's.
VERSION_ZOOM = 10
log = logging.getLogger(__name__)

CellKey = tuple[str, int, int, int]


def version_cell(layer: str, z: int, x: int, y: int) -> CellKey:
    """The versioned cell a tile takes its version from: itself, or its zoom-10 ancestor."""
    if z <= VERSION_ZOOM:
        return (layer, z, x, y)
    shift = z - VERSION_ZOOM
    return (layer, VERSION_ZOOM, x >> shift, y >> shift)


EPOCH_PREFIX = "tiles:"


def epoch_layer(layer: str) -> str:
    """The layer_versions row of a point layer's tile epoch (TRUNCATE, restore, rebuild)."""
    return f"{EPOCH_PREFIX}{layer}"


# On one PostgreSQL `layer_versions` and `tile_versions` are tables. On Citus they are
# views summing per-county counters (docs/scaling.md §1.1), and Citus sums a view over every
# key before a filter on it applies (1 s a tile at national scale): there the counters are
# read with the filter, then summed (a layer's in two subqueries: as one UNION of the
# coordinator's epochs and the shards' counters it took 160 ms, as two 20 ms).
_LAYER_VERSION = "(SELECT version FROM layer_versions WHERE layer = :{key})"
_LAYER_VERSION_CLUSTER = (
    "CAST(coalesce((SELECT version FROM layer_epochs WHERE layer = :{key}), 0)"
    " + coalesce((SELECT sum(version) FROM layer_county_versions WHERE layer = :{key}), 0)"
    " AS bigint)"
)
_CELL_VERSION = (
    "(SELECT {version} FROM {table} WHERE layer = :layer"
    " AND zoom = :z AND tile_x = :x AND tile_y = :y)"
)


def _on_cluster(session: Session) -> bool:
    return "layer_county_versions" in routing.distributed_tables(session.connection())


def _layer_version_sql(session: Session, key: str) -> str:
    return (_LAYER_VERSION_CLUSTER if _on_cluster(session) else _LAYER_VERSION).format(key=key)


def _tile_version_sql(session: Session) -> TextClause:
    if _on_cluster(session):
        # A point layer's tile epoch rises only on the coordinator there (TRUNCATE, restore,
        # rebuild: migrations 0020 and 0022), so one table of its own answers it.
        epoch = "(SELECT version FROM layer_epochs WHERE layer = :epoch)"
        cell = _CELL_VERSION.format(version="sum(version)::bigint", table="tile_county_versions")
    else:
        epoch = _LAYER_VERSION.format(key="epoch")
        cell = _CELL_VERSION.format(version="version", table="tile_versions")
    return text(f"SELECT {epoch}, coalesce({cell}, 0)")


def query_tile_version(session: Session, layer: str, z: int, x: int, y: int) -> tuple[int, int]:
    """Read a point-layer tile's (epoch, cell version) from the database."""
    cell = version_cell(layer, z, x, y)
    row = session.execute(
        _tile_version_sql(session),
        {"epoch": epoch_layer(layer), "layer": cell[0], "z": cell[1], "x": cell[2], "y": cell[3]},
    ).one()
    return int(row[0]), int(row[1])


def query_version(session: Session, layer: str) -> int:
    """Read a layer's version from the database."""
    version: int = session.execute(
        text(f"SELECT {_layer_version_sql(session, 'layer')}"), {"layer": layer}
    ).scalar_one()
    return version


class LayerVersions:
    """The newest version of every layer, as announced by the database."""

    def __init__(self, dsn: str | None) -> None:
        self._dsn = dsn
        self._versions: dict[str, int] = {}
        self._cells: dict[CellKey, int] = {}
        self._live = False
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._expected: dict[str, threading.Event] = {}

    @property
    def live(self) -> bool:
        """True while the listener is connected and the versions are current."""
        return self._live

    def cached(self, layer: str) -> int | None:
        """The layer's version from memory, or None when it must be read from the table."""
        return self._versions.get(layer) if self._live else None

    def cached_tile(self, layer: str, z: int, x: int, y: int) -> tuple[int, int] | None:
        """A point-layer tile's (epoch, cell version) from memory, or None when they must
        be read from the tables. A cell never written has version 0."""
        if not self._live:
            return None
        epoch = self._versions.get(epoch_layer(layer))
        if epoch is None:
            return None
        return epoch, self._cells.get(version_cell(layer, z, x, y), 0)

    def expect(self, token: str) -> threading.Event:
        """An event set once the listener hears `token` on SYNC_CHANNEL (register it before
        the token is sent)."""
        heard = threading.Event()
        self._expected[token] = heard
        return heard

    def forget(self, token: str) -> None:
        """Stop expecting `token` (its transaction did not commit, or it came too late)."""
        self._expected.pop(token, None)

    def start(self) -> None:
        """Start listening in a daemon thread (no-op without a DSN)."""
        if self._dsn is None or self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._listen_forever, args=(self._dsn,), name="layer-versions", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop listening."""
        self._stopping.set()
        self._live = False

    def _listen_forever(self, dsn: str) -> None:
        while not self._stopping.is_set():
            try:
                self._listen(dsn)
            except psycopg.Error as error:
                log.warning("layer version listener lost its connection: %s", error)
            self._live = False
            self._stopping.wait(1.0)

    def _listen(self, dsn: str) -> None:
        with psycopg.connect(dsn, autocommit=True) as connection:
            # Listen first, then read: a bump between the two is not lost.
            connection.execute(f"LISTEN {CHANNEL}")
            connection.execute(f"LISTEN {TILES_CHANNEL}")
            connection.execute(f"LISTEN {SYNC_CHANNEL}")
            self._read_tables(connection)
            while not self._stopping.is_set():
                for notice in connection.notifies(timeout=1.0):
                    if not self._apply(notice.channel, notice.payload):
                        break
                if not self._live:
                    self._read_tables(connection)

    def _apply(self, channel: str, payload: str) -> bool:
        """Apply one notification; False when the tables must be read again first."""
        if channel == SYNC_CHANNEL:
            # Another process's writer's token, or one of ours: everything sent before it
            # has been applied.
            heard = self._expected.pop(payload, None)
            if heard is not None:
                heard.set()
            return True
        if channel == TILES_CHANNEL:
            for entry in payload.split(";"):
                cell, _, version = entry.partition("=")
                layer, z, x, y = cell.split("/")
                self._bump_cell((layer, int(z), int(x), int(y)), int(version))
            return True
        layer, _, version = payload.partition("=")
        if int(version) <= self._versions.get(layer, 0):
            return True
        if layer.startswith(EPOCH_PREFIX):
            # A new tile epoch (restore, TRUNCATE, rebuild): a restore may have put cell
            # versions back. Until they are read again, requests ask the tables. (The
            # connection cannot be queried while notifications are being read.)
            self._live = False
            return False
        self._versions[layer] = int(version)
        return True

    def _read_tables(self, connection: psycopg.Connection) -> None:
        """Read every layer and cell version from the tables, then serve from memory."""
        rows = connection.execute("SELECT layer, version FROM layer_versions").fetchall()
        for layer, version in rows:
            self._versions[layer] = max(version, self._versions.get(layer, 0))
        cells = connection.execute(
            "SELECT layer, zoom, tile_x, tile_y, version FROM tile_versions"
        ).fetchall()
        self._cells = {(layer, z, x, y): version for layer, z, x, y, version in cells}
        self._live = True

    def _bump_cell(self, cell: CellKey, version: int) -> None:
        if version > self._cells.get(cell, 0):
            self._cells[cell] = version


def wait_until_live(versions: LayerVersions, seconds: float = 5.0) -> bool:
    """Wait for the listener to connect (for start-up and tests)."""
    deadline = time.monotonic() + seconds
    while not versions.live and time.monotonic() < deadline:
        time.sleep(0.02)
    return versions.live
