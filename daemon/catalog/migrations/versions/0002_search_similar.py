"""Search and similarity: effective rating, perceptual hash, indexes for the search mix.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24

`rating` is the stars a person sees: the user's if set, else the computed
ones, else 0 (unrated). Stored and generated, so sorting and filtering by it
can use a plain btree index and no writer can forget to update it.

`phash` is a 64-bit perceptual hash (pipeline/perceptual.py) as a signed
BIGINT. `phash_bands` holds its four 16-bit quarters, each tagged with its
position (band << 16 | value), in one GIN-indexed array: two hashes within
Hamming distance d share at least one quarter within distance d // 4, which
is what assets.similar probes for (multi-index hashing).

The (x, created_at, id) indexes serve "filter by x, newest first" with keyset
pagination without sorting; the search vector already has its GIN index.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('assets', sa.Column('rating', sa.SmallInteger(),
                                      sa.Computed('coalesce(user_stars, stars, 0)', persisted=True),
                                      nullable=False))
    op.add_column('assets', sa.Column('phash', sa.BigInteger(), nullable=True))
    op.add_column('assets', sa.Column('phash_bands', postgresql.ARRAY(sa.Integer()), nullable=True))
    op.create_index('ix_assets_rating_created_at_id', 'assets', ['rating', 'created_at', 'id'], unique=False)
    op.create_index('ix_assets_tool_created_at_id', 'assets', ['tool', 'created_at', 'id'], unique=False)
    op.create_index('ix_assets_project_id_created_at_id', 'assets', ['project_id', 'created_at', 'id'],
                    unique=False)
    op.create_index('ix_assets_phash_bands', 'assets', ['phash_bands'], unique=False, postgresql_using='gin')


def downgrade() -> None:
    op.drop_index('ix_assets_phash_bands', table_name='assets', postgresql_using='gin')
    op.drop_index('ix_assets_project_id_created_at_id', table_name='assets')
    op.drop_index('ix_assets_tool_created_at_id', table_name='assets')
    op.drop_index('ix_assets_rating_created_at_id', table_name='assets')
    op.drop_column('assets', 'phash_bands')
    op.drop_column('assets', 'phash')
    op.drop_column('assets', 'rating')
