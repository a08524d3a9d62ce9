"""wardens leads idempotency

Reserved for issue 13: patrol leads, tip-offs, idempotency keys; filled by that issue's work.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 08:30:00
"""

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
