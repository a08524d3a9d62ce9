"""planning parks

Reserved for issue 14: chemical parks, planning rule sets, saved checks; filled by that issue's work.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29 08:30:00
"""

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
