"""sealed secret ballots, anonymous places on the roll, vacuumed_at

Secret ballots hold their choice sealed under a key kept outside the database
(bot/ballot_box.py) instead of in clear. A closed poll's plain choices are
dropped (its result was fixed at the close and stays; its ballots still count
in the turnout); the upgrade refuses while a secret poll is open, because its
ballots could not be sealed here without the key. The roll and open ballots
may hold no person (a voter who /forgot), and polls record when a closed
secret poll's tables were vacuumed.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 01:50:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _refuse_while_a_secret_poll_is_open() -> None:
    open_secret = op.get_bind().scalar(
        sa.text("SELECT count(*) FROM polls WHERE secret AND closed_at IS NULL")
    )
    if open_secret:
        raise RuntimeError(
            f"{open_secret} secret poll(s) are still open: close them (/poll close ID) "
            "before this upgrade, which seals secret ballots under a key outside the database"
        )


def _swap_secret_ballots(choice: sa.Column, copied: object) -> None:
    """Build secret_ballots anew with ``choice`` as its last column (SQLite cannot
    change a WITHOUT ROWID table in place), keeping each ballot's key and poll,
    with ``copied`` for the choice."""
    bind = op.get_bind()
    rows = [dict(r._mapping) for r in bind.execute(sa.text("SELECT key, poll_id FROM secret_ballots"))]
    op.drop_table('secret_ballots')
    table = op.create_table(
        'secret_ballots',
        sa.Column('key', sa.String(length=32), nullable=False),
        sa.Column('poll_id', sa.Integer(), nullable=False),
        choice,
        sa.ForeignKeyConstraint(['poll_id'], ['polls.id'], name=op.f('fk_secret_ballots_poll_id_polls'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_secret_ballots')),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table('secret_ballots', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_secret_ballots_poll_id'), ['poll_id'], unique=False)
    if rows:
        op.bulk_insert(table, [r | {choice.name: copied} for r in rows])


def upgrade() -> None:
    _refuse_while_a_secret_poll_is_open()
    _swap_secret_ballots(sa.Column('sealed', sa.LargeBinary(), nullable=True), None)
    with op.batch_alter_table('polls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('vacuumed_at', sa.DateTime(timezone=True), nullable=True))
    for table in ('poll_voters', 'ballots'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('person_id', existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    # Anonymous places and ballots (voters who /forgot) cannot go back to a
    # person: they go. Sealed choices cannot be unsealed here: they go too.
    _refuse_while_a_secret_poll_is_open()
    for table in ('poll_voters', 'ballots'):
        op.execute(f"DELETE FROM {table} WHERE person_id IS NULL")
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('person_id', existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table('polls', schema=None) as batch_op:
        batch_op.drop_column('vacuumed_at')
    _swap_secret_ballots(sa.Column('choice', sa.JSON(), nullable=False), [])
