"""An asset belongs to every project a copy of it was dropped into.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04

A file's project is where the user put it. The same pixels dropped into a
second project's inbox folder used to become a mere "duplicate" location of
the first project's asset; now the asset gains that project too (and a filed
copy in its folder). assets.project_id stays the asset's own project; this
table lists the others, so a search by project reads it only for the few
assets that joined from elsewhere.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'asset_projects',
        sa.Column('asset_id', sa.BigInteger(), sa.ForeignKey('assets.id', ondelete='CASCADE'), primary_key=True),
        sa.Column('project_id', sa.BigInteger(), sa.ForeignKey('projects.id', ondelete='CASCADE'), primary_key=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_index('ix_asset_projects_project_id', 'asset_projects', ['project_id'])


def downgrade() -> None:
    op.drop_index('ix_asset_projects_project_id', table_name='asset_projects')
    op.drop_table('asset_projects')
