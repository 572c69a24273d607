"""branch merges: a branch's history names the branches merged into it

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08 10:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('branch_transitions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('merged_from', sa.String(length=120), nullable=True))


def downgrade() -> None:
    # The merge steps themselves ('merged') would read as statuses: they go first.
    op.execute("DELETE FROM branch_transitions WHERE to_status = 'merged'")
    with op.batch_alter_table('branch_transitions', schema=None) as batch_op:
        batch_op.drop_column('merged_from')
