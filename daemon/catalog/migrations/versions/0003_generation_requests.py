"""Generation tracking and budgets: requests, their outputs, project pause.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24

A generation request is recorded before it is sent, so every paid call has
a row even if alice dies mid-request. Outputs are linked by content_id (not
asset id): the file is delivered to the inbox and only becomes an asset when
the organizer files it, maybe in another process; the content id is known
at delivery and is what the asset will carry.

`projects.paused_at` is set when spending reaches the budget; raising the
budget clears it.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('projects', sa.Column('paused_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table('generation_requests',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('project_id', sa.BigInteger(), nullable=False),
    sa.Column('provider', sa.Text(), nullable=False),
    sa.Column('model', sa.Text(), nullable=False),
    sa.Column('prompt', sa.Text(), nullable=True),
    sa.Column('params', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('reference_ids', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"),
              nullable=False),
    sa.Column('state', sa.Text(), server_default='recorded', nullable=False),
    sa.Column('provider_request_id', sa.Text(), nullable=True),
    sa.Column('job', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('estimate_usd', sa.Numeric(precision=12, scale=4), nullable=True),
    sa.Column('cost_usd', sa.Numeric(precision=12, scale=4), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('recreated_from', sa.BigInteger(), nullable=True),
    sa.CheckConstraint("state IN ('recorded', 'submitted', 'running', 'done', 'failed', 'refused')",
                       name=op.f('ck_generation_requests_state_known')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_generation_requests_project_id_projects')),
    sa.ForeignKeyConstraint(['recreated_from'], ['generation_requests.id'],
                            name=op.f('fk_generation_requests_recreated_from_generation_requests')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_generation_requests'))
    )
    op.create_index('ix_generation_requests_project_id_provider_model', 'generation_requests',
                    ['project_id', 'provider', 'model'], unique=False)
    op.create_table('request_outputs',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('request_id', sa.BigInteger(), nullable=False),
    sa.Column('content_id', sa.Text(), nullable=False),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('file_hash', sa.Text(), nullable=False),
    sa.Column('embedded', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['generation_requests.id'],
                            name=op.f('fk_request_outputs_request_id_generation_requests'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_request_outputs'))
    )
    op.create_index(op.f('ix_request_outputs_content_id'), 'request_outputs', ['content_id'], unique=False)
    op.create_index(op.f('ix_request_outputs_request_id'), 'request_outputs', ['request_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_request_outputs_request_id'), table_name='request_outputs')
    op.drop_index(op.f('ix_request_outputs_content_id'), table_name='request_outputs')
    op.drop_table('request_outputs')
    op.drop_index('ix_generation_requests_project_id_provider_model', table_name='generation_requests')
    op.drop_table('generation_requests')
    op.drop_column('projects', 'paused_at')
