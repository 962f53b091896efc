"""Crash points count per process and fire once, at the N-th checkpoint (no process is killed here)."""
from __future__ import annotations

import pytest

from alice.daemon.fs.crashpoints import CrashPoints


def test_the_nth_checkpoint_kills_and_no_other() -> None:
    killed: list[str] = []
    points = CrashPoints(3, kill=killed.append)
    for name in ("a", "b", "c", "d"):
        points.reach(name)
    assert killed == ["alice: crash test: SIGKILL at checkpoint 3 (c)\n"]


def test_unset_means_no_crash_test() -> None:
    points = CrashPoints.from_environ({})
    assert points.target is None
    points.reach("anything")          # no kill function is ever called


def test_the_target_comes_from_the_environment() -> None:
    assert CrashPoints.from_environ({"ALICE_CRASH_AT": "7"}).target == 7
    with pytest.raises(ValueError, match="ALICE_CRASH_AT must be a checkpoint number"):
        CrashPoints.from_environ({"ALICE_CRASH_AT": "soon"})
