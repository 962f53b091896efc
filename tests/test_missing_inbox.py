"""A configured inbox that is not there: said at start, retried, and watched once it appears."""
from __future__ import annotations

import json

from tests.daemon_env import DaemonProc, unique_png, wait_until
from tests.organize_env import AliceEnv, media_files


def _events(d: DaemonProc) -> list[dict]:
    text = (d.env.root / f"daemon-{d.name}.log").read_text(errors="replace")
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_daemon_warns_about_a_missing_inbox_and_picks_it_up_when_it_appears(tmp_path, db_url):
    env = AliceEnv(tmp_path, db_url)
    later = tmp_path / "later-inbox"
    env.write_config(workers=1, inboxes=[str(env.inbox), str(later)], watch={"settle_seconds": 0.2})
    d = DaemonProc(env)
    try:
        d.wait_ready()
        warned = [e for e in _events(d) if e.get("inbox") == str(later) and e["level"] == "warning"]
        assert warned and "does not exist" in warned[0]["event"] and "mkdir -p" in warned[0]["fix"], d.tail()
        status = json.loads(env.run("status", "--json").stdout)
        assert "does not exist" in status["local_daemons"][0]["watchers"][str(later)]

        (later / "proj").mkdir(parents=True)
        wait_until(lambda: any(e.get("event") == "inbox appeared; watching it now" for e in _events(d)), 20,
                   what="the inbox to be noticed")
        (later / "proj" / "new.png").write_bytes(unique_png(7))
        wait_until(lambda: env.organized.exists() and media_files(env.organized), 30, what="the file to be filed")
    finally:
        d.terminate()
    said = [e for e in _events(d) if e.get("inbox") == str(later) and "does not exist" in e.get("event", "")]
    assert len(said) == 1, said       # warned once, not on every retry


def test_organize_says_an_inbox_is_missing(tmp_path, db_url):
    env = AliceEnv(tmp_path, db_url)
    env.write_config(inboxes=[str(env.inbox), str(tmp_path / "gone")])
    env.inbox.mkdir(exist_ok=True)
    proc = env.run("organize")
    assert f"inbox {tmp_path / 'gone'} does not exist" in proc.stderr, proc.stderr
