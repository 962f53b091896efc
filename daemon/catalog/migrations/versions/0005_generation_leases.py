"""Generation request leases: which alice process is finishing a request, until when.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24

A process working on a request renews `lease_until` while it waits for the
provider. A request sent but left unfinished (the process died, or
`alice generate --no-wait` returned) has a lapsed lease, and any alice process
may take it over and collect its outputs; two never finish the same one.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('generation_requests', sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column('generation_requests', 'lease_until')
