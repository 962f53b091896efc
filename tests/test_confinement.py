"""Classes 1 and 2 of issue 11: no path leads alice out of its inboxes, and a queued file
swapped for a link, a FIFO or a device is refused without blocking or spinning.

Real files, the real `alice organize` and `alice run` subprocesses, a real catalog.
"""
from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from alice.daemon.catalog.engine import Catalog
from alice.daemon.ingest import queue
from tests.daemon_env import DaemonProc, rows, unique_png, wait_until
from tests.organize_env import AliceEnv, media_files, tree_files


@pytest.fixture
def env(tmp_path, db_url) -> AliceEnv:
    e = AliceEnv(tmp_path, db_url)
    e.write_config(workers=1, watch={"settle_seconds": 0.5, "rescan_minutes": 0},
                   queue={"lease_seconds": 10, "max_attempts": 3})
    return e


def tree_bytes(env: AliceEnv) -> set[bytes]:
    return {p.read_bytes() for p in tree_files(env.organized).values()} if env.organized.exists() else set()


def test_an_explicit_link_to_a_folder_outside_is_refused_and_nothing_moves(env: AliceEnv, tmp_path) -> None:
    outside = tmp_path / "precious"
    outside.mkdir()
    for i in range(3):
        (outside / f"p{i}.png").write_bytes(unique_png(i))
    (env.inbox / "proj").mkdir(parents=True)
    link = env.inbox / "proj" / "link"
    link.symlink_to(outside)
    got = env.run("organize", "--move", "--json", str(link), check=False)
    assert got.returncode == 2, got
    lines = [__import__("json").loads(x) for x in got.stdout.splitlines()]
    assert lines == [{"path": str(link), "status": "refused", "dest": None, "content_id": None, "tool": None,
                      "ai": None, "project": None, "reason": lines[0]["reason"], "elapsed_ms": 0.0}]
    assert "symbolic link" in lines[0]["reason"]
    text = env.run("organize", "--move", str(link), check=False)
    assert text.returncode == 2 and "refused" in text.stderr and "symbolic link" in text.stderr
    assert sorted(p.name for p in outside.iterdir()) == ["p0.png", "p1.png", "p2.png"]
    assert not media_files(env.organized) if env.organized.exists() else True


def test_dotdot_out_of_the_inbox_is_refused(env: AliceEnv, tmp_path) -> None:
    victim = tmp_path / "victim.png"
    victim.write_bytes(unique_png(9))
    (env.inbox / "proj").mkdir(parents=True)
    sneaky = env.inbox / "proj" / ".." / ".." / "victim.png"
    got = env.run("organize", "--move", "--json", str(sneaky), check=False)
    assert got.returncode == 2, got
    assert '"status": "refused"' in got.stdout and "'..' leads out of it" in got.stdout
    assert victim.exists() and unique_png(9) not in tree_bytes(env)
    # '..' that stays inside the inbox is fine: the path is taken without it.
    inside = env.inbox / "proj" / "ok.png"
    inside.write_bytes(unique_png(10))
    res = env.organize_json(str(env.inbox / "proj" / ".." / "proj" / "ok.png"))
    assert [r["status"] for r in res] == ["organized"] and res[0]["path"] == str(inside)


def test_a_png_link_to_etc_passwd_is_never_read(env: AliceEnv) -> None:
    (env.inbox / "proj").mkdir(parents=True)
    link = env.inbox / "proj" / "passwd.png"
    link.symlink_to("/etc/passwd")
    (env.inbox / "proj" / "real.png").write_bytes(unique_png(3))
    explicit = env.run("organize", "--json", str(link), check=False)
    assert explicit.returncode == 2 and "symbolic link" in explicit.stdout
    walked = env.organize_json()           # no paths: the walk reports the link and files the rest
    by_name = {Path(r["path"]).name: r for r in walked}
    assert by_name["passwd.png"]["status"] == "refused" and "symbolic link" in by_name["passwd.png"]["reason"]
    assert by_name["real.png"]["status"] == "organized"
    assert not any(b"root:" in b for b in tree_bytes(env))


def test_a_link_to_a_folder_inside_the_inbox_is_not_followed_either(env: AliceEnv) -> None:
    (env.inbox / "a").mkdir(parents=True)
    (env.inbox / "a" / "x.png").write_bytes(unique_png(4))
    (env.inbox / "b").symlink_to(env.inbox / "a")
    got = env.run("organize", "--json", str(env.inbox / "b" / "x.png"), check=False)
    assert got.returncode == 2 and "symbolic link" in got.stdout


