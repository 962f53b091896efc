"""The README's commands are what CI runs, and the tests need nothing beside the checkout."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    block = re.search(r"```sh\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert block, "README.md has lost its opening ```sh block of commands"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_ci_runs_the_readme_test_command_and_nothing_more() -> None:
    test_command = readme_commands()[1]
    assert "pytest" in test_command
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    commands = [line for line in ci if line.strip() and not line.startswith("#")]
    assert commands == ["set -euo pipefail", 'cd "$(dirname "$0")/.."', test_command]


def test_no_test_reaches_outside_the_repository() -> None:
    # The old corpus lived in a "shared" folder beside the checkout, which a fresh clone does not have:
    # no test may name it (this test only searches the other tests' text for such paths).
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "tests").rglob("*.py")
                 if p.name != Path(__file__).name and re.search(r"parents\[1\]\.parent|\.\./shared|\"shared\" /", p.read_text())]
    assert offenders == []
