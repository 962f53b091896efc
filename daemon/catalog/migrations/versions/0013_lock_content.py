"""Filing's content lock and its question in one call.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06

Before copying a file, a filer locks its content id (an advisory lock) and asks
whether the catalog has that content already (catalog/filing_link.py). The
question must be asked after the lock is granted, so that it sees every commit
made under the lock before; two statements in a pipeline did that, at ~0.24 ms
of the filer's CPU a file. A PL/pgSQL function does it in one statement: a
VOLATILE function takes a new snapshot for each query it runs, so its SELECT,
run after pg_try_advisory_lock returned, sees what the previous holder
committed before it unlocked.
"""
from __future__ import annotations

from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        CREATE OR REPLACE FUNCTION alice_lock_content(cid text, OUT granted boolean, OUT known bigint)
        LANGUAGE plpgsql VOLATILE AS $$
        BEGIN
            granted := pg_try_advisory_lock(hashtextextended(cid, 0));
            IF granted THEN
                SELECT id INTO known FROM assets WHERE content_id = cid;
            END IF;
        END $$
    """)


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS alice_lock_content(text)")
