"""Lineage: which assets an asset came from, and the record a re-run stamps.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04

asset_parents holds one edge per (child, parent, kind): recreated_from and
varied_from (`alice recreate` / `alice vary`), reference (a provider request's
input files) and graph_input (a ComfyUI graph's or A1111 img2img's input
image whose content is in the catalog). Edges point at assets, not paths, so
they survive files being moved; deleting either asset drops the edge.

generation_requests.record_extra keeps the fields a re-run adds to the record
stamped into its outputs (what it was varied from, the overrides, the
parents), so a request finished by another process stamps the same record.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('asset_parents',
    sa.Column('child_id', sa.BigInteger(), nullable=False),
    sa.Column('parent_id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("kind IN ('recreated_from', 'varied_from', 'reference', 'graph_input')",
                       name=op.f('ck_asset_parents_kind_known')),
    sa.CheckConstraint('child_id <> parent_id', name=op.f('ck_asset_parents_not_self')),
    sa.ForeignKeyConstraint(['child_id'], ['assets.id'], name=op.f('fk_asset_parents_child_id_assets'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['parent_id'], ['assets.id'], name=op.f('fk_asset_parents_parent_id_assets'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('child_id', 'parent_id', 'kind', name=op.f('pk_asset_parents'))
    )
    op.create_index(op.f('ix_asset_parents_parent_id'), 'asset_parents', ['parent_id'], unique=False)
    op.add_column('generation_requests', sa.Column('record_extra', postgresql.JSONB(astext_type=sa.Text()),
                                                   server_default=sa.text("'{}'::jsonb"), nullable=False))


def downgrade() -> None:
    op.drop_column('generation_requests', 'record_extra')
    op.drop_index(op.f('ix_asset_parents_parent_id'), table_name='asset_parents')
    op.drop_table('asset_parents')
