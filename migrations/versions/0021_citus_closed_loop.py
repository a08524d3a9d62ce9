"""citus closed loop

On a database with the citus extension, distribute the closed-loop history
(inspections, hidden-danger events, evidence photos) by county_code, co-located with the
enterprises and hidden dangers (migrations/sql/0021_citus_closed_loop.sql,
docs/scaling.md). Without citus: nothing.

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-29 15:00:00
"""

import importlib.util
from pathlib import Path
from types import ModuleType

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

SQL = Path(__file__).resolve().parent.parent / "sql" / "0021_citus_closed_loop.sql"


def _load_0020() -> ModuleType:
    """Migration 0020, for its probe for citus and its statement splitter (one home)."""
    path = Path(__file__).resolve().parent / "0020_citus_distribution.py"
    spec = importlib.util.spec_from_file_location("riskatlas_migration_0020", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_citus = _load_0020()


def upgrade() -> None:
    if not _citus._distributed():
        return
    with op.get_context().autocommit_block():
        for statement in _citus.statements(SQL.read_text(encoding="utf-8")):
            op.execute(statement)


def downgrade() -> None:
    if _citus._distributed():
        raise NotImplementedError(
            "a distributed database is not un-distributed: restore a single-node backup"
        )
