"""What `alice status` reports, gathered in one place so the daemon and the CLI say the same.

When a daemon runs, `alice status` asks it over the socket (daemon.report):
it already holds a warm catalog connection, so the answer takes milliseconds
instead of the seconds a fresh process spends importing, connecting and
checking the schema. Without a daemon the CLI opens the catalog and calls
`report` itself.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alice.daemon.catalog import store
from alice.daemon.catalog.models import Location

# Location roles as a person would name them: where each counted file is.
FILE_ROLES = {"organized": "organized", "source": "inbox_sources", "quarantine": "quarantined",
              "quarantine-source": "inbox_quarantined"}


def file_counts(s: Session) -> dict[str, int]:
    """Present files by where they are; each asset has one or more of them."""
    found = dict(s.execute(select(Location.role, func.count()).where(Location.present.is_(True))
                           .group_by(Location.role)).all())
    out = {name: found.get(role, 0) for role, name in FILE_ROLES.items()}
    out["other"] = sum(n for role, n in found.items() if role not in FILE_ROLES)
    return out


def report(cfg: Any, catalog: Any) -> dict[str, Any]:
    """Everything `alice status --json` prints."""
    from alice.daemon.ingest import queue
    from alice.daemon.ops import presence

    with catalog.session() as s:
        counts = store.counts(s)
        files = file_counts(s)
        depth = queue.depth(s)
        connected = presence.connected_daemons(s)
        failed = queue.recent_failures(s, 5)
        not_media = queue.recent_not_media(s, 5)
    return {"catalog": catalog.display_url, "embedded": catalog.embedded,
            "config": str(cfg.source) if cfg.source else None,
            "inboxes": [str(i) for i in cfg.inboxes], "organized": str(cfg.organized),
            "daemons": connected, "local_daemons": presence.local_daemons(Path(cfg.data_dir)),
            "queue": depth, "failed_jobs": failed, "not_media": not_media, **counts, "files": files}
