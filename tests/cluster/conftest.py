"""Fixtures of the cluster tests: the API on a Citus cluster, beside a single-node twin.

Run with `make test-cluster` (RISKATLAS_CLUSTER_TESTS=1 pytest tests/cluster): the
local cluster (`riskatlas cluster up`, app/cluster) is started, and Citus built from the
vendored source first if needed; without the source, or without the variable, every test
here is skipped and says why. Each run makes two fresh databases with Ningxia's regions
and the same small demo: `riskatlas_ctest` on the cluster (distributed by migration 0020)
and `riskatlas_ctest_single` on the embedded PostGIS, so results can be compared.

The fixtures `engine` and `owner_engine` of tests/conftest.py are replaced by the
cluster's: `client`, `session` and `make_user` then serve the cluster, each test in a
transaction rolled back, as in the main suite.
"""

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app import embedded_db, migrate
from app.auth import tokens
from app.auth.models import User
from app.auth.passwords import hash_password
from app.cluster import build, nodes, service
from app.cluster.config import ClusterSettings
from app.db import get_search_session, get_session
from app.db_roles import APP_ROLE, OWNER_ROLE
from app.main import create_app
from app.regions.loader import load_regions
from app.risk import grading
from app.settings import get_settings
from app.sites.demo import generate_demo

DATABASE = "riskatlas_ctest"
SINGLE_DATABASE = "riskatlas_ctest_single"
PROVINCES = {"64"}
DEMO_SEED = 20240601
DEMO_ENTERPRISES = 300


@dataclass(frozen=True)
class Twin:
    """The same data on the cluster and on one PostgreSQL, as (app, owner) engines."""

    cluster: Engine
    cluster_owner: Engine
    single: Engine
    single_owner: Engine


def _psycopg(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.fixture(scope="session")
def cluster_settings() -> ClusterSettings:
    """The running local cluster with a fresh test database (skips when Citus cannot run)."""
    if os.environ.get("RISKATLAS_CLUSTER_TESTS") != "1":
        pytest.skip("cluster tests run with RISKATLAS_CLUSTER_TESTS=1 (make test-cluster)")
    settings = ClusterSettings(database_name=DATABASE)
    reason = build.unavailable_reason(settings)
    if reason:
        pytest.skip(f"no Citus cluster: {reason}")
    # Nodes are started first (once Citus is built), so a database left by an earlier run
    # is dropped on every node, stopped or not.
    if build.is_installed():
        for node in nodes.nodes(settings):
            nodes.start(node, settings)
            with nodes.admin(node) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    service.start(settings)
    return settings


def _prepare(owner_url: str, app_url: str) -> Engine:
    """Migrate, load Ningxia and the demo (committed), recount: the owner's engine."""
    migrate.upgrade(owner_url, app_url=app_url)
    owner = create_engine(owner_url)
    with owner.begin() as connection:
        load_regions(connection, provinces=PROVINCES)
    with Session(owner) as session, session.begin():
        generate_demo(session, seed=DEMO_SEED, enterprises=DEMO_ENTERPRISES)
        grading.rebuild(session, regrade=True)
        session.add(
            User(
                username="cluster-admin",
                role="admin",
                password_hash=hash_password("cluster-test-password"),
            )
        )
    return owner


@pytest.fixture(scope="session")
def twin(cluster_settings: ClusterSettings) -> Iterator[Twin]:
    """Both databases, prepared alike."""
    cluster_app = _psycopg(nodes.url(cluster_settings, APP_ROLE))
    cluster_owner = _prepare(_psycopg(nodes.url(cluster_settings, OWNER_ROLE)), cluster_app)
    embedded = get_settings()
    if embedded.embedded:
        embedded_db.start(embedded)
    embedded_db.drop_database(embedded, SINGLE_DATABASE)
    embedded_db.ensure_database(embedded, SINGLE_DATABASE)
    single_app, single_owner_url = (
        make_url(embedded._embedded_url(role))
        .set(database=SINGLE_DATABASE)
        .render_as_string(hide_password=False)
        for role in (APP_ROLE, OWNER_ROLE)
    )
    single_owner = _prepare(single_owner_url, single_app)
    engines = Twin(
        cluster=create_engine(cluster_app),
        cluster_owner=cluster_owner,
        single=create_engine(single_app),
        single_owner=single_owner,
    )
    yield engines
    for engine in (engines.cluster, cluster_owner, engines.single, single_owner):
        engine.dispose()


@pytest.fixture(scope="session")
def owner_engine(twin: Twin) -> Engine:
    """The cluster's database as its owner (replaces the main suite's fixture)."""
    return twin.cluster_owner


@pytest.fixture(scope="session")
def engine(twin: Twin) -> Engine:
    """The cluster's database as the API's role (replaces the main suite's fixture)."""
    return twin.cluster


def reader(engine: Engine) -> Iterator[TestClient]:
    """The API reading committed data through `engine`, signed in as its admin."""
    app = create_app()

    def engine_session() -> Iterator[Session]:
        with Session(engine) as session:
            yield session

    app.dependency_overrides[get_session] = engine_session
    # Searches too (with the planner's defaults: the same answers).
    app.dependency_overrides[get_search_session] = engine_session
    with Session(engine) as session:
        admin = session.scalars(select(User).where(User.username == "cluster-admin")).one()
        token, _ = tokens.issue(admin.id, admin.token_version, "access")
    with TestClient(app, raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


@pytest.fixture(scope="session")
def cluster_reader(twin: Twin) -> Iterator[TestClient]:
    """The API on the cluster's committed data."""
    yield from reader(twin.cluster)


@pytest.fixture(scope="session")
def single_reader(twin: Twin) -> Iterator[TestClient]:
    """The API on the single-node twin's committed data."""
    yield from reader(twin.single)
