"""The second (pixel) stage's to-do list: assets filed whose pixels are not yet looked at.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04

Filing reads, hashes, checks and records a file without decoding its pixels
(pipeline/importer.py); the perceptual hash, the technical quality and the
decode that checks the pixels run afterwards (daemon/ingest/pixel_stage.py)
and clear this flag. A partial index keeps the to-do list cheap to find
however large the catalog grows.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('assets', sa.Column('pixels_pending', sa.Boolean(), nullable=False,
                                      server_default=sa.text('false')))
    op.create_index('ix_assets_pixels_pending', 'assets', ['id'], postgresql_where=sa.text('pixels_pending'))


def downgrade() -> None:
    op.drop_index('ix_assets_pixels_pending', table_name='assets')
    op.drop_column('assets', 'pixels_pending')
