"""Class 4 of issue 11: a media name and its sidecar name are reserved together; a user's file in
the tree is never replaced, whatever alice files later."""
from __future__ import annotations

from pathlib import Path

import pytest

from alice.pipeline import sidecar
from alice.pipeline.identity import file_hash as hash_file
from tests.daemon_env import DaemonProc, rows, unique_png, wait_until
from tests.organize_env import AliceEnv, media_files

USER_NOTE = "my own notes about x.png: keep them\n"


@pytest.fixture
def env(tmp_path, db_url) -> AliceEnv:
    e = AliceEnv(tmp_path, db_url)
    e.write_config(layout="{project}", workers=1, watch={"settle_seconds": 0.5, "rescan_minutes": 0},
                   queue={"lease_seconds": 10, "max_attempts": 3})
    return e


def test_a_users_sidecar_named_file_is_never_replaced_by_organize(env: AliceEnv) -> None:
    proj = env.inbox / "proj"
    proj.mkdir(parents=True)
    # First the user's x.png.yaml is filed (alice files any file it is given, as it would a note) ...
    folder = env.organized / "proj"
    folder.mkdir(parents=True)
    user_file = folder / "x.png.yaml"
    user_file.write_text(USER_NOTE)
    # ... then an x.png arrives for the same folder.
    (proj / "x.png").write_bytes(unique_png(1))
    res = env.organize_json()
    assert [r["status"] for r in res] == ["organized"]
    dest = Path(res[0]["dest"])
    assert dest != folder / "x.png", "x.png's sidecar would have taken the user's x.png.yaml"
    assert user_file.read_text() == USER_NOTE
    assert sidecar.load(sidecar.sidecar_path(dest).read_text()).file_hash == hash_file(dest)
    # Idempotent: a second run keeps everything where it is.
    again = env.organize_json()
    assert [r["status"] for r in again] == ["unchanged"] and again[0]["dest"] == str(dest)
    assert user_file.read_text() == USER_NOTE


def test_a_users_file_at_the_media_name_with_alice_sidecar_absent(env: AliceEnv) -> None:
    proj = env.inbox / "proj"
    proj.mkdir(parents=True)
    folder = env.organized / "proj"
    folder.mkdir(parents=True)
    (folder / "y.png").write_bytes(b"the user's own y.png")
    (proj / "y.png").write_bytes(unique_png(2))
    res = env.organize_json()
    assert (folder / "y.png").read_bytes() == b"the user's own y.png"
    assert Path(res[0]["dest"]).name != "y.png" and Path(res[0]["dest"]).read_bytes() == unique_png(2)


def test_the_daemon_keeps_a_users_sidecar_named_file_too(env: AliceEnv) -> None:
    folder = env.organized / "proj"
    folder.mkdir(parents=True)
    user_file = folder / "z.png.yaml"
    user_file.write_text(USER_NOTE)
    d = DaemonProc(env, "keep")
    try:
        d.wait_ready()
        (env.inbox / "proj").mkdir(parents=True, exist_ok=True)
        (env.inbox / "proj" / "z.png").write_bytes(unique_png(3))
        wait_until(lambda: media_files(env.organized), 60, what="z.png filed")
        wait_until(lambda: rows(env.db_url, "SELECT count(*) FROM jobs WHERE state='done'")[0][0] >= 1, 30)
    finally:
        assert d.terminate() == 0
    assert user_file.read_text() == USER_NOTE
    (filed,) = [p for p in media_files(env.organized) if p.name.endswith(".png")]
    assert filed.name != "z.png" and sidecar.sidecar_path(filed).is_file()
