"""Destinations are one safe folder per template segment and never overwrite other content."""
from __future__ import annotations

import unicodedata
from datetime import datetime, timedelta, timezone
from pathlib import Path, PurePosixPath, PureWindowsPath

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alice.pipeline.plan import (
    DEFAULT_LAYOUT,
    Layout,
    LayoutError,
    PlanError,
    plan_destination,
    project_for,
    sanitize_filename,
    sanitize_segment,
)
from alice.pipeline.record import AssetRecord

WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {f"{p}{n}" for p in ("COM", "LPT") for n in range(10)}
HOSTILE = st.one_of(
    st.text(max_size=300),
    st.sampled_from(["", ".", "..", "...", "/", "\\", "../../etc/passwd", "a/../b", "C:\\x", "\x00", " ", ". .",
                     "CON", "con.txt", "Nul  ", "LPT9.tar.gz", "com¹", "CONIN$", ".hidden", "name. ", "\u2028",
                     "e\u0301" * 60, "😀" * 40, "a\udcffb"]),
    st.lists(st.sampled_from([".", " ", "/", "\\", "CON", "é", "e\u0301", "😀", "\x7f", "x", "\ud800"]),
             max_size=60).map("".join),
)


def assert_safe_segment(seg: str) -> None:
    assert seg and seg not in (".", "..")
    assert not seg.startswith((".", " ")) and not seg.endswith((".", " "))
    assert not any(c in seg for c in '/\\<>:"|?*\x00')
    assert not any(unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp") for c in seg)
    assert len(seg.encode("utf-8")) <= 100
    assert PurePosixPath(seg).parts == (seg,) and PureWindowsPath(seg).parts == (seg,)
    assert seg.split(".")[0].rstrip().upper() not in WINDOWS_RESERVED


@settings(max_examples=400, deadline=None)
@given(HOSTILE)
def test_sanitize_segment_is_one_safe_segment_and_idempotent(name):
    seg = sanitize_segment(name)
    assert_safe_segment(seg)
    assert sanitize_segment(seg) == seg


@settings(max_examples=300, deadline=None)
@given(HOSTILE, st.sampled_from(["", "-a1b2c3", "-a1b2c3-17"]))
def test_sanitize_filename_is_safe_and_keeps_suffix(name, suffix):
    got = sanitize_filename(name, suffix)
    assert_safe_segment(got)
    assert sanitize_filename(got) == got
    if suffix:
        assert suffix in got


@pytest.mark.parametrize("name, expected", [
    ("..", "_"), ("", "_"), ("a/b", "a_b"), ("..\\..\\x", "_.._x"), ("CON", "_CON"), ("con.txt", "_con.txt"),
    ("  .hidden", "hidden"), ("trail. . ", "trail"), ("tab\there", "tab_here"), ("Client: Acme", "Client_ Acme"),
    ("e\u0301", "\u00e9"),
])
def test_sanitize_segment_examples(name, expected):
    assert sanitize_segment(name) == expected


def test_long_names_are_cut_on_character_boundaries():
    assert sanitize_segment("é" * 80) == "é" * 50
    assert sanitize_segment("😀" * 40) == "😀" * 25


def test_filename_keeps_extension_when_cut():
    got = sanitize_filename("a" * 300 + ".png", "-abcdef")
    assert got.endswith("-abcdef.png") and len(got.encode()) == 100
    assert sanitize_filename(".bashrc") == "bashrc"
    assert sanitize_filename("CON.png") == "_CON.png"
    assert sanitize_filename("x.tar.gz", "-1") == "x.tar-1.gz"


# -- project_for ----------------------------------------------------------------------
def test_project_is_first_folder_under_inbox():
    inbox = Path("/home/u/inbox")
    assert project_for(inbox / "Acme" / "shoot" / "a.png", inbox, "misc") == "Acme"
    assert project_for(inbox / "a.png", inbox, "misc") == "misc"
    with pytest.raises(ValueError, match="not inside the inbox"):
        project_for(Path("/elsewhere/a.png"), inbox, "misc")


# -- Layout ---------------------------------------------------------------------------
def record(**kw) -> AssetRecord:
    base = dict(content_id="b3:3fa9c1" + "0" * 58, file_hash="b3:" + "f" * 64, size=1, format="png",
                media="image", tool="comfyui", ai=True, project="Acme", source_path="/in/Acme/cat.png",
                created_at=datetime(2024, 3, 9, 23, 30, tzinfo=timezone(timedelta(hours=-5))))
    base.update(kw)
    return AssetRecord(**base)


def test_default_layout():
    assert Layout(DEFAULT_LAYOUT).render(record()) == PurePosixPath("2024-03-09/Acme/comfyui")


def test_every_placeholder():
    layout = Layout("{year}/{month}/{day}/{stars}-{media}-{format}/{tool}")
    assert layout.render(record(tool=None, stars=4)) == PurePosixPath("2024/03/09/4-star-image-png/unknown")
    assert layout.render(record()).parts[3] == "unrated-image-png"


def test_rendered_values_cannot_escape_their_segment():
    got = Layout("{project}/{tool}").render(record(project="../../etc", tool="a/b"))
    assert got == PurePosixPath("_.._etc/a_b")
    assert ".." not in got.parts


@pytest.mark.parametrize("template, message", [
    ("{date}/{client}", r"unknown placeholder \{client\}; valid ones are \{date\}, \{year\}"),
    ("{}", r"unknown placeholder \{\}"),
    ("/srv/{date}", "not an absolute path"),
    ("C:/x/{date}", "not an absolute path"),
    ("~/x", "not an absolute path"),
    ("{date}/../{tool}", "'..' folders are not allowed"),
    ("{date}//{tool}", "empty"),
    ("{date}\\{tool}", "use '/'"),
    ("{date:%Y}", "no format spec"),
    ("{date!r}", "no format spec"),
    ("{date", "literal brace"),
    (42, "must be a string"),
])
def test_bad_layouts_are_refused_at_construction(template, message):
    with pytest.raises(LayoutError, match=message):
        Layout(template)


def test_literal_text_and_braces_are_allowed():
    assert Layout("by-date/{date}/{{raw}}").render(record()) == PurePosixPath("by-date/2024-03-09/{raw}")


# -- plan_destination -----------------------------------------------------------------
ROOT = Path("/tree")
FOLDER = ROOT / "2024-03-09" / "Acme" / "comfyui"


def plan(occupied: dict[Path, str], name: str = "cat.png", **kw) -> Path:
    return plan_destination(record(**kw), ROOT, Layout(DEFAULT_LAYOUT), name, occupied.get)


def test_free_name_is_used():
    assert plan({}) == FOLDER / "cat.png"


def test_same_content_already_there_is_idempotent():
    assert plan({FOLDER / "cat.png": "b3:" + "f" * 64}) == FOLDER / "cat.png"


def test_clash_gets_content_suffix_then_counter():
    other = "b3:" + "1" * 64
    taken = {FOLDER / "cat.png": other}
    assert plan(taken) == FOLDER / "cat-3fa9c1.png"
    taken[FOLDER / "cat-3fa9c1.png"] = other
    assert plan(taken) == FOLDER / "cat-3fa9c1-2.png"
    taken[FOLDER / "cat-3fa9c1-2.png"] = other
    assert plan(taken) == FOLDER / "cat-3fa9c1-3.png"


def test_earlier_suffixed_copy_is_found_again():
    taken = {FOLDER / "cat.png": "b3:" + "1" * 64, FOLDER / "cat-3fa9c1.png": "b3:" + "f" * 64}
    assert plan(taken) == FOLDER / "cat-3fa9c1.png"


def test_hostile_file_name_is_sanitized():
    assert plan({}, name="../../.bashrc") == FOLDER / "_.._.bashrc"
    assert plan({}, name="CON.png") == FOLDER / "_CON.png"


def test_gives_up_with_plan_error_when_everything_is_taken():
    with pytest.raises(PlanError, match="no free name"):
        plan_destination(record(), ROOT, Layout(DEFAULT_LAYOUT), "cat.png", lambda p: "b3:other")
