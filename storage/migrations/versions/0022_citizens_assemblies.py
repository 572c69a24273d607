"""citizens' assemblies: assemblies, registrants (no person), their draws, entrants and
invitations; the outbox may address an account that is no person (a registrant)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 19:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0022'
down_revision: str | None = '0021'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_RECIPIENT = "(person_id IS NULL) <> (branch_chat_id IS NULL)"
ONE_RECIPIENT = (
    "(person_id IS NULL) <> (branch_chat_id IS NULL) OR (person_id IS NULL AND "
    "branch_chat_id IS NULL AND to_platform IS NOT NULL AND to_chat_id IS NOT NULL)"
)
LIVE = "status IN ('committed', 'drawn')"


def upgrade() -> None:
    op.create_table('assemblies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('scope', sa.String(length=16), nullable=False),
    sa.Column('scope_id', sa.Integer(), nullable=False),
    sa.Column('area', sa.Text(), nullable=False),
    sa.Column('seats', sa.Integer(), nullable=False),
    sa.Column('sits_from', sa.Date(), nullable=False),
    sa.Column('sits_until', sa.Date(), nullable=False),
    sa.Column('register_by', sa.DateTime(timezone=True), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('categories', sa.JSON(), nullable=False),
    sa.Column('targets', sa.JSON(), nullable=False),
    sa.Column('tolerance', sa.Integer(), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('retention_days', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('purged_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by'], ['persons.id'], name=op.f('fk_assemblies_created_by_persons'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assemblies')),
    sa.UniqueConstraint('code', name=op.f('uq_assemblies_code'))
    )
    op.create_table('assembly_registrants',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('assembly_id', sa.Integer(), nullable=False),
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('chat_id', sa.String(length=64), nullable=False),
    sa.Column('locale', sa.String(length=16), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('household', sa.String(length=64), nullable=False),
    sa.Column('complete', sa.Boolean(), nullable=False),
    sa.Column('notice_version', sa.String(length=16), nullable=False),
    sa.Column('consented_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['assembly_id'], ['assemblies.id'], name=op.f('fk_assembly_registrants_assembly_id_assemblies'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assembly_registrants')),
    sa.UniqueConstraint('assembly_id', 'platform', 'user_id', name=op.f('uq_assembly_registrants_assembly_id_platform_user_id'))
    )
    with op.batch_alter_table('assembly_registrants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assembly_registrants_assembly_id'), ['assembly_id'], unique=False)
        batch_op.create_index('ix_assembly_registrants_account', ['platform', 'user_id'], unique=False)
    op.create_table('assembly_draws',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('assembly_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('record', sa.JSON(), nullable=False),
    sa.Column('record_hash', sa.String(length=64), nullable=False),
    sa.Column('seed_due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('seed', sa.Text(), nullable=True),
    sa.Column('witnesses', sa.JSON(), nullable=False),
    sa.Column('chosen_index', sa.Integer(), nullable=True),
    sa.Column('answer_within_hours', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('drawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['assembly_id'], ['assemblies.id'], name=op.f('fk_assembly_draws_assembly_id_assemblies'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by'], ['persons.id'], name=op.f('fk_assembly_draws_created_by_persons'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assembly_draws'))
    )
    with op.batch_alter_table('assembly_draws', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assembly_draws_assembly_id'), ['assembly_id'], unique=False)
        batch_op.create_index(
            'uq_assembly_draws_one_live',
            ['assembly_id'],
            unique=True,
            sqlite_where=sa.text(LIVE),
            postgresql_where=sa.text(LIVE),
        )
    op.create_table('assembly_entrants',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('draw_id', sa.Integer(), nullable=False),
    sa.Column('pseudonym', sa.String(length=16), nullable=False),
    sa.Column('registrant_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['draw_id'], ['assembly_draws.id'], name=op.f('fk_assembly_entrants_draw_id_assembly_draws'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['registrant_id'], ['assembly_registrants.id'], name=op.f('fk_assembly_entrants_registrant_id_assembly_registrants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assembly_entrants')),
    sa.UniqueConstraint('draw_id', 'pseudonym', name=op.f('uq_assembly_entrants_draw_id_pseudonym'))
    )
    with op.batch_alter_table('assembly_entrants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assembly_entrants_draw_id'), ['draw_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_assembly_entrants_registrant_id'), ['registrant_id'], unique=False)
    op.create_table('assembly_invitations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('draw_id', sa.Integer(), nullable=False),
    sa.Column('registrant_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('respond_by', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reminders_sent', sa.Integer(), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['draw_id'], ['assembly_draws.id'], name=op.f('fk_assembly_invitations_draw_id_assembly_draws'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['registrant_id'], ['assembly_registrants.id'], name=op.f('fk_assembly_invitations_registrant_id_assembly_registrants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assembly_invitations')),
    sa.UniqueConstraint('draw_id', 'registrant_id', name=op.f('uq_assembly_invitations_draw_id_registrant_id'))
    )
    with op.batch_alter_table('assembly_invitations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assembly_invitations_draw_id'), ['draw_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_assembly_invitations_registrant_id'), ['registrant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_assembly_invitations_respond_by'), ['respond_by'], unique=False)
    _recipient(OLD_RECIPIENT, ONE_RECIPIENT)


def _recipient(old: str, new: str) -> None:
    """Replace the outbox's check of who a row is for (SQLite rebuilds the table)."""
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_outbox_one_recipient'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_outbox_one_recipient'), sa.text(new))


def downgrade() -> None:
    op.execute(
        "DELETE FROM outbox WHERE person_id IS NULL AND branch_chat_id IS NULL"
    )
    _recipient(ONE_RECIPIENT, OLD_RECIPIENT)
    op.drop_table('assembly_invitations')
    op.drop_table('assembly_entrants')
    with op.batch_alter_table('assembly_draws', schema=None) as batch_op:
        batch_op.drop_index('uq_assembly_draws_one_live', sqlite_where=sa.text(LIVE), postgresql_where=sa.text(LIVE))
    op.drop_table('assembly_draws')
    op.drop_table('assembly_registrants')
    op.drop_table('assemblies')
