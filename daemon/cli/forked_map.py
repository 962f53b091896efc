"""fn over many items in forked worker processes, results in the items' order.

What `alice inspect FOLDER` needs from multiprocessing.Pool, without its cost
on a command that lasts a fifth of a second: importing multiprocessing and
starting a pool's threads took ~17 ms before the first file was read. Here
the workers are plain forks that inherit the parent's imports, and two pipes
do the rest:

- one task pipe shared by all workers carries item numbers, 4 bytes each; a
  worker takes the next number when it is free, so a few slow files (C2PA
  validation costs ten times a plain read) do not leave one worker behind
  while the other idles. Pipe writes of up to PIPE_BUF bytes are atomic and
  the parent writes whole numbers only, so each 4-byte read is one number.
- each worker has its own result pipe (frames longer than PIPE_BUF would
  interleave on a shared one); the parent reads them all and yields results
  in order as soon as the next one is in.
"""
from __future__ import annotations

import os
import pickle
import select
import signal
import struct
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_TASK = struct.Struct(">I")
_FRAME = struct.Struct(">I?I")      # item number, fn raised?, payload length
_TASK_WRITE = 4096                  # <= PIPE_BUF (4096 on Linux), a multiple of _TASK.size


class WorkerDied(ChildProcessError):
    """A worker ended before answering for every item it took (killed, or crashed in native code)."""


def forked_map(fn: Callable[[T], R], items: Sequence[T], workers: int) -> Iterator[R]:
    """fn(item) for each item, in order, computed in `workers` forked processes.

    An exception fn raises in a worker is raised here, at that item. Interrupting
    or abandoning the iteration kills the workers.
    """
    from alice.daemon.ops.lineage import die_with_parent

    parent = os.getpid()
    task_read, task_write = os.pipe()
    pids: list[int] = []
    results: list[int] = []
    answered = False
    try:
        for _ in range(workers):
            result_read, result_write = os.pipe()
            pid = os.fork()
            if pid == 0:                                    # the worker
                os.close(task_write)
                os.close(result_read)
                for fd in results:
                    os.close(fd)
                _work(fn, items, task_read, result_write, parent, die_with_parent)
            pids.append(pid)
            os.close(result_write)
            results.append(result_read)
        os.close(task_read)
        task_read = -1
        yield from _collect(items, task_write, results)
        answered = True
    finally:
        for fd in (task_read, task_write, *results):
            if fd >= 0:
                os.close(fd)
        for pid in pids:
            if not answered:            # stopped early: the workers' answers are no longer wanted
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)


def _work(fn: Callable[[T], R], items: Sequence[T], tasks: int, out: int, parent: int,
          die_with_parent: Callable[[int], None]) -> None:
    """A worker's life: take item numbers until the task pipe is empty and closed, answer each."""
    code = 0
    try:
        die_with_parent(parent)
        while len(claim := os.read(tasks, _TASK.size)) == _TASK.size:
            (index,) = _TASK.unpack(claim)
            try:
                payload, raised = pickle.dumps(fn(items[index]), pickle.HIGHEST_PROTOCOL), False
            except Exception as exc:  # noqa: BLE001 - the parent raises it at this item
                payload, raised = pickle.dumps(exc, pickle.HIGHEST_PROTOCOL), True
            _write_all(out, _FRAME.pack(index, raised, len(payload)) + payload)
    except BaseException:  # noqa: BLE001 - a worker never unwinds into the parent's code (it is a fork)
        code = 1
    finally:
        # _exit: the parent's atexit handlers and unflushed stdout are not the worker's to run.
        os._exit(code)


def _collect(items: Sequence[Any], task_write: int, results: list[int]) -> Iterator[Any]:
    """Feed the task pipe and yield the answers in order; the caller closes the pipes.

    Tasks go in as the pipe takes them, between reads of answers, so a list of
    items longer than a pipe holds cannot block the parent while workers wait
    to hand in answers.
    """
    pending = b"".join(_TASK.pack(i) for i in range(len(items)))
    os.set_blocking(task_write, False)
    buffers = {fd: bytearray() for fd in results}
    done: dict[int, tuple[bool, bytes]] = {}
    next_index = 0
    while next_index < len(items):
        writers = [task_write] if pending else []
        readable, writable, _ = select.select(list(buffers), writers, [])
        if writable:
            try:
                pending = pending[os.write(task_write, pending[:_TASK_WRITE]):]
            except BlockingIOError:
                pass
        for fd in readable:
            chunk = os.read(fd, 1 << 16)
            if not chunk:       # a worker stays until the task pipe closes, so this one died
                raise WorkerDied(f"a worker ended with {len(items) - next_index} items unanswered")
            _frames(buffers[fd], chunk, done)
        while next_index in done:
            raised, payload = done.pop(next_index)
            value = pickle.loads(payload)
            if raised:
                raise value
            yield value
            next_index += 1


def _frames(buffer: bytearray, chunk: bytes, done: dict[int, tuple[bool, bytes]]) -> None:
    """Move every whole frame in buffer + chunk into done; keep the partial tail."""
    buffer += chunk
    start = 0
    while len(buffer) - start >= _FRAME.size:
        index, raised, length = _FRAME.unpack_from(buffer, start)
        end = start + _FRAME.size + length
        if end > len(buffer):
            break
        done[index] = (raised, bytes(buffer[start + _FRAME.size:end]))
        start = end
    del buffer[:start]


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
