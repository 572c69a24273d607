"""languages: the one a person chose (/language) and a branch's own (/branch language)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 19:45:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0021'
down_revision: str | None = '0020'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMNs, not a batch: on SQLite a batch would rebuild the persons
    # table, and dropping the old one cascades to everything a person owns.
    op.add_column('persons', sa.Column('language', sa.String(length=16), nullable=True))
    op.add_column('branches', sa.Column('language', sa.String(length=16), nullable=True))


def downgrade() -> None:
    # SQLite 3.35+ drops a column in place (no rebuild, no cascade).
    op.drop_column('branches', 'language')
    op.drop_column('persons', 'language')
