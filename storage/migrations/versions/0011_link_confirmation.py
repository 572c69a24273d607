"""link confirmation: when an identity was linked, and outbox rows to one account

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 02:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('identities', schema=None) as batch_op:
        batch_op.add_column(sa.Column('linked_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('to_platform', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('to_user_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('to_chat_id', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('to_chat_id')
        batch_op.drop_column('to_user_id')
        batch_op.drop_column('to_platform')
    with op.batch_alter_table('identities', schema=None) as batch_op:
        batch_op.drop_column('linked_at')
