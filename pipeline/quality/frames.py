"""Frames out of a video for the quality stage, by the ffmpeg bundled with imageio-ffmpeg.

Each frame is its own ffmpeg run: seek (-ss before -i, so it jumps to the
nearest keyframe instead of decoding from the start), decode one frame, scale
it in ffmpeg and hand it over as raw RGB on a pipe. Output size is fixed by
the caller, so every read is bounded; every run has a timeout.
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np

from alice.pipeline.quality.errors import AssessmentError

HEADER_BYTES = 65536          # of ffmpeg's stderr kept for the probe; the header comes first

_DURATION = re.compile(rb"Duration:\s*(\d+):(\d\d):(\d\d(?:\.\d+)?)")
_VIDEO_SIZE = re.compile(rb"Stream #[^\n]*?Video:[^\n]*?\b(\d{2,5})x(\d{2,5})\b")


def ffmpeg_exe() -> str:
    try:
        import imageio_ffmpeg
        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError) as exc:
        raise AssessmentError(f"no ffmpeg available for video frames: {exc}") from None


def _ffmpeg_input(path: Path) -> str:
    # The file: protocol stops ffmpeg reading a name like "concat:a|b" or
    # "http://..." as something other than a local file.
    return "file:" + str(path.resolve())


def probe_video(path: Path, timeout: float) -> tuple[float | None, tuple[int, int]]:
    """(duration in seconds or None, (width, height) as coded) of the first video stream."""
    # `ffmpeg -i` with no output prints the container header and exits 1; that
    # is the cheapest probe the bundled binary offers (there is no ffprobe).
    try:
        proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-noautorotate", "-i", _ffmpeg_input(path)],
                              capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssessmentError(f"{path.name}: ffmpeg took over {timeout:.3g}s to read the header") from None
    err = proc.stderr[:HEADER_BYTES]
    size = _VIDEO_SIZE.search(err)
    if not size:
        raise AssessmentError(f"{path.name}: no video stream ffmpeg can read")
    dur = _DURATION.search(err)
    duration = int(dur.group(1)) * 3600 + int(dur.group(2)) * 60 + float(dur.group(3)) if dur else None
    return duration, (int(size.group(1)), int(size.group(2)))


def grab_frame(path: Path, at: float, size: tuple[int, int], timeout: float) -> np.ndarray | None:
    """The frame at `at` seconds scaled to `size` as HxWx3 uint8, None if ffmpeg gave none."""
    w, h = size
    # -noautorotate keeps frames as coded, the size probe_video reports;
    # orientation does not change any measure.
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-noautorotate",
           "-ss", f"{at:.3f}", "-i", _ffmpeg_input(path), "-map", "0:v:0", "-frames:v", "1",
           "-vf", f"scale={w}:{h}:flags=area", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssessmentError(f"{path.name}: ffmpeg took over {timeout:.3g}s for one frame") from None
    if len(proc.stdout) < w * h * 3:
        return None
    return np.frombuffer(proc.stdout[:w * h * 3], dtype=np.uint8).reshape(h, w, 3)
