"""Container tags of formats we do not walk ourselves (WebM/MKV, AVI, audio), via ffmpeg.

ffmpeg's `ffmetadata` muxer prints the global tags unabridged and escaped, so
multi-megabyte ComfyUI workflows in a comment survive intact. Writing it
overwrites `encoder` with ffmpeg's own name; with +bitexact it drops it, so the
input's encoder (and the video size) are taken from the stream dump on stderr.

The child runs with a timeout and its output is read with a cap: a hostile
file can cost us at most TIMEOUT seconds and MAX_OUTPUT bytes. (pipeline/ffmpeg.py's
run_ffmpeg suits stream hashing: it keeps 1 MB of stdout and silences the
stream dump this reader needs.)
"""
from __future__ import annotations

import re
import selectors
import subprocess
import time
from pathlib import Path

from alice.pipeline.ffmpeg import FfmpegUnavailable, ffmpeg_exe

TIMEOUT = 20.0
MAX_OUTPUT = 64 * 1024 * 1024
MAX_STDERR = 1024 * 1024

_DIMS_RE = re.compile(r"Stream #\d+:\d+.*?: Video: .*?\b(\d{2,5})x(\d{2,5})\b")
_ENCODER_RE = re.compile(r"^\s{4}encoder\s*: (.+)$", re.IGNORECASE | re.MULTILINE)


def read_ffmpeg_tags(path: Path) -> tuple[dict[str, str], int | None, int | None, list[str]]:
    """(global tags, width, height, warnings) as ffmpeg reads them. Never raises."""
    warnings: list[str] = []
    try:
        cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path),
               "-fflags", "+bitexact", "-f", "ffmetadata", "-"]
        out, err, timed_out, capped = _run_bounded(cmd)
    except (FfmpegUnavailable, OSError) as exc:
        return {}, None, None, [f"could not read video tags: {exc}"]
    if timed_out:
        warnings.append(f"ffmpeg took longer than {TIMEOUT:.0f} s reading tags; stopped it")
    if capped:
        warnings.append(f"video tags larger than {MAX_OUTPUT // 2**20} MB; the rest was skipped")
    tags = parse_ffmetadata(out.decode("utf-8", "replace"))
    text = err.decode("utf-8", "replace")
    if not tags and "Invalid data found" in text:
        warnings.append("ffmpeg could not parse the container")
    encoder = _ENCODER_RE.search(text.split("Stream mapping:", 1)[0])
    if encoder and "encoder" not in tags:
        tags["encoder"] = encoder.group(1).strip()
    dims = _DIMS_RE.search(text)
    width, height = (int(dims.group(1)), int(dims.group(2))) if dims else (None, None)
    return tags, width, height, warnings


def parse_ffmetadata(text: str) -> dict[str, str]:
    """Global key=value pairs of an ffmetadata document (stops at the first [SECTION])."""
    tags: dict[str, str] = {}
    lines = text.split("\n")
    if not lines or not lines[0].startswith(";FFMETADATA"):
        return tags
    pending = ""
    for line in lines[1:]:
        if not pending and (line.startswith(";") or line.startswith("#")):
            continue
        if not pending and line.startswith("["):
            break
        # A trailing unescaped backslash continues the value on the next line.
        trailing = len(line) - len(line.rstrip("\\"))
        if trailing % 2 == 1:
            pending += line[:-1] + "\n"
            continue
        entry = pending + line
        pending = ""
        key, value = _split_entry(entry)
        if key and key not in tags:
            tags[key] = value
    return tags


def _split_entry(entry: str) -> tuple[str, str]:
    key: list[str] = []
    i = 0
    while i < len(entry):
        ch = entry[i]
        if ch == "\\" and i + 1 < len(entry):
            key.append(entry[i + 1])
            i += 2
            continue
        if ch == "=":
            return "".join(key), _unescape(entry[i + 1:])
        key.append(ch)
        i += 1
    return "", ""


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value, flags=re.DOTALL)


def _run_bounded(cmd: list[str]) -> tuple[bytes, bytes, bool, bool]:
    """Run cmd; (stdout, stderr, timed_out, capped) with both streams capped."""
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = bytearray(), bytearray()
    timed_out = capped = False
    deadline = time.monotonic() + TIMEOUT
    assert proc.stdout is not None and proc.stderr is not None      # both are PIPEs
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ, (out, MAX_OUTPUT))
        sel.register(proc.stderr, selectors.EVENT_READ, (err, MAX_STDERR))
        open_streams = 2
        while open_streams:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            for key, _ in sel.select(timeout=remaining):
                chunk = key.fileobj.read1(65536)  # type: ignore[union-attr]
                buf, cap = key.data
                if not chunk:
                    sel.unregister(key.fileobj)
                    open_streams -= 1
                    continue
                room = cap - len(buf)
                buf += chunk[:max(room, 0)]
                if len(chunk) > room and buf is out:
                    capped = True
            if capped:
                break
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    proc.stdout.close()
    proc.stderr.close()
    return bytes(out), bytes(err), timed_out, capped
