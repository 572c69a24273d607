"""one pending draw per body

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 01:50:00

A body (council or delegation) may have at most one draw committed and waiting
for its seed: draw shopping is refused. Where a database already holds several,
the first is kept and the later ones are cancelled.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = "status = 'committed' AND round = 0"


def upgrade() -> None:
    op.execute(
        "UPDATE draws SET status = 'cancelled' WHERE status = 'committed' AND round = 0 "
        "AND EXISTS (SELECT 1 FROM draws AS earlier WHERE earlier.body = draws.body "
        "AND earlier.scope = draws.scope AND earlier.scope_id = draws.scope_id "
        "AND earlier.status = 'committed' AND earlier.round = 0 AND earlier.id < draws.id)"
    )
    with op.batch_alter_table('draws', schema=None) as batch_op:
        batch_op.create_index(
            'uq_draws_one_pending',
            ['body', 'scope', 'scope_id'],
            unique=True,
            sqlite_where=sa.text(PENDING),
            postgresql_where=sa.text(PENDING),
        )


def downgrade() -> None:
    with op.batch_alter_table('draws', schema=None) as batch_op:
        batch_op.drop_index(
            'uq_draws_one_pending',
            sqlite_where=sa.text(PENDING),
            postgresql_where=sa.text(PENDING),
        )
