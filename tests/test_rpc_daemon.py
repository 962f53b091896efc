"""The socket API of a real `alice run` subprocess: every method, bad requests, CLI search, MCP-free."""
from __future__ import annotations

import json
import os
import stat

import pytest

from alice.daemon.api import protocol as p
from alice.daemon.api.client import DaemonNotRunning, RpcCallError, RpcClient
from tests.daemon_env import DaemonProc, wait_until
from tests.organize_env import AliceEnv
from tests.rpc_env import Line, picture


@pytest.fixture
def env(tmp_path, db_url) -> AliceEnv:
    e = AliceEnv(tmp_path, db_url)
    e.write_config(workers=1, layout="{project}/{stars}", watch={"settle_seconds": 0.5, "rescan_minutes": 0})
    return e


def test_every_method_over_the_socket_of_a_running_daemon(env: AliceEnv) -> None:
    sock = env.root / "run" / "alice" / "alice.sock"
    picture(env.inbox / "cyber" / "fox.png", 1, prompt="cyberpunk portrait of a fox")
    picture(env.inbox / "cyber" / "fox2.png", 1, shift=1, prompt="cyberpunk fox in the rain")
    picture(env.inbox / "fantasy" / "castle.png", 7, prompt="watercolor castle")
    d = DaemonProc(env)
    try:
        d.wait_ready()
        assert stat.S_IMODE(os.stat(sock).st_mode) == 0o600
        c = RpcClient(sock)

        def search(**params):
            return c.call("assets.search", params)

        wait_until(lambda: search()["total"] == 3, 60, what="three files filed")
        # A file is searchable once its effect thread commits; the daemon counts it a moment
        # later, when its loop collects the result.
        wait_until(lambda: c.call("daemon.status")["daemon"]["processed"] >= 3, 30, what="three files counted")
        assert c.call("daemon.status")["daemon"]["pid"] == d.proc.pid
        names = {m["name"] for m in c.call("rpc.discover")["methods"]}
        assert {"assets.search", "organize.scan", "events.subscribe"} <= names

        foxes = search(text="cyberpunk fox")
        assert foxes["total"] == 2
        fox = foxes["items"][0]
        castle = search(project="fantasy")["items"][0]
        assert c.call("assets.get", {"asset": fox["id"]})["content_id"] == fox["content_id"]
        gen = c.call("assets.generation", {"asset": fox["content_id"]})
        assert gen["generation"]["prompt"] == fox["prompt"] and gen["outputs"][0]["path"] == fox["path"]
        assert isinstance(c.call("assets.similar", {"asset": fox["id"], "max_distance": 10})["items"], list)
        assert c.call("assets.tag", {"asset": castle["id"], "tags": ["keeper"]})["tags"] == ["keeper"]
        assert search(tags_all=["keeper"])["items"][0]["id"] == castle["id"]
        assert c.call("assets.untag", {"asset": castle["id"], "tags": ["keeper"]})["tags"] == []

        with RpcClient(sock, timeout=30) as listener:
            events = listener.events()
            rated = c.call("assets.rate", {"asset": fox["id"], "stars": 4})
            assert rated["relocation"]["moved"] and "/4-star/" in rated["relocation"]["new_path"]
            ev = next(events)
            while ev["kind"] != "rated":
                ev = next(events)
            assert ev["asset_id"] == fox["id"] and ev["data"]["stars"] == 4
        moved = c.call("assets.move_to_project", {"asset": castle["id"], "project": "keepers"})
        assert "/keepers/" in moved["relocation"]["new_path"]
        assert os.path.isfile(moved["relocation"]["new_path"])

        assert c.call("projects.create", {"name": "client-x"})["name"] == "client-x"
        assert {pr["name"] for pr in c.call("projects.list")["projects"]} >= {"cyber", "fantasy", "keepers",
                                                                                "client-x"}
        assert c.call("projects.get", {"project": "keepers"})["assets"] == 1
        assert c.call("stats")["assets"] == 3

        # organize.scan: a file dropped where the watcher would see it anyway, queued now.
        picture(env.inbox / "cyber" / "late.png", 20, prompt="late arrival")
        assert c.call("organize.scan", {"paths": [str(env.inbox / "cyber")]})["queued"] >= 1
        wait_until(lambda: search()["total"] == 4, 60, what="the scanned file filed")
        assert "reconcile" in c.call("organize.scan")

        # Bad requests: specific codes, and the daemon keeps serving.
        for method, params, code in (("assets.search", {"stars_min": "x"}, p.INVALID_PARAMS),
                                     ("assets.get", {"asset": 10**9}, p.NOT_FOUND),
                                     ("organize.scan", {"paths": ["/etc"]}, p.OUTSIDE_ROOTS),
                                     ("projects.create", {"name": "client-x"}, p.CONFLICT),
                                     ("nope", {}, p.METHOD_NOT_FOUND)):
            with pytest.raises(RpcCallError) as err:
                c.call(method, params)
            assert err.value.code == code, method
        line = Line(sock)
        line.send(b"garbage\n")
        assert line.recv()["error"]["code"] == p.PARSE_ERROR
        assert c.call("stats")["assets"] == 4

        # The CLI asks the daemon.
        out = env.run("search", "cyberpunk", "--tool", "a1111", "--stars", "4..", "--json").stdout.splitlines()
        lines = [json.loads(x) for x in out]
        assert [x["id"] for x in lines[:-1]] == [fox["id"]]
        assert lines[-1]["summary"]["total"] == 1 and lines[-1]["summary"]["source"] == "daemon"
        c.close()
    finally:
        code = d.terminate()
    assert code == 0
    assert not sock.exists()
    with pytest.raises(DaemonNotRunning):
        RpcClient(sock).call("stats")
    # Without a daemon, `alice search` reads the catalog itself.
    out = env.run("search", "--project", "keepers", "--json").stdout.splitlines()
    assert json.loads(out[-1])["summary"] == {"shown": 1, "total": 1, "total_exact": True, "next_cursor": None,
                                              "source": "catalog"}
