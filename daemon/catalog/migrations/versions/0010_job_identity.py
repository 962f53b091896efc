"""Jobs remember which file they were queued for: "device:inode" of the inbox file.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04

A job runs seconds to minutes after its file was seen. If another node was
put at that name meanwhile (a symbolic link, a FIFO, a device, another file),
the daemon must notice before reading it (daemon/fs/source.py); the path and
size alone cannot tell. Text, not a number: inode numbers are unsigned 64-bit.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('jobs', sa.Column('identity', sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column('jobs', 'identity')
