"""Running the quality cascade on one file: the local stage, then paid stages, with effects.

`run_cascade` is the effectful half of pipeline/quality/cascade.py: it runs
the stage that cascade.next_stages says is due, one at a time, until the
cascade stops, then combines the scores. Paid stages (a vision-language
rating or an aesthetics metric, pipeline/quality/stages.py) run through
daemon/quality/paid_stage.py: cached by content, admitted against the project's
budget, cost recorded. An error, a timeout or a malformed answer from a stage
is recorded as that stage's {"error": ...} and ends the cascade; the file
keeps the score of the stages before it. A video is rated on its middle
frame. Nothing here touches the file itself.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from alice.daemon import errors
from alice.daemon.catalog.engine import Catalog
from alice.daemon.provider_host import ProviderHost
from alice.daemon.quality.paid_stage import run_paid_stage
from alice.pipeline.quality.cascade import StageResultError, combine, next_stages
from alice.pipeline.quality.config import TECHNICAL, QualityConfig
from alice.pipeline.quality.errors import AssessmentError
from alice.pipeline.quality.stages import parse_stage
from alice.pipeline.record import AssetRecord
from alice.providers.registry import quality_stage_offers


class AssessError(errors.InvalidRequest):
    """The assessment cannot be made as asked (unknown stage, missing file)."""


@dataclasses.dataclass
class Target:
    """What run_cascade needs to know about the file besides its bytes."""

    path: Path
    content_id: str | None = None
    media: str | None = None           # image | video; None: read from the file
    project: str | None = None         # whose budget pays; None: the asset's, if catalogued,
    fallback_project: str | None = None  # ... else this one
    context: str | None = None         # e.g. the prompt, so a vision model can judge fidelity;
                                       # None: read from the file's metadata when a vision stage runs
    technical: dict[str, Any] | None = None  # the local stage's result if already taken (filing)
    format: str | None = None          # sniffed; None: read from the file


def stages_for(cfg: QualityConfig, stages: Sequence[str] | None) -> QualityConfig:
    """The config with `stages` (if given) as its cascade; unknown stage names raise AssessError."""
    if stages is not None:
        if not stages or stages[0] != TECHNICAL:
            raise AssessError(f"stages must start with '{TECHNICAL}', got {list(stages)!r}")
        cfg = dataclasses.replace(cfg, stages=tuple(stages))
    offers = quality_stage_offers()
    for name in cfg.stages[1:]:
        try:
            parse_stage(name, offers)
        except ValueError as exc:
            raise AssessError(str(exc)) from None
    return cfg


def run_cascade(target: Target | Path | str, cfg: QualityConfig, providers: ProviderHost | None,
                catalog: Catalog | None, stages: Sequence[str] | None = None) -> dict[str, Any]:
    """Score one file through the cascade; never raises for a bad file or a failing service.

    Returns {"path", "content_id", "media", "project", "score", "stars",
    "stages": {name: result}, "cost_usd", "error"}. score/stars are None only
    when the technical stage itself failed (then "error" says why).
    Paid stages need `catalog` (cache and budget); without it they are
    recorded as {"skipped": "catalog"}. `providers` may be None only for a cascade with no paid stage.
    """
    cfg = stages_for(cfg, stages)
    if not isinstance(target, Target):
        target = Target(Path(target))
    _identify(target)
    out: dict[str, Any] = {"path": str(target.path), "content_id": target.content_id, "media": target.media,
                           "project": target.project, "score": None, "stars": None, "stages": {},
                           "cost_usd": "0", "error": None}
    results: dict[str, Any] = out["stages"]
    spent = Decimal(0)
    offers = quality_stage_offers()
    while due := next_stages(results, cfg):
        name = due[0]
        if name == TECHNICAL:
            results[name] = target.technical if target.technical is not None else _technical(target, cfg)
            continue
        if providers is None:
            raise AssessError(f"the stage {name} calls a provider, and none were set up for this cascade")
        result, cost = run_paid_stage(parse_stage(name, offers), target, providers, catalog, cfg.video_timeout_s)
        results[name] = result
        spent += cost
    out["cost_usd"] = str(spent)
    technical = results[TECHNICAL]
    if technical.get("error"):
        out["error"] = technical["error"]
        return out
    try:
        out["score"], out["stars"] = combine(results, cfg)
    except StageResultError as exc:      # a cached or provider score out of range: keep what is sound
        out["error"] = str(exc)
    return out


Rescorer = Callable[[AssetRecord], None]
"""Runs the paid stages on a freshly analysed record and sets its quality and stars."""


def record_rescorer(cfg: QualityConfig, providers: ProviderHost, catalog: Catalog) -> Rescorer | None:
    """For filing: a function that runs the paid stages on a freshly analysed record (whose
    technical stage the importer already ran) and sets its quality and stars. None when
    the cascade has no paid stage, so filing stays free of network calls."""
    if len(cfg.stages) == 1:
        return None
    stages_for(cfg, None)           # unknown stage names fail now, not per file

    def rescore(rec: AssetRecord) -> None:
        technical = (rec.quality or {}).get(TECHNICAL)
        if not isinstance(technical, dict) or rec.media not in ("image", "video"):
            return
        target = Target(Path(rec.source_path), content_id=rec.content_id, media=rec.media, project=rec.project,
                        context=rec.generation.prompt or "", technical=technical)
        try:
            out = run_cascade(target, cfg, providers, catalog)
        except AssessError as exc:
            rec.warnings.append(f"quality: {exc}")
            return
        if out["score"] is None:
            return
        rec.quality = {"score": out["score"], "stars": out["stars"], **out["stages"]}
        rec.stars = out["stars"]
        for name, result in out["stages"].items():
            if result.get("error"):
                rec.warnings.append(f"quality: {name}: {result['error']}")

    return rescore


def _identify(target: Target) -> None:
    """Media kind and content id from the file. Sniffing the head is enough for both;
    the full metadata read (for the prompt) waits until a vision stage needs it."""
    if target.content_id is not None and target.media is not None and target.format is not None:
        return
    from alice.pipeline.identity import UnreadableMedia, identify
    from alice.pipeline.sniff import HEAD_SIZE, sniff

    try:
        with open(target.path, "rb") as fh:
            fmt, media = sniff(fh.read(HEAD_SIZE))
        target.media = target.media or media
        target.format = target.format or fmt
        if target.content_id is None:
            target.content_id = identify(target.path, fmt, media).content_id
    except UnreadableMedia:
        target.content_id = None           # the technical stage will say what is wrong
    except OSError as exc:
        raise AssessError(f"cannot read {target.path}: {exc.strerror or exc}") from None


def _technical(target: Target, cfg: QualityConfig) -> dict[str, Any]:
    from alice.pipeline.integrity import check
    from alice.pipeline.quality.technical import assess_image, assess_video
    from alice.pipeline.unreadable import UnreadableMedia

    if target.media not in ("image", "video"):
        return {"error": f"{target.path}: not an image or video ({target.media}); nothing to assess"}
    try:
        # The same check that quarantines a file when it is filed: a decoder that resyncs
        # past damaged scan data yields pixels that can look sharp, and a damaged file
        # must get no stars at all, not a score for the half that survived.
        check(target.path, target.format or "", target.media)
    except UnreadableMedia as exc:
        return {"error": f"{target.path.name} is damaged ({exc}); `alice organize` quarantines it"}
    except OSError as exc:
        return {"error": str(exc)}
    try:
        result = assess_image(target.path, cfg) if target.media == "image" else assess_video(target.path, cfg)
    except (AssessmentError, OSError) as exc:
        return {"error": str(exc)}
    return result.to_dict()
