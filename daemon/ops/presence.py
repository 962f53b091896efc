"""Who is running: each daemon publishes a small status file; `alice status` reads them.

A daemon on this machine writes `<data_dir>/run/<host>-<pid>.json` every few
seconds (atomically). Daemons on other machines that share the catalog are
seen through PostgreSQL instead: their connections carry the application name
"alice run <host:pid>", so pg_stat_activity lists exactly the live ones.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from alice.daemon.fs.fileops import write_text_atomic

APP_PREFIX = "alice run "


def status_dir(data_dir: Path) -> Path:
    return data_dir / "run"


def publish(data_dir: Path, worker: str, status: dict[str, Any]) -> Path:
    path = status_dir(data_dir) / (worker.replace(":", "-").replace("/", "_") + ".json")
    write_text_atomic(path, json.dumps({**status, "updated_at": time.time()}, default=str))
    return path


def withdraw(data_dir: Path, worker: str) -> None:
    try:
        (status_dir(data_dir) / (worker.replace(":", "-").replace("/", "_") + ".json")).unlink()
    except FileNotFoundError:
        pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def local_daemons(data_dir: Path) -> list[dict[str, Any]]:
    """Status of the daemons running on this machine (files of dead ones are removed)."""
    found: list[dict[str, Any]] = []
    d = status_dir(data_dir)
    if not d.is_dir():
        return found
    for f in sorted(d.glob("*.json")):
        try:
            data = json.loads(f.read_text())
        except (OSError, ValueError):
            continue
        if not _alive(int(data.get("pid", 0) or 0)):
            f.unlink(missing_ok=True)
            continue
        found.append(data)
    return found


def connected_daemons(s: Session) -> list[dict[str, Any]]:
    """Every daemon with a live catalog connection, on any machine."""
    rows = s.execute(text(
        "SELECT application_name, min(backend_start) AS since, "
        "       max(host(client_addr)) AS addr "
        "FROM pg_stat_activity WHERE application_name LIKE :p AND datname = current_database() "
        "GROUP BY application_name ORDER BY 1"),
        {"p": APP_PREFIX + "%"}).all()
    return [{"worker": r.application_name[len(APP_PREFIX):], "connected_since": r.since.isoformat(),
             "client_addr": r.addr} for r in rows]
