"""When placed files are committed (daemon/ingest/line.Grouping), for organize and the daemon."""
from __future__ import annotations

import time

from alice.daemon.ingest.line import Grouping


def test_groups_start_at_one_and_double_up_to_most_while_files_keep_coming() -> None:
    g = Grouping(most=16)
    sizes = []
    for _ in range(7):
        placed = 1
        while not g.due(placed, time.monotonic(), running=4, wanted=False):
            placed += 1
        sizes.append(placed)
        g.committed(more=True)
    assert sizes == [1, 2, 4, 8, 16, 16, 16]
    g.committed(more=False)             # the burst ended: the next starts small again
    assert g.due(1, time.monotonic(), running=4, wanted=False)


def test_a_smaller_group_is_due_when_nothing_else_runs_when_wanted_or_when_old() -> None:
    g = Grouping(most=16, limit=16, max_wait=0.05)
    now = time.monotonic()
    assert not g.due(3, now, running=2, wanted=False)
    assert g.due(3, now, running=0, wanted=False)       # nothing else is being filed
    assert g.due(3, now, running=2, wanted=True)        # a thread waits for a content one of them holds
    assert g.due(3, now - 0.06, running=2, wanted=False)  # the oldest waited max_wait
    assert not g.due(0, now - 1, running=0, wanted=True)  # nothing placed: nothing to commit


def test_the_caller_waits_no_longer_than_the_oldest_files_deadline() -> None:
    g = Grouping(max_wait=0.02)
    assert g.wait_for(None) is None
    left = g.wait_for(time.monotonic())
    assert left is not None and 0 < left <= 0.02
    assert g.wait_for(time.monotonic() - 1) == 0
    assert Grouping().wait_for(time.monotonic()) == 0.05    # organize: look again every 50 ms
