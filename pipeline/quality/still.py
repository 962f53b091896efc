"""What a rater (a vision model, an aesthetics metric) looks at: one still image.

An image is rated as it is (the provider downsizes it for upload); a video on
its middle frame, taken by ffmpeg at a bounded size with a timeout.
"""
from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from alice.pipeline.quality.errors import AssessmentError
from alice.pipeline.quality.frames import grab_frame, probe_video


def still_for_rating(path: Path, media: str, max_edge: int, timeout: float) -> bytes | Path:
    """The image's path, or a video's middle frame as JPEG bytes with its long edge at most
    `max_edge`. Raises AssessmentError when the video gives no frame."""
    if media != "video":
        return path
    duration, (width, height) = probe_video(path, timeout)
    scale = min(1.0, max_edge / max(width, height, 1))
    size = (max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2))
    frame = grab_frame(path, (duration or 0.0) / 2, size, timeout)
    if frame is None:
        raise AssessmentError(f"{path.name}: ffmpeg gave no frame to rate")
    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, "JPEG", quality=90)
    return buf.getvalue()
