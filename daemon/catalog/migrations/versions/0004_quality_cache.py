"""Quality cache: paid quality stages' answers, by content.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24

One row per (content, stage kind, provider, model): a vision rating or an
aesthetics measurement bought once for these bytes is reused for every copy
and every re-assessment, so the same content is never paid for twice. Keyed
by content_id, not asset id: `alice assess PATH` rates files that are not
(yet) in the catalog. Only answers are stored; errors are not, so a failed
stage can be tried again. What each call cost is also a generation request
row (daemon/quality/assess.py), which is where project budgets add up spending.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('quality_cache',
    sa.Column('content_id', sa.Text(), nullable=False),
    sa.Column('stage', sa.Text(), nullable=False),
    sa.Column('provider', sa.Text(), nullable=False),
    sa.Column('model', sa.Text(), nullable=False),
    sa.Column('result', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('cost_usd', sa.Numeric(precision=12, scale=4), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('content_id', 'stage', 'provider', 'model', name=op.f('pk_quality_cache'))
    )


def downgrade() -> None:
    op.drop_table('quality_cache')
