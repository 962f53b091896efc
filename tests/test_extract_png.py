from __future__ import annotations

import zlib

from alice.pipeline.extract import extract
from alice.pipeline.extract.limits import TEXT_CAP, TextBudget
from tests import fixturegen as fg


def _png(tmp_path, before=(), after=(), name="f.png", **kw):
    return extract(fg.write(tmp_path, name, fg.make_png(before, after, **kw)))


def test_text_chunks_before_and_after_idat(tmp_path) -> None:
    meta = _png(tmp_path, before=[fg.text_chunk("early", "one")], after=[fg.text_chunk("late", "two")])
    assert meta.text == {"early": "one", "late": "two"}
    assert meta.error is None and meta.format == "png" and (meta.width, meta.height) == (4, 4)


def test_ztxt_and_itxt_compressed_and_plain(tmp_path) -> None:
    meta = _png(tmp_path, before=[fg.ztxt_chunk("z", "zipped"), fg.itxt_chunk("i", "ünïcødé ✓"),
                                  fg.itxt_chunk("ic", "packed ✓", compressed=True)])
    assert meta.text == {"z": "zipped", "i": "ünïcødé ✓", "ic": "packed ✓"}


def test_text_chunk_utf8_bytes_decode_as_utf8_and_latin1_as_fallback(tmp_path) -> None:
    meta = _png(tmp_path, before=[fg.text_chunk("u", "日本語", encoding="utf-8"),
                                  (b"tEXt", b"l\x00caf\xe9")])
    assert meta.text["u"] == "日本語"
    assert meta.text["l"] == "café"


def test_xmp_itxt_fills_meta_xmp(tmp_path) -> None:
    meta = _png(tmp_path, before=[fg.itxt_chunk("XML:com.adobe.xmp", "<x:xmpmeta/>")])
    assert meta.xmp == "<x:xmpmeta/>"


def test_exif_chunk_is_parsed(tmp_path) -> None:
    exif = fg.make_exif({fg.MAKE: "Ideogram AI"}, prefix=False)
    meta = _png(tmp_path, before=[(b"eXIf", exif)])
    assert meta.exif["Make"] == "Ideogram AI"


def test_apng_is_animated_video(tmp_path) -> None:
    meta = _png(tmp_path, before=[(b"acTL", b"\x00\x00\x00\x02\x00\x00\x00\x00")])
    assert meta.animated and meta.media == "video"


def test_ztxt_bomb_is_cut_at_the_cap(tmp_path) -> None:
    bomb = zlib.compress(b"A" * (TEXT_CAP + 4 * 1024 * 1024), 9)
    meta = _png(tmp_path, before=[(b"zTXt", b"bomb\x00\x00" + bomb)])
    assert len(meta.text["bomb"]) == TEXT_CAP
    assert any("inflates beyond" in w for w in meta.warnings)


def test_corrupt_zlib_is_a_warning_not_a_crash(tmp_path) -> None:
    meta = _png(tmp_path, before=[(b"zTXt", b"bad\x00\x00not zlib at all"), fg.text_chunk("ok", "fine")])
    assert meta.text == {"ok": "fine"}
    assert any("corrupt" in w for w in meta.warnings)


def test_truncated_inside_idat_says_so_and_keeps_earlier_text(tmp_path) -> None:
    data = fg.make_png([fg.text_chunk("parameters", "x")], size=(64, 64))
    idat = data.index(b"IDAT")
    meta = extract(fg.write(tmp_path, "cut.png", data[: idat + 10]))
    assert meta.error == "truncated PNG: chunk IDAT runs past end of file"
    assert meta.text == {"parameters": "x"}


def test_missing_iend_is_reported(tmp_path) -> None:
    data = fg.make_png()
    meta = extract(fg.write(tmp_path, "noend.png", data[:-12]))
    assert meta.error == "truncated PNG: file ends before the IEND chunk"


def test_chunk_claiming_4gb_does_not_allocate(tmp_path) -> None:
    data = fg.make_png()
    bogus = b"\xff\xff\xff\xf0tEXt" + b"k\x00v"
    meta = extract(fg.write(tmp_path, "huge.png", data[:33] + bogus))
    assert meta.error and "tEXt" in meta.error


def test_text_budget_grants_until_spent() -> None:
    budget = TextBudget(total=100)
    assert budget.grant(60) == 60
    assert budget.grant(60) == 40
    assert budget.grant(1) == 0


def test_imagemagick_raw_profiles(tmp_path) -> None:
    exif = fg.make_exif({fg.MAKE: "Ideogram AI"}, prefix=True)
    xmp = b"<x:xmpmeta/>"

    def profile(kind: str, blob: bytes) -> str:
        return f"\n{kind}\n{len(blob):8d}\n{blob.hex()}\n"

    meta = _png(tmp_path, before=[fg.ztxt_chunk("Raw profile type exif", profile("exif", exif)),
                                  fg.ztxt_chunk("Raw profile type xmp", profile("xmp", xmp))])
    assert meta.exif["Make"] == "Ideogram AI"
    assert meta.xmp == "<x:xmpmeta/>"
