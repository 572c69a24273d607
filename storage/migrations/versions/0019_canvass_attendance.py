"""canvass_attendance: who came to a canvassing session (checked in, or marked by an organiser)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 17:45:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0019'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('canvass_attendance',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('marked_by', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['marked_by'], ['persons.id'], name=op.f('fk_canvass_attendance_marked_by_persons'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_canvass_attendance_person_id_persons'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['session_id'], ['canvass_sessions.id'], name=op.f('fk_canvass_attendance_session_id_canvass_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_canvass_attendance')),
    sa.UniqueConstraint('session_id', 'person_id', name=op.f('uq_canvass_attendance_session_id_person_id'))
    )
    with op.batch_alter_table('canvass_attendance', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_canvass_attendance_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_canvass_attendance_session_id'), ['session_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('canvass_attendance', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_canvass_attendance_session_id'))
        batch_op.drop_index(batch_op.f('ix_canvass_attendance_person_id'))
    op.drop_table('canvass_attendance')
