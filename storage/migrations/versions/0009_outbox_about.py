"""outbox rows name the person they are about

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 01:50:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('about_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_outbox_about_id'), ['about_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_outbox_about_id_persons'), 'persons', ['about_id'], ['id'], ondelete='SET NULL')


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_outbox_about_id_persons'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_outbox_about_id'))
        batch_op.drop_column('about_id')
