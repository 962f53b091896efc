"""The socket server under bad and heavy traffic: framing, errors, limits, permissions, stale sockets."""
from __future__ import annotations

import os
import socket
import stat
import threading
import time

import pytest

from alice.daemon.api import protocol as p
from alice.daemon.api.client import DaemonNotRunning, RpcCallError, RpcClient
from alice.daemon.api.methods import REGISTRY, Hooks
from alice.daemon.api.server import RpcServer
from alice.daemon.catalog.engine import Catalog
from tests.rpc_env import Line, make_config, running_server, short_dir


def test_garbage_and_malformed_requests_get_json_rpc_errors_and_the_connection_survives(catalog: Catalog) -> None:
    with running_server(catalog) as env:
        line = Line(env.sock)
        cases = [
            (b"this is not json\n", p.PARSE_ERROR),
            (b"\xff\xfe\x00garbage\n", p.PARSE_ERROR),
            (b'{"jsonrpc": "2.0", "id": 1, "method": "x", "params": {"a": NaN}}\n', p.PARSE_ERROR),
            (b'{"jsonrpc": "2.0", "id": 1, "method": "stats", "params": {"x": ' + b"[" * 200_000 + b"\n",
             p.PARSE_ERROR),                                                            # nesting bomb
            (b"[1, 2]\n", p.INVALID_REQUEST),
            (b'"just a string"\n', p.INVALID_REQUEST),
            (b'{"id": 3, "method": "stats"}\n', p.INVALID_REQUEST),                      # no jsonrpc
            (b'{"jsonrpc": "2.0", "id": 4, "method": 17}\n', p.INVALID_REQUEST),
            (b'{"jsonrpc": "2.0", "id": {"x": 1}, "method": "stats"}\n', p.INVALID_REQUEST),
            (b'{"jsonrpc": "2.0", "id": 5, "method": "no.such"}\n', p.METHOD_NOT_FOUND),
            (b'{"jsonrpc": "2.0", "id": 6, "method": "stats", "params": [1]}\n', p.INVALID_PARAMS),
            (b'{"jsonrpc": "2.0", "id": 7, "method": "stats", "params": {"days": "many"}}\n', p.INVALID_PARAMS),
            (b'{"jsonrpc": "2.0", "id": 8, "method": "stats", "params": {"dayz": 3}}\n', p.INVALID_PARAMS),
        ]
        for raw, code in cases:
            line.send(raw)
            answer = line.recv()
            assert answer["jsonrpc"] == "2.0"
            assert answer["error"]["code"] == code, (raw, answer)
            assert answer["error"]["message"]
        # Ids are echoed where they could be read.
        line.send(b'{"jsonrpc": "2.0", "id": "abc", "method": "no.such"}\n')
        assert line.recv()["id"] == "abc"
        # Still serving on the same connection.
        assert line.call("stats", {"days": 3}, rid=9)["result"]["assets"] == 0


def test_invalid_params_name_the_field_and_the_fix(catalog: Catalog) -> None:
    with running_server(catalog) as env:
        answer = Line(env.sock).call("assets.search", {"stars_min": 9, "tool": 5})
        msg = answer["error"]["message"]
        assert answer["error"]["code"] == p.INVALID_PARAMS
        assert "stars_min" in msg and "tool" in msg and "rpc.discover" in msg


def test_notifications_get_no_answer(catalog: Catalog) -> None:
    with running_server(catalog) as env:
        line = Line(env.sock)
        line.send(b'{"jsonrpc": "2.0", "method": "stats"}\n')
        assert line.call("daemon.status", rid=2)["id"] == 2     # the first answer is to the second message


def test_an_oversized_line_is_refused_and_the_daemon_keeps_serving(catalog: Catalog) -> None:
    with running_server(catalog) as env:
        line = Line(env.sock)
        big = b'{"jsonrpc": "2.0", "id": 1, "method": "stats", "params": {"x": "' + b"a" * (p.MAX_MESSAGE + 10)
        try:
            line.send(big + b'"}}\n')
        except (BrokenPipeError, ConnectionResetError):
            pass            # the server may close before we finish sending
        else:
            answer = line.recv()
            assert answer["error"]["code"] == p.INVALID_REQUEST
            assert "longer than" in answer["error"]["message"]
        with RpcClient(env.sock) as c:
            assert c.call("stats")["assets"] == 0


def test_a_half_closed_client_gets_its_answer(catalog: Catalog) -> None:
    with running_server(catalog) as env:
        line = Line(env.sock)
        line.send(b'{"jsonrpc": "2.0", "id": 42, "method": "projects.list"}')     # no newline
        line.s.shutdown(socket.SHUT_WR)
        answer = line.recv()
        assert answer == {"jsonrpc": "2.0", "id": 42, "result": {"projects": []}}
        assert line.closed()


def test_slow_and_idle_clients_are_dropped_without_blocking_others(catalog: Catalog) -> None:
    with running_server(catalog, idle_timeout=0.5) as env:
        idle = Line(env.sock)
        slow = Line(env.sock)
        slow.send(b'{"jsonrpc": "2.0", "id": 1, "meth')            # never finished
        with RpcClient(env.sock) as c:
            assert c.call("stats")["assets"] == 0                  # others are served meanwhile
        time.sleep(1.0)
        assert idle.closed() and slow.closed()


