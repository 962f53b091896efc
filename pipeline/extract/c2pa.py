"""Read a file's C2PA manifest (Content Credentials) without the network.

C2PA stores are signed JUMBF/CBOR that we leave to c2pa-python. Calling it
costs a native parse and a hash of the whole asset, so a byte-level presence
check (PNG caBX chunk, JPEG APP11 JUMBF, ISOBMFF uuid box, WebP C2PA chunk)
decides first whether there is anything to read.

Remote manifests and OCSP are switched off: a daemon that indexes private
files must not tell a server which files it is looking at. Trust failures
(self-signed or expired certificates) are normal in the wild and never hide
the manifest: the manifest says who made the file whether or not we trust
the signer, and its validation state travels with it.
"""
from __future__ import annotations

import functools
import json
import os
import struct
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any, BinaryIO

from alice.pipeline.detect.coerce import json_safe
from alice.pipeline.extract import png
from alice.pipeline.extract.isobmff import MAX_TOP_LEVEL, BoxError, file_size, iter_boxes
from alice.pipeline.extract.limits import MAX_CHUNKS

C2PA_UUID = bytes.fromhex("d8fec3d61b0e483c92975828877ec481")
MAX_STORE = 64 * 1024 * 1024        # a manifest store beyond this is not one we parse
MAX_MANIFEST_JSON = 2 * 1024 * 1024  # what we keep of a manifest in Metadata (and the catalog)
MAX_INGREDIENT_MANIFESTS = 16

MIME = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "avif": "image/avif",
    "heic": "image/heic",
    "heif": "image/heif",
    "mp4": "video/mp4",
    "m4v": "video/mp4",
    "m4a": "audio/mp4",
    "mov": "video/quicktime",
}
BMFF = {"avif", "heic", "heif", "mp4", "m4v", "m4a", "mov"}

# Codes that only say we do not trust the signer; everything else means damage.
TRUST_CODES = {"signingCredential.untrusted", "signingCredential.expired", "signingCredential.ocsp.skipped"}


class _NoManifest(Exception):
    pass


def read_c2pa(path: Path, fmt: str, verify: bool = True,
              fh: BinaryIO | None = None) -> tuple[bool, dict | None, list[str]]:
    """(a C2PA store is present?, the active manifest as JSON or None, warnings).

    Never raises. The manifest dict is c2pa-python's active manifest with three
    keys added: "validation_state", "validation_status" (the store's) and
    "ingredient_manifests" (the other manifests of the store, i.e. the
    provenance of the files this one was made from).

    verify=False skips validation (hashing the whole asset, checking the
    signature chain), about ten times cheaper; the manifest - and so the
    detection - is the same, but validation_state is then "unverified".
    """
    warnings: list[str] = []
    try:
        with (_rewound(fh) if fh is not None else open(path, "rb")) as f:
            store_size = _store_size(f, fmt)
            if store_size is None:
                return False, None, []
            if store_size > MAX_STORE:
                return True, None, [f"C2PA manifest store of {store_size} bytes is over the "
                                    f"{MAX_STORE // 2**20} MB limit; not read"]
            if verify:
                store = _read_verified_or_not(f, MIME.get(fmt, ""), warnings)
            else:
                f.seek(0)
                store = _read_store(f, MIME.get(fmt, ""), verify=False)
                store["validation_state"] = "unverified"
    except OSError as exc:
        return False, None, [f"could not read file for C2PA: {exc.strerror or exc}"]
    except BoxError as exc:
        return False, None, [f"C2PA check stopped: damaged container ({exc})"]
    except _NoManifest:
        return True, None, ["C2PA data found, but the reader found no manifest in it"]
    except Exception as exc:   # the native reader's errors are not a stable hierarchy
        return True, None, [f"C2PA manifest present but unreadable: {_error_text(exc)}"]
    manifest = _active_manifest(store, warnings)
    return True, manifest, warnings


@contextmanager
def _rewound(fh: BinaryIO) -> Iterator[BinaryIO]:
    """The caller's open file, from its start; left open for the caller."""
    fh.seek(0)
    yield fh


