"""File records: each filed file's own tool and generation, searchable.

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-04

Files with the same pixels and different metadata share one asset (one
content_id, several file_hash values); until now only the first file's tool
and generation were kept. `file_records` holds one row per (asset, file_hash):
the tool, AI flag, evidence and generation that file's bytes carry, plus a
generated search vector over its prompt (A) and negative prompt (D).

`alice_tsvector_agg` concatenates tsvectors (the `||` operator as an
aggregate; NULL over no rows), so an asset's search vector is built from its
records' vectors without parsing the prompts again.

Existing assets get one record, for the file that defined them, from their
generation row; later files of an existing catalog are recorded when they
are filed again.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0008'
down_revision = '0006'
branch_labels = None
depends_on = None

SEARCH = ("setweight(to_tsvector('english'::regconfig, left(coalesce(prompt, ''), 100000)), 'A') || "
          "setweight(to_tsvector('english'::regconfig, left(coalesce(negative_prompt, ''), 100000)), 'D')")


def upgrade() -> None:
    op.create_table('file_records',
    sa.Column('asset_id', sa.BigInteger(), nullable=False),
    sa.Column('file_hash', sa.Text(), nullable=False),
    sa.Column('tool', sa.Text(), nullable=True),
    sa.Column('ai', sa.Boolean(), nullable=False),
    sa.Column('evidence', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"),
              nullable=False),
    sa.Column('prompt', sa.Text(), nullable=True),
    sa.Column('negative_prompt', sa.Text(), nullable=True),
    sa.Column('seed', sa.Numeric(precision=20, scale=0), nullable=True),
    sa.Column('steps', sa.Integer(), nullable=True),
    sa.Column('cfg', sa.Double(), nullable=True),
    sa.Column('sampler', sa.Text(), nullable=True),
    sa.Column('scheduler', sa.Text(), nullable=True),
    sa.Column('model', sa.Text(), nullable=True),
    sa.Column('model_hash', sa.Text(), nullable=True),
    sa.Column('width', sa.Integer(), nullable=True),
    sa.Column('height', sa.Integer(), nullable=True),
    sa.Column('loras', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"),
              nullable=False),
    sa.Column('stated_created_at', sa.Text(), nullable=True),
    sa.Column('raw', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"),
              nullable=False),
    sa.Column('search', postgresql.TSVECTOR(), sa.Computed(SEARCH, persisted=True), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['asset_id'], ['assets.id'], name=op.f('fk_file_records_asset_id_assets'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('asset_id', 'file_hash', name=op.f('pk_file_records'))
    )
    op.create_index('ix_file_records_tool_asset_id', 'file_records', ['tool', 'asset_id'], unique=False)
    op.create_index('ix_file_records_model_asset_id', 'file_records', ['model', 'asset_id'], unique=False)
    op.create_index('ix_file_records_seed_asset_id', 'file_records', ['seed', 'asset_id'], unique=False)
    op.execute("CREATE AGGREGATE alice_tsvector_agg (tsvector) "
               "(SFUNC = tsvector_concat, STYPE = tsvector)")
    op.execute("""
        INSERT INTO file_records (asset_id, file_hash, tool, ai, evidence, prompt, negative_prompt, seed, steps,
                                  cfg, sampler, scheduler, model, model_hash, width, height, loras,
                                  stated_created_at, raw)
        SELECT a.id, a.file_hash, a.tool, a.ai, a.evidence, g.prompt, g.negative_prompt, g.seed, g.steps, g.cfg,
               g.sampler, g.scheduler, g.model, g.model_hash, g.width, g.height, g.loras, g.stated_created_at, g.raw
        FROM assets a JOIN generations g ON g.asset_id = a.id
    """)


def downgrade() -> None:
    op.execute("DROP AGGREGATE IF EXISTS alice_tsvector_agg (tsvector)")
    op.drop_index('ix_file_records_seed_asset_id', table_name='file_records')
    op.drop_index('ix_file_records_model_asset_id', table_name='file_records')
    op.drop_index('ix_file_records_tool_asset_id', table_name='file_records')
    op.drop_table('file_records')
