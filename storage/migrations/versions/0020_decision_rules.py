"""polls' decision rules (quorum, threshold, an abstain option) and a proposal vote's reason

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 17:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0020'
down_revision: str | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMNs, not a batch: on SQLite a batch would rebuild the polls
    # table, and dropping the old one cascades to the rolls and the ballots.
    op.add_column('polls', sa.Column('quorum', sa.String(length=16), nullable=True))
    op.add_column('polls', sa.Column('threshold', sa.String(length=16), nullable=True))
    op.add_column(
        'polls', sa.Column('abstain', sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    op.add_column('ballots', sa.Column('reason', sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column('ballots', 'reason')
    # SQLite 3.35+ drops a column in place (no rebuild, no cascade).
    op.drop_column('polls', 'abstain')
    op.drop_column('polls', 'threshold')
    op.drop_column('polls', 'quorum')
