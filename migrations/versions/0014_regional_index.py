"""regional index

Reserved for issue 11: composite regional index, breaks, history; filled by that issue's work.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29 08:30:00
"""

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
