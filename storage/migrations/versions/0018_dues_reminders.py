"""dues renewals: the dues a person was reminded to renew (once per date)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 18:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('persons') as batch:
        batch.add_column(sa.Column('dues_reminded_for', sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('persons') as batch:
        batch.drop_column('dues_reminded_for')
