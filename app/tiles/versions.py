"""Layer data versions, kept in memory from PostgreSQL notifications.

Triggers bump `layer_versions` and NOTIFY `riskatlas_layers` with `layer=version`;
PostgreSQL delivers notifications only when the writing transaction commits. A listener
thread per API process keeps the newest versions, so a cached tile is served without a
database round trip. While the listener is not connected (start-up, a dropped
connection), versions are read from the table instead: never a stale answer.
"""

import logging
import threading
import time

import psycopg
from sqlalchemy import text
from sqlalchemy.orm import Session

CHANNEL = "riskatlas_layers"
log = logging.getLogger(__name__)


def query_version(session: Session, layer: str) -> int:
    """Read a layer's version from the database."""
    version: int = session.execute(
        text("SELECT version FROM layer_versions WHERE layer = :layer"), {"layer": layer}
    ).scalar_one()
    return version


class LayerVersions:
    """The newest version of every layer, as announced by the database."""

    def __init__(self, dsn: str | None) -> None:
        self._dsn = dsn
        self._versions: dict[str, int] = {}
        self._live = False
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def live(self) -> bool:
        """True while the listener is connected and the versions are current."""
        return self._live

    def cached(self, layer: str) -> int | None:
        """The layer's version from memory, or None when it must be read from the table."""
        return self._versions.get(layer) if self._live else None

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
            rows = connection.execute("SELECT layer, version FROM layer_versions").fetchall()
            self._versions.update(dict(rows))
            self._live = True
            while not self._stopping.is_set():
                for notice in connection.notifies(timeout=1.0):
                    layer, _, version = notice.payload.partition("=")
                    if int(version) > self._versions.get(layer, 0):
                        self._versions[layer] = int(version)


def wait_until_live(versions: LayerVersions, seconds: float = 5.0) -> bool:
    """Wait for the listener to connect (for start-up and tests)."""
    deadline = time.monotonic() + seconds
    while not versions.live and time.monotonic() < deadline:
        time.sleep(0.02)
    return versions.live
