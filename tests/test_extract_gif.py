from __future__ import annotations

from alice.pipeline.extract import extract
from tests import fixturegen as fg


def test_comment_size_and_animation(tmp_path) -> None:
    still = extract(fg.write(tmp_path, "a.gif", fg.make_gif("made by a tool", size=(9, 7))))
    assert still.text == {"comment": "made by a tool"}
    assert (still.width, still.height) == (9, 7)
    assert not still.animated and still.media == "image"
    moving = extract(fg.write(tmp_path, "b.gif", fg.make_gif(frames=3)))
    assert moving.animated and moving.media == "video"


def test_xmp_application_extension(tmp_path) -> None:
    packet = b'<?xpacket begin=""?><x:xmpmeta xmlns:x="adobe:ns:meta/"/><?xpacket end="w"?>'
    trailer = bytes([1]) + bytes(range(255, -1, -1)) + b"\x00"     # the 258-byte "magic trailer"
    extension = b"\x21\xff\x0bXMP DataXMP" + packet + trailer
    data = fg.make_gif()
    meta = extract(fg.write(tmp_path, "x.gif", data[:-1] + extension + b"\x3b"))
    assert meta.xmp == packet.decode()


def test_truncated_gif_is_an_error(tmp_path) -> None:
    data = fg.make_gif(frames=2, size=(40, 40))
    meta = extract(fg.write(tmp_path, "cut.gif", data[: len(data) // 2]))
    assert meta.error == "truncated GIF: file ends inside a block"