def _swap_env(env: AliceEnv, tmp_path: Path) -> dict[str, Path]:
    """Files queued as regular files, then replaced before any daemon runs their jobs."""
    proj = env.inbox / "proj"
    proj.mkdir(parents=True)
    names = ["link.png", "fifo.png", "zero.png", "other.png", "fine.png"]
    paths = {n: proj / n for n in names}
    for i, p in enumerate(paths.values()):
        p.write_bytes(unique_png(20 + i))
    outside = tmp_path / "outside.png"
    outside.write_bytes(unique_png(40))
    cat = Catalog.open(env.db_url, tmp_path / "catdata")
    try:
        with cat.session() as s:
            for p in [*paths.values(), outside]:
                st = os.stat(p)
                queue.enqueue(s, str(p), str(env.inbox), st.st_size, st.st_mtime, identity=(st.st_dev, st.st_ino))
    finally:
        cat.close()
    paths["link.png"].unlink()
    paths["link.png"].symlink_to("/etc/passwd")
    paths["fifo.png"].unlink()
    os.mkfifo(paths["fifo.png"])
    paths["zero.png"].unlink()
    try:
        os.mknod(paths["zero.png"], stat.S_IFCHR | 0o600, os.makedev(1, 5))     # what /dev/zero is
    except PermissionError:
        paths["zero.png"].symlink_to("/dev/zero")
    fresh = paths["other.png"].with_name("fresh.tmp")
    fresh.write_bytes(unique_png(50))
    os.rename(fresh, paths["other.png"])                    # another file, another inode, same name
    paths["outside"] = outside
    return paths


def test_a_queued_file_swapped_for_a_link_fifo_or_device_is_refused_without_hanging(env: AliceEnv, tmp_path):
    paths = _swap_env(env, tmp_path)
    d = DaemonProc(env, "swap")
    try:
        d.wait_ready()
        wait_until(lambda: rows(env.db_url, "SELECT count(*) FROM jobs WHERE state NOT IN ('done','failed')")[0][0] == 0
                   and len(media_files(env.organized)) >= 2 if env.organized.exists() else False,
                   60, what="every job finished")
        t0 = time.monotonic()
        assert d.terminate(timeout=30) == 0, "SIGTERM must still stop the daemon"
        assert time.monotonic() - t0 < 30
    finally:
        if d.proc.poll() is None:
            d.kill()
    results = {}
    for path, result in rows(env.db_url, "SELECT path, result FROM jobs WHERE state = 'done' ORDER BY id"):
        results.setdefault(Path(path).name, []).append(result)
    for name, why in (("link.png", "symbolic link"), ("fifo.png", "FIFO"), ("zero.png", "device")):
        first = results[name][0]
        assert first["status"] == "refused", (name, results[name])
        assert why in first["reason"], first
    assert "outside.png" in results and results["outside.png"][0]["status"] == "refused"
    assert "not inside" in results["outside.png"][0]["reason"]
    assert results["other.png"][0]["status"] == "refused" and "inode" in results["other.png"][0]["reason"]
    assert results["other.png"][-1]["status"] == "organized"          # the new file got its own job
    assert results["fine.png"][0]["status"] == "organized"
    filed = tree_bytes(env)
    assert unique_png(50) in filed and unique_png(24) in filed
    assert unique_png(23) not in filed and unique_png(40) not in filed
    assert not any(b"root:" in b for b in filed)
    assert paths["outside"].exists()


def test_organize_scan_over_the_socket_refuses_links_and_dotdot(catalog) -> None:
    from alice.daemon.api import protocol as p
    from alice.daemon.api.methods import Hooks
    from tests.rpc_env import Line, running_server

    asked: list = []
    with running_server(catalog, Hooks(scan=lambda paths: asked.append(paths) or {"queued": 0})) as e:
        inbox = e.cfg.inboxes[0]
        (inbox / "proj").mkdir()
        (inbox / "proj" / "ok.png").write_bytes(unique_png(1))
        (inbox / "out").symlink_to(e.root / "organized")
        (inbox / "proj" / "pw.png").symlink_to("/etc/passwd")
        line = Line(e.sock)
        try:
            for bad, why in ((inbox / "out", "symbolic link"), (inbox / "proj" / "pw.png", "symbolic link"),
                             (f"{inbox}/proj/../../data", "'..' leads out of it"), ("proj/ok.png", "absolute")):
                got = line.call("organize.scan", {"paths": [str(bad)]})
                assert got["error"]["code"] == p.OUTSIDE_ROOTS, got
                assert why in got["error"]["message"], got
            got = line.call("organize.scan", {"paths": [f"{inbox}/proj/../proj/ok.png"]})
            assert "result" in got, got
        finally:
            line.close()
    assert asked == [[str(inbox / "proj" / "ok.png")]]
