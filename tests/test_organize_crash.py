"""SIGKILL `alice organize --move` at many points; nothing may be lost or doubled.

ALICE_CRASH_AT=N makes the process SIGKILL itself at its N-th checkpoint
(daemon/fs/crashpoints.py): between temp write and link, between link and
catalog, between catalog and source removal, inside a copy... Each killed run
is followed by a run killed somewhere else, then a clean run.
"""
from __future__ import annotations

import random
import re
import signal
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from alice.daemon.fs.fileops import TEMP_PREFIX
from alice.pipeline.identity import file_hash as hash_file
from tests.leftovers import assert_none_left
from tests.organize_env import AliceEnv, media_files, tree_files

KILLED = re.compile(r"SIGKILL at checkpoint \d+ \((.+)\)")


def all_hashes_safe(env: AliceEnv, originals: set[str]) -> set[str]:
    """Hashes of the originals that exist as a real (non-temp) file in the inbox or the tree."""
    present = set()
    for root in (env.inbox, env.organized):
        for rel, p in tree_files(root).items() if root.exists() else []:
            if p.name.startswith(TEMP_PREFIX) or rel.endswith((".yaml", ".reason.txt")):
                continue
            present.add(hash_file(p))
    return originals & present


@pytest.mark.slow
def test_sigkill_at_many_points_loses_and_doubles_nothing(tmp_path, db_url):
    env = AliceEnv(tmp_path, db_url)
    env.write_config(mode="move")
    placed = env.drop_corpus()
    originals = {hash_file(p) for p in placed.values()}

    rng = random.Random(20261124)
    kinds: Counter[str] = Counter()
    kills = 0
    for _attempt in range(60):
        point = rng.randint(1, 12)   # finished files reach no checkpoint, so k always lands in new work
        proc = env.run("organize", "--json", check=False, ALICE_CRASH_AT=str(point))
        assert all_hashes_safe(env, originals) == originals, f"bytes lost after crash at {point}"
        if proc.returncode == -signal.SIGKILL:
            kills += 1
            m = KILLED.search(proc.stderr)
            assert m, proc.stderr[-2000:]
            kinds[m.group(1)] += 1
        else:
            assert proc.returncode in (0, 1), proc.stderr[-2000:]
            if kills >= 25:
                break
    assert kills >= 20, f"only {kills} kills"
    assert_none_left(env.config)        # a killed organize leaves no worker or helper process behind
    assert len(kinds) >= 6, f"crash points covered too few kinds of step: {dict(kinds)}"

    env.run("organize")          # the clean run that finishes the job
    final = env.organize_json()  # and one more that must find nothing to do
    assert {r["status"] for r in final} <= {"unchanged"}

    # nothing lost: every original is in the tree (filed or quarantined)
    tree = {rel: p for rel, p in tree_files(env.organized).items()}
    assert not [rel for rel in tree if Path(rel).name.startswith(TEMP_PREFIX)], "temp files left"
    filed = [p for rel, p in tree.items() if not rel.endswith((".yaml", ".reason.txt"))]
    hashes = Counter(hash_file(p) for p in filed)
    assert set(hashes) == originals
    # nothing doubled
    assert all(n == 1 for n in hashes.values()), [h for h, n in hashes.items() if n > 1]
    # the inbox is empty (move mode)
    assert not [p for p in env.inbox.rglob("*") if p.is_file()]
    # every filed media file has its sidecar, and no sidecar is orphaned
    media = media_files(env.organized)
    for p in media:
        assert p.with_name(p.name + ".yaml").is_file(), p
    for rel, p in tree.items():
        if rel.endswith(".yaml") and not rel.startswith(".quarantine"):
            assert p.with_name(p.name[: -len(".yaml")]).is_file(), rel

    # the catalog matches the tree exactly
    engine = sa.create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as c:
            rows = c.execute(sa.text("SELECT path, role FROM locations WHERE present")).all()
    finally:
        engine.dispose()
    by_role: dict[str, set[str]] = {}
    for path, role in rows:
        by_role.setdefault(role, set()).add(path)
    assert by_role.get("organized", set()) == {str(p) for p in media}
    quarantined = {str(p) for rel, p in tree.items()
                   if rel.startswith(".quarantine") and not rel.endswith(".reason.txt")}
    assert by_role.get("quarantine", set()) == quarantined
    assert not by_role.get("source") and not by_role.get("quarantine-source"), "sources still marked present"