def _error_text(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[:300]


def load_c2pa() -> ModuleType:
    """The c2pa package, imported on first use: its native library is 23 MB.

    c2pa/__init__.py fills c2pa.__version__, which alice never reads, through
    importlib.metadata; importing that (email, zipfile, csv, ...) costs ~13 ms,
    more than the rest of c2pa's import. While importlib.metadata is not loaded
    and no other thread could import it meanwhile, it is marked missing for the
    moment c2pa imports, which c2pa takes as "version unknown".
    """
    if "c2pa" in sys.modules or "importlib.metadata" in sys.modules or threading.active_count() > 1:
        import c2pa

        return c2pa
    sys.modules["importlib.metadata"] = None    # type: ignore[assignment]  # import raises ImportError
    try:
        import c2pa
    except ImportError:
        pass                    # a c2pa that needs importlib.metadata after all: imported below
    finally:
        del sys.modules["importlib.metadata"]
    import c2pa

    return c2pa


def _get_context(verify: bool) -> Any:
    """The reader settings, built once per process for each `verify`."""
    return _context(verify, os.getpid())


@functools.cache
def _context(verify: bool, pid: int) -> Any:
    # Keyed on the pid: c2pa refuses a Context in a forked child ("Context is not valid"),
    # so a worker forked after its parent read a C2PA file builds its own.
    return load_c2pa().Context.from_dict({"verify": {
        "remote_manifest_fetch": False, "ocsp_fetch": False, "verify_after_reading": verify}})


def _read_verified_or_not(f: BinaryIO, mime: str, warnings: list[str]) -> dict:
    """The store, validated if possible; else read without validation so it is not lost.

    Some validation failures (a damaged certificate, a missing signature box)
    make the reader refuse the whole store, yet the claim still names its
    generator; a reading with a warning beats no reading.
    """
    f.seek(0)
    try:
        return _read_store(f, mime, verify=True)
    except _NoManifest:
        raise
    except Exception as exc:   # the native reader's errors are not a stable hierarchy
        first_error = exc
    f.seek(0)
    try:
        store = _read_store(f, mime, verify=False)
    except Exception:
        raise first_error from None
    warnings.append(f"C2PA manifest could not be validated ({_error_text(first_error)}); read without validation")
    return store


def _read_store(f: BinaryIO, mime: str, verify: bool) -> dict:
    c2pa = load_c2pa()
    try:
        with c2pa.Reader(mime or None, f, context=_get_context(verify)) as reader:
            text = reader.json()
    except c2pa.C2paError as exc:
        if "ManifestNotFound" in type(exc).__name__ or "no JUMBF" in str(exc):
            raise _NoManifest() from exc
        raise
    store = json.loads(text)
    if not isinstance(store, dict):
        raise ValueError("C2PA reader returned JSON that is not an object")
    return store


def _active_manifest(store: dict, warnings: list[str]) -> dict | None:
    manifests = store.get("manifests")
    label = store.get("active_manifest")
    if not isinstance(manifests, dict) or not isinstance(manifests.get(label), dict):
        warnings.append("C2PA store has no active manifest")
        return None
    status = store.get("validation_status") or []
    damage = sorted({s.get("code", "?") for s in status if isinstance(s, dict)} - TRUST_CODES)
    if damage:
        warnings.append("C2PA manifest failed validation: " + ", ".join(map(str, damage))[:300])
    manifest = dict(manifests[label])
    manifest["validation_state"] = store.get("validation_state")
    manifest["validation_status"] = status
    others = [m for key, m in manifests.items() if key != label and isinstance(m, dict)]
    manifest["ingredient_manifests"] = others[:MAX_INGREDIENT_MANIFESTS]
    manifest = json_safe(manifest)
    if len(json.dumps(manifest)) > MAX_MANIFEST_JSON:
        manifest = _slim(manifest)
        warnings.append("C2PA manifest is very large; kept only its generator, actions and signature")
    return manifest


def _slim(manifest: dict) -> dict:
    keep = ("claim_generator", "claim_generator_info", "title", "format", "label",
            "signature_info", "validation_state")
    slim = {k: manifest[k] for k in keep if k in manifest}
    slim["assertions"] = [a for a in manifest.get("assertions", [])
                          if isinstance(a, dict) and str(a.get("label", "")).startswith("c2pa.actions")]
    if len(json.dumps(slim)) > MAX_MANIFEST_JSON:
        slim.pop("assertions")
    return slim


# --- presence checks: bytes only, no parsing of the store itself ---------------

def _store_size(f: BinaryIO, fmt: str) -> int | None:
    """Bytes of C2PA data found, or None when the container has none."""
    if fmt == "png":
        return _png_store(f)
    if fmt == "jpeg":
        return _jpeg_store(f)
    if fmt == "webp":
        return _webp_store(f)
    if fmt in BMFF:
        return _bmff_store(f)
    return None


def _png_store(f: BinaryIO) -> int | None:
    if f.read(8) != png.SIGNATURE:
        return None
    return next((length for kind, _, length in png.chunk_heads(f) if kind == b"caBX"), None)


def _jpeg_store(f: BinaryIO) -> int | None:
    if f.read(2) != b"\xff\xd8":
        return None
    total = 0
    instance: bytes | None = None    # JPEG XT box instance (En) of the C2PA superbox
    offset = 2
    for _ in range(MAX_CHUNKS):
        f.seek(offset)
        marker = f.read(2)
        if len(marker) < 2 or marker[0] != 0xFF:
            break
        if marker[1] == 0xFF:          # fill byte before a marker
            offset += 1
            continue
        if marker[1] in (0xD9, 0xDA):  # end of image / start of scan: no more metadata
            break
        if 0xD0 <= marker[1] <= 0xD7 or marker[1] == 0x01:
            offset += 2
            continue
        raw = f.read(2)
        if len(raw) < 2:
            break
        length = struct.unpack(">H", raw)[0]
        if length < 2:
            break
        if marker[1] == 0xEB:           # APP11: JPEG XT boxes, where C2PA JUMBF lives
            head = f.read(min(length - 2, 64))
            # The "c2pa" label is only in the first segment; continuations share its En.
            if head[:2] == b"JP" and instance is None and b"c2pa" in head:
                instance = head[2:4]
            if head[:2] == b"JP" and instance is not None and head[2:4] == instance:
                total += length
        offset += 2 + length
    return total or None


def _webp_store(f: BinaryIO) -> int | None:
    head = f.read(12)
    if head[:4] != b"RIFF" or head[8:12] != b"WEBP":
        return None
    end = min(12 + struct.unpack("<I", head[4:8])[0], file_size(f)) if len(head) == 12 else 0
    offset = 12
    for _ in range(MAX_CHUNKS):
        if offset + 8 > end:
            return None
        f.seek(offset)
        chunk = f.read(8)
        kind, size = chunk[:4], struct.unpack("<I", chunk[4:8])[0]
        if kind == b"C2PA":
            return size
        offset += 8 + size + (size & 1)
    return None


def _bmff_store(f: BinaryIO) -> int | None:
    end = file_size(f)
    for box in iter_boxes(f, 0, end, MAX_TOP_LEVEL):
        if box.type == "uuid" and box.usertype == C2PA_UUID:
            return box.end - box.start
    return None
