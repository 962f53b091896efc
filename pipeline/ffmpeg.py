"""Running the ffmpeg binary for a bounded, non-interactive job.

The wheel from imageio-ffmpeg ships a static ffmpeg, so video works without a
system package; a system `ffmpeg` on PATH is the fallback. stderr goes to a
temporary file and only its tail is kept: a damaged 4 GB video can make
ffmpeg print an error per packet.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from alice.pipeline.unreadable import MediaTimeout

STDERR_TAIL = 4096
STDOUT_CAP = 1 << 20
_PREFIX = re.compile(r"^(\[[^\]]*@ 0x[0-9a-f]+\]\s*)+")


class FfmpegUnavailable(RuntimeError):
    """No ffmpeg binary was found: a broken installation, not a broken file."""


@dataclass(frozen=True)
class FfmpegRun:
    returncode: int
    stdout: bytes
    stderr_tail: str

    @property
    def lines(self) -> list[str]:
        """stderr lines without ffmpeg's "[mpeg4 @ 0x55d0...]" component prefixes."""
        return [_PREFIX.sub("", line).strip() for line in self.stderr_tail.splitlines() if line.strip()]

    @property
    def last_error(self) -> str:
        """The last stderr line, which is where ffmpeg says why it gave up."""
        return self.lines[-1] if self.lines else f"ffmpeg exited with code {self.returncode}"

    def first_with(self, words: tuple[str, ...]) -> str | None:
        """The first stderr line containing one of `words` (case-insensitive)."""
        return next((line for line in self.lines if any(w in line.lower() for w in words)), None)


@lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:  # the wheel's binary may be missing for this platform
        found = shutil.which("ffmpeg")
        if found:
            return found
    raise FfmpegUnavailable("ffmpeg not found: install the imageio-ffmpeg wheel or put ffmpeg on PATH")


def timeout_for(size: int) -> float:
    """Generous wall time for a stream-copy pass: 30 s plus 1 s per 20 MB (copying runs at hundreds of MB/s)."""
    return 30.0 + size / 20e6


def run_ffmpeg(path: Path, args: list[str], timeout: float) -> FfmpegRun:
    """Run `ffmpeg -i path <args>`; stdout is captured (capped), stderr's tail kept."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-i", str(path), *args]
    with tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=err, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise MediaTimeout(f"ffmpeg did not finish reading the file within {timeout:.0f} s") from None
        err.seek(0, 2)
        err.seek(max(0, err.tell() - STDERR_TAIL))
        tail = err.read().decode("utf-8", "replace")
    return FfmpegRun(proc.returncode, proc.stdout[:STDOUT_CAP], tail)
