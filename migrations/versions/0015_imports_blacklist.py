"""imports blacklist

Reserved for issue 15: imports, blacklist, statutory tables; filled by that issue's work.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-29 08:30:00
"""

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
