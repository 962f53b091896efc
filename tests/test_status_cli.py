"""`alice status`: what each figure counts, and the running daemon answers it."""
from __future__ import annotations

import json

from tests.daemon_env import DaemonProc, unique_png, wait_until
from tests.organize_env import AliceEnv


def test_status_explains_its_counts_and_asks_the_daemon(tmp_path, db_url):
    env = AliceEnv(tmp_path, db_url)
    env.write_config(workers=1)
    for project in ("a", "b"):
        (env.inbox / project).mkdir()
        (env.inbox / project / "same.png").write_bytes(unique_png(1))    # one content, two inbox files
    (env.inbox / "a" / "other.png").write_bytes(unique_png(2))
    env.run("organize")

    offline = json.loads(env.run("status", "--json").stdout)
    assert offline["source"] == "catalog"
    assert offline["assets"] == 2
    assert offline["files"]["inbox_sources"] == 3 and offline["files"]["organized"] >= 2
    text = env.run("status").stdout
    assert "distinct contents" in text and "in the organized tree" in text and "locations" not in text, text

    d = DaemonProc(env)
    try:
        d.wait_ready()
        online = wait_until(lambda: (r := json.loads(env.run("status", "--json").stdout))["source"] == "daemon"
                            and r, 10, what="status from the daemon")
    finally:
        d.terminate()
    assert online["assets"] == offline["assets"] and online["files"] == offline["files"]
    assert online["local_daemons"] and online["daemons"]
