"""A throwaway alice installation for end-to-end tests: folders, config, CLI runner, checks."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tests.corpus_paths import CORPUS, LABELS

ALICE = Path(sys.executable).parent / "alice"
FIXED_MTIME = time.mktime((2024, 5, 6, 12, 0, 0, 0, 0, -1))


def labels() -> list[dict]:
    return LABELS


@dataclass
class AliceEnv:
    root: Path
    db_url: str
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def organized(self) -> Path:
        return self.root / "organized"

    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    def write_config(self, **extra) -> None:
        data = {"inboxes": [str(self.inbox)], "organized": str(self.organized),
                "data_dir": str(self.root / "data"), "database": {"url": self.db_url}, **extra}
        self.inbox.mkdir(parents=True, exist_ok=True)
        self.config.write_text(yaml.safe_dump(data))

    def env(self, **more: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALICE_")}
        env.update({"ALICE_CONFIG": str(self.config), "HOME": str(self.root / "home"),
                    "XDG_RUNTIME_DIR": str(self.root / "run")})
        env.update(self.extra_env)
        env.update(more)
        return env

    def run(self, *args: str, check: bool = True, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
        proc = subprocess.run([str(ALICE), *args], env=self.env(**env), capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
        if check and proc.returncode != 0:
            raise AssertionError(f"alice {' '.join(args)} exited {proc.returncode}\n"
                                 f"stdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}")
        return proc

    def organize_json(self, *args: str, **env: str) -> list[dict]:
        proc = self.run("organize", "--json", *args, **env)
        return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]

    def drop_corpus(self, projects: tuple[str, ...] = ("cyberpunk", "portraits")) -> dict[str, Path]:
        """Copy every corpus file into the inbox, alternating between project folders."""
        placed: dict[str, Path] = {}
        for i, src in enumerate(sorted(CORPUS.iterdir())):
            dest_dir = self.inbox / projects[i % len(projects)]
            dest_dir.mkdir(parents=True, exist_ok=True)
            dest = dest_dir / src.name
            shutil.copyfile(src, dest)
            os.chmod(dest, 0o644)
            os.utime(dest, (FIXED_MTIME, FIXED_MTIME))
            placed[src.name] = dest
        return placed


def tree_files(root: Path) -> dict[str, Path]:
    """Relative path -> absolute, for every file under root (sidecars and quarantine included)."""
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            p = Path(dirpath) / name
            out[str(p.relative_to(root))] = p
    return out


def media_files(root: Path) -> list[Path]:
    """Filed media (not sidecars, not reason files, not quarantine)."""
    return [p for rel, p in tree_files(root).items()
            if not rel.startswith(".quarantine") and not rel.endswith(".yaml")]
