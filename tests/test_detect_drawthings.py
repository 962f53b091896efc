from __future__ import annotations

import html
import json

from alice.pipeline.inspect import inspect_file
from tests import fixturegen as fg

RECORD = {"c": "a lighthouse at night", "uc": "blurry", "model": "sd_xl_base_1.0_f16.ckpt", "seed": 123,
          "scale": 5, "steps": 30, "size": "1024x1024", "sampler": "DPM++ 2M Karras"}
XMP = f"""<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:exif="http://ns.adobe.com/exif/1.0/">
<xmp:CreatorTool>Draw Things</xmp:CreatorTool>
<exif:UserComment><rdf:Alt><rdf:li xml:lang="x-default">{html.escape(json.dumps(RECORD))}</rdf:li></rdf:Alt></exif:UserComment>
</rdf:Description></rdf:RDF></x:xmpmeta>"""


def test_png_xmp(tmp_path) -> None:
    info = inspect_file(fg.write(tmp_path, "dt.png", fg.make_png([fg.itxt_chunk("XML:com.adobe.xmp", XMP)])))
    g = info.generation
    assert info.tool == "drawthings"
    assert (g.prompt, g.negative_prompt, g.seed, g.steps, g.cfg, g.width, g.height) == (
        "a lighthouse at night", "blurry", 123, 30, 5.0, 1024, 1024)
    assert info.evidence[0] == "xmp:CreatorTool=Draw Things"


def test_jpeg_xmp(tmp_path) -> None:
    info = inspect_file(fg.write(tmp_path, "dt.jpg", fg.make_jpeg(xmp=XMP)))
    assert info.tool == "drawthings" and info.generation.model == "sd_xl_base_1.0_f16.ckpt"


def test_other_creator_tool_is_not_drawthings(tmp_path) -> None:
    xmp = XMP.replace(">Draw Things<", ">GIMP (not Draw Things)<")
    info = inspect_file(fg.write(tmp_path, "g.jpg", fg.make_jpeg(xmp=xmp)))
    assert info.tool != "drawthings"