def test_a_client_that_never_reads_its_answers_is_dropped(catalog: Catalog) -> None:
    with running_server(catalog, write_timeout=0.5) as env:
        hog = Line(env.sock)
        request = b'{"jsonrpc": "2.0", "id": 1, "method": "rpc.discover"}\n'
        sent = 0
        try:
            for _ in range(3000):                 # ~60 MB of answers it never reads
                hog.s.sendall(request)
                sent += 1
        except (BrokenPipeError, ConnectionResetError, TimeoutError, OSError):
            pass                                  # dropped while still sending: fine too
        with RpcClient(env.sock) as c:
            assert c.call("stats")["assets"] == 0      # others are served meanwhile
        deadline = time.monotonic() + 10
        while env.server.info()["connections"] > 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert env.server.info()["connections"] == 0, "the stalled client still holds a connection"


def test_two_hundred_concurrent_connections(catalog: Catalog) -> None:
    with running_server(catalog) as env:
        lines = [Line(env.sock, timeout=60) for _ in range(200)]
        for i, line in enumerate(lines):
            line.send(f'{{"jsonrpc": "2.0", "id": {i}, "method": "daemon.status"}}\n'.encode())
        answers = [line.recv() for line in lines]
        assert [a["id"] for a in answers] == list(range(200))
        assert all("result" in a for a in answers)
        assert answers[-1]["result"]["server"]["connections"] == 200
        errors: list[BaseException] = []

        def hammer() -> None:
            try:
                with RpcClient(env.sock) as c:
                    for _ in range(5):
                        c.call("projects.list")
            except BaseException as exc:       # collected, asserted below
                errors.append(exc)

        threads = [threading.Thread(target=hammer) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == []
        for line in lines:
            line.close()


def test_connections_beyond_the_limit_are_told_to_retry(catalog: Catalog) -> None:
    with running_server(catalog, max_connections=3) as env:
        held = [Line(env.sock) for _ in range(3)]
        for h in held:
            assert "result" in h.call("daemon.status")
        extra = Line(env.sock)
        answer = extra.recv()
        assert answer["error"]["code"] == p.BUSY
        assert extra.closed()
        held[0].close()
        time.sleep(0.2)
        with RpcClient(env.sock) as c:
            assert c.call("stats")["assets"] == 0


def test_socket_and_folder_are_private(catalog: Catalog) -> None:
    with running_server(catalog) as env:
        assert stat.S_IMODE(os.stat(env.sock.parent).st_mode) == 0o700
        assert stat.S_IMODE(os.stat(env.sock).st_mode) == 0o600
        assert stat.S_ISSOCK(os.stat(env.sock).st_mode)
    assert not env.sock.exists()      # removed on stop


def test_a_stale_socket_is_replaced_and_a_live_one_is_left_alone(catalog: Catalog) -> None:
    root = short_dir()
    cfg = make_config(root)
    cfg.socket.parent.mkdir(mode=0o700)
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(cfg.socket))
    dead.close()                       # a socket file nobody listens on: a crashed daemon's
    first = RpcServer(cfg, catalog)
    assert first.start()
    try:
        second = RpcServer(cfg, catalog)
        assert second.start() is False  # another live daemon serves it
        with RpcClient(cfg.socket) as c:
            assert c.call("stats")["assets"] == 0
    finally:
        first.stop()


def test_a_regular_file_at_the_socket_path_is_not_deleted(catalog: Catalog) -> None:
    root = short_dir()
    cfg = make_config(root)
    cfg.socket.parent.mkdir(mode=0o700)
    cfg.socket.write_text("mine")
    assert RpcServer(cfg, catalog).start() is False
    assert cfg.socket.read_text() == "mine"


def test_client_says_how_to_start_the_daemon(tmp_path) -> None:
    with pytest.raises(DaemonNotRunning, match="alice run"):
        RpcClient(tmp_path / "none.sock").call("stats")


def test_rpc_discover_lists_every_method_with_the_schemas_that_validate(catalog: Catalog) -> None:
    with running_server(catalog) as env, RpcClient(env.sock) as c:
        doc = c.call("rpc.discover")
    assert doc["openrpc"]
    names = {m["name"] for m in doc["methods"]}
    assert names == set(REGISTRY.methods)
    required = {"assets.search", "assets.get", "assets.generation", "assets.similar", "assets.tag", "assets.untag",
                "assets.rate", "assets.move_to_project", "organize.scan", "projects.list", "projects.create",
                "projects.get", "stats", "daemon.status", "events.subscribe"}
    assert required <= names
    for m in doc["methods"]:
        assert m["paramsSchema"] == REGISTRY.methods[m["name"]].params
        assert m["result"]["schema"] == REGISTRY.methods[m["name"]].result
        assert m["description"]


def test_hooks_missing_and_failing(catalog: Catalog) -> None:
    def broken_status() -> dict:
        raise RuntimeError("boom")

    with running_server(catalog, Hooks(status=broken_status)) as env, RpcClient(env.sock) as c:
        with pytest.raises(RpcCallError) as err:
            c.call("daemon.status")
        assert err.value.code == p.INTERNAL_ERROR and "daemon log" in err.value.message
        with pytest.raises(RpcCallError) as err:
            c.call("organize.scan")
        assert err.value.code == p.NOT_AVAILABLE
