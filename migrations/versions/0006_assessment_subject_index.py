"""assessment subject index

An enterprise's dossier reads the latest grading records of the enterprise, its risk points
and its hazard sources: index the append-only history by subject, newest first.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 11:00:00
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX ix_assessments_subject "
               "ON assessments (subject_type, subject_id, assessed_at DESC)")


def downgrade() -> None:
    op.drop_index("ix_assessments_subject", table_name="assessments")
