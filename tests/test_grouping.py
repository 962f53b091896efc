"""When `alice organize` commits the files it has placed (daemon/ingest/line.Grouping)."""
from __future__ import annotations

from alice.daemon.ingest.line import GROUP, Grouping


def test_groups_start_at_one_and_double_up_to_most_while_files_keep_coming() -> None:
    assert GROUP == 16
    g = Grouping()
    sizes = []
    for _ in range(7):
        placed = 1
        while not g.due(placed, running=4, wanted=False):
            placed += 1
        sizes.append(placed)
        g.committed(more=True)
    assert sizes == [1, 2, 4, 8, 16, 16, 16]
    g.committed(more=False)             # the run ended: the next starts small again
    assert g.due(1, running=4, wanted=False)


def test_a_smaller_group_is_due_when_nothing_else_runs_or_when_a_lock_is_wanted() -> None:
    g = Grouping(limit=GROUP)
    assert not g.due(3, running=2, wanted=False)
    assert g.due(3, running=0, wanted=False)       # nothing else is being filed
    assert g.due(3, running=2, wanted=True)        # a thread waits for a content one of them holds
    assert not g.due(0, running=0, wanted=True)    # nothing placed: nothing to commit
