"""tile preaggregates

Reserved for issue 16: tile pre-aggregates and per-cell versions; filled by that issue's work.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-29 08:30:00
"""

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
