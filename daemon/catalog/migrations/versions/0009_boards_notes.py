"""Project notes and boards: context for assistants that outlives a chat.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04

project_notes holds a project's brief, style notes and dated decisions, written
by a person or an assistant; boards are named, ordered sets of assets with a
note per item. Both cascade away with their project, board or asset.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('project_notes',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('project_id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('author', sa.Text(), server_default='user', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("kind IN ('brief', 'style', 'decision')", name=op.f('ck_project_notes_kind_known')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_project_notes_project_id_projects'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_notes'))
    )
    op.create_index('ix_project_notes_project_id_kind_created_at', 'project_notes',
                    ['project_id', 'kind', 'created_at'], unique=False)
    op.create_table('boards',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_boards')),
    sa.UniqueConstraint('name', name=op.f('uq_boards_name'))
    )
    op.create_table('board_items',
    sa.Column('board_id', sa.BigInteger(), nullable=False),
    sa.Column('asset_id', sa.BigInteger(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('added_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['asset_id'], ['assets.id'], name=op.f('fk_board_items_asset_id_assets'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['board_id'], ['boards.id'], name=op.f('fk_board_items_board_id_boards'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('board_id', 'asset_id', name=op.f('pk_board_items'))
    )
    op.create_index(op.f('ix_board_items_asset_id'), 'board_items', ['asset_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_board_items_asset_id'), table_name='board_items')
    op.drop_table('board_items')
    op.drop_table('boards')
    op.drop_index('ix_project_notes_project_id_kind_created_at', table_name='project_notes')
    op.drop_table('project_notes')
