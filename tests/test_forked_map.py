"""forked_map: answers in order whatever order the workers finish in, work shared as workers
come free, a worker's exception raised at its item, a dead worker reported, no worker left behind."""
from __future__ import annotations

import os
import signal
import time

import pytest

from alice.daemon.cli.forked_map import WorkerDied, forked_map


def _slow_first(item: int) -> tuple[int, int]:
    if item == 0:
        time.sleep(0.5)
    return item * item, os.getpid()


def test_answers_come_in_order_and_a_slow_item_does_not_hold_up_the_other_worker() -> None:
    answers = list(forked_map(_slow_first, list(range(40)), 2))
    assert [value for value, _ in answers] == [i * i for i in range(40)]
    slow_worker = answers[0][1]
    others = {pid for _, pid in answers[1:]}
    # Items are taken one at a time as workers come free: while one worker sleeps on item 0,
    # the other takes (nearly) all the rest instead of waiting with a fixed half of them.
    assert len({pid for _, pid in answers}) == 2
    assert sum(pid == slow_worker for _, pid in answers[1:]) <= 2, others


def _fail_on_seven(item: int) -> int:
    if item == 7:
        raise ValueError(f"item {item} is bad")
    return item


def test_an_exception_in_a_worker_is_raised_at_its_item() -> None:
    got = []
    with pytest.raises(ValueError, match="item 7 is bad"):
        for value in forked_map(_fail_on_seven, list(range(20)), 2):
            got.append(value)
    assert got == list(range(7))


def _die_on_three(item: int) -> int:
    if item == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(0.01)
    return item


def test_a_killed_worker_is_reported_not_waited_for_forever() -> None:
    # The other worker answers everything else, then waits for tasks: the parent must not wait with it.
    with pytest.raises(WorkerDied):
        list(forked_map(_die_on_three, list(range(10)), 2))


def _pid(item: int) -> int:
    time.sleep(0.01)
    return os.getpid()


def test_stopping_early_leaves_no_worker_behind() -> None:
    answers = forked_map(_pid, list(range(200)), 2)
    workers = {next(answers), next(answers)}
    answers.close()
    for pid in workers:
        with pytest.raises(ChildProcessError):     # reaped: no longer our child, not even a zombie
            os.waitpid(pid, os.WNOHANG)


def _big(item: int) -> bytes:
    return bytes([item % 256]) * (300_000 + item)


def test_answers_larger_than_a_pipe_holds_arrive_whole() -> None:
    items = list(range(40))
    assert [len(b) for b in forked_map(_big, items, 2)] == [300_000 + i for i in items]


def _same(item: int) -> int:
    return item


def test_more_items_than_the_task_pipe_holds() -> None:
    # 4 bytes an item: 20,000 items are more than a 64 KB pipe takes at once.
    items = list(range(20_000))
    assert list(forked_map(_same, items, 2)) == items
