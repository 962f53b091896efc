"""How long provenance reading takes per file: C2PA, video tags, XMP.

    python bench/provenance_bench.py [--seconds 2]

Prints milliseconds per call and calls per second for each reader on the
corpus C2PA samples, a generated WebM (the ffmpeg path) and an XMP packet.
"""
from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import imageio_ffmpeg

from alice.pipeline.extract.c2pa import read_c2pa
from alice.pipeline.extract.video import extract_video
from alice.pipeline.extract.xmp import _read_cached
from alice.pipeline.metadata import Metadata

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "corpus" / "files"


def measure(label: str, call: Callable[[], object], seconds: float) -> None:
    call()   # warm-up: first call loads the native library / caches
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        call()
        count += 1
    elapsed = time.perf_counter() - start
    print(f"{label:<48} {1000 * elapsed / count:8.2f} ms/call {count / elapsed:9.0f} calls/s")


def video_call(path: Path, fmt: str) -> Callable[[], object]:
    return lambda: extract_video(path, Metadata(path=path, format=fmt, media="video"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=2.0)
    seconds = parser.parse_args().seconds
    for name, fmt in (("c2pa-amazon-titan.png", "png"), ("c2pa-firefly-generative-fill.jpg", "jpeg"),
                      ("c2pa-sora.mp4", "mp4"), ("c2pa-camera-capture.jpg", "jpeg"),
                      ("photo-no-manifest.jpg", "jpeg"), ("camera-iphone.heic", "heic")):
        path = CORPUS / name
        size = path.stat().st_size / 2**20
        measure(f"read_c2pa {name} ({size:.1f} MB)", lambda p=path, f=fmt: read_c2pa(p, f), seconds)
    measure("extract_video c2pa-sora.mp4 (box walk)", video_call(CORPUS / "c2pa-sora.mp4", "mp4"), seconds)
    with tempfile.TemporaryDirectory() as tmp:
        webm = Path(tmp) / "clip.webm"
        subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
                        "-i", "color=c=red:s=64x48:d=0.2", "-c:v", "libvpx", "-metadata", "comment=x", str(webm)],
                       check=True)
        measure("extract_video clip.webm (ffmpeg subprocess)", video_call(webm, "webm"), seconds)
    packet = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
              '<rdf:Description rdf:about="" xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" '
              'photoshop:Credit="Made with Google AI"/></rdf:RDF></x:xmpmeta>')
    measure("XMP parse, 300-byte packet (uncached)", lambda: _read_cached.__wrapped__(packet), seconds)


if __name__ == "__main__":
    main()
