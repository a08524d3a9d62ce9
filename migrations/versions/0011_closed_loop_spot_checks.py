"""closed loop spot checks

Reserved for issue 12: spot-check draws, key-supervision list, inspection audit; filled by that issue's work.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 08:30:00
"""

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
