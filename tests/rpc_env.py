"""An in-process socket server on a real catalog, with a few organized files, for the RPC tests."""
from __future__ import annotations

import json
import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from alice.daemon import config as config_mod
from alice.daemon.api.methods import Hooks
from alice.daemon.api.server import RpcServer
from alice.daemon.catalog import store
from alice.daemon.catalog.engine import Catalog
from alice.daemon.catalog.similar import set_perceptual_hash
from alice.daemon.ingest.filing import Organizer, Source
from alice.pipeline.perceptual import perceptual_hash


def short_dir() -> Path:
    # Unix socket paths are limited to ~107 bytes; pytest's tmp_path can be longer.
    return Path(tempfile.mkdtemp(prefix="alice-rpc-", dir="/tmp"))


def make_config(root: Path, **extra: Any) -> config_mod.Config:
    raw = {"inboxes": [str(root / "inbox")], "organized": str(root / "organized"), "data_dir": str(root / "data"),
           "socket": str(root / "run" / "alice.sock"), **extra}
    for key in ("inbox", "organized", "data"):
        (root / key).mkdir(parents=True, exist_ok=True)
    return config_mod.parse(raw, environ={})


def picture(path: Path, seed: int, shift: int = 0, prompt: str | None = None) -> Path:
    """A PNG with distinct big shapes (so perceptual hashes differ between seeds), optionally with A1111 text."""
    img = Image.new("RGB", (128, 128), (seed * 37 % 256, seed * 91 % 256, seed * 53 % 256))
    draw = ImageDraw.Draw(img)
    for i in range(6):
        x = (seed * 29 + i * 41) % 100
        y = (seed * 17 + i * 23) % 100
        draw.rectangle([x + shift, y, x + 20 + (seed * i) % 30, y + 25], fill=((i * 80) % 256, 255 - i * 30, seed % 256))
    path.parent.mkdir(parents=True, exist_ok=True)
    from PIL.PngImagePlugin import PngInfo
    info = PngInfo()
    if prompt:
        info.add_text("parameters", f"{prompt}\nNegative prompt: blurry\nSteps: 20, Sampler: Euler a, "
                                    f"CFG scale: 7, Seed: {1000 + seed}, Size: 128x128, Model: testmodel")
    img.save(path, "PNG", pnginfo=info)
    return path


@dataclass
class RpcEnv:
    root: Path
    cfg: config_mod.Config
    catalog: Catalog
    server: RpcServer

    @property
    def sock(self) -> Path:
        return self.cfg.socket

    def organize(self, path: Path) -> dict[str, Any]:
        inbox = self.cfg.inboxes[0]
        return Organizer(self.cfg, self.catalog).organize(Source(path, inbox)).to_json()


class Line:
    """A raw connection for protocol-level tests."""

    def __init__(self, path: Path, timeout: float = 10.0):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(str(path))
        self.buf = b""

    def send(self, data: bytes) -> None:
        self.s.sendall(data)

    def recv(self) -> dict[str, Any]:
        while b"\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def call(self, method: str, params: Any = None, rid: Any = 1) -> dict[str, Any]:
        msg = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(json.dumps(msg).encode() + b"\n")
        return self.recv()

    def closed(self) -> bool:
        try:
            return self.s.recv(1) == b""
        except (ConnectionResetError, BrokenPipeError):
            return True

    def close(self) -> None:
        self.s.close()


def fill_sample(env: RpcEnv) -> dict[str, dict]:
    """Four files organized by the real organizer (two near-identical), perceptual hashes set."""
    inbox = env.cfg.inboxes[0]
    files = {
        "fox": picture(inbox / "cyber" / "fox.png", 1, prompt="cyberpunk portrait of a fox, neon rain"),
        "fox2": picture(inbox / "cyber" / "fox-again.png", 1, shift=1, prompt="cyberpunk portrait of a fox, neon"),
        "castle": picture(inbox / "fantasy" / "castle.png", 7, prompt="watercolor castle on a hill"),
        "plain": picture(inbox / "fantasy" / "IMG_0042.png", 12),
    }
    out = {}
    for name, path in files.items():
        res = env.organize(path)
        assert res["status"] == "organized", res
        out[name] = res
    with env.catalog.session() as s:
        for res in out.values():
            asset = store.asset_by_content_id(s, res["content_id"])
            res["id"] = asset.id
            set_perceptual_hash(s, asset.id, perceptual_hash(Path(res["dest"])))
    return out


@contextmanager
def running_server(catalog: Catalog, hooks: Hooks | None = None, root: Path | None = None,
                   cfg_extra: dict[str, Any] | None = None, **server_kw: Any) -> Iterator[RpcEnv]:
    root = root or short_dir()
    cfg = make_config(root, **(cfg_extra or {}))
    server = RpcServer(cfg, catalog, hooks, **server_kw)
    assert server.start(), "the socket server did not start"
    try:
        yield RpcEnv(root, cfg, catalog, server)
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
