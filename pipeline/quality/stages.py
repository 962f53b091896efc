"""What a paid stage name in `quality.stages` (or `alice assess --stages`) asks for.

    technical                         the free local stage (always first)
    vision                            = vision:anthropic, the provider's default vision model
    vision:openai                     a vision-language rating by that provider
    vision:anthropic@claude-sonnet-4-5  ... with that model
    aesthetic                         = aesthetic:fal, the fal Arbiter quality metric (MUSIQ)
    aesthetic:fal@fal-ai/arbiter/image

The name as written is the key for gates and weights; the parsed kind,
provider and model are what the cache and the budget see, so two spellings of
the same model share one cached answer.
"""
from __future__ import annotations

from dataclasses import dataclass

from alice.pipeline.quality.config import TECHNICAL

KINDS = {"vision": "anthropic", "aesthetic": "fal"}       # kind -> default provider
DEFAULT_MODELS = {("vision", "anthropic"): "claude-haiku-4-5", ("vision", "openai"): "gpt-4o-mini",
                  ("aesthetic", "fal"): "fal-ai/arbiter/image"}
PROVIDERS_FOR = {"vision": ("anthropic", "openai"), "aesthetic": ("fal",)}


class StageNameError(ValueError):
    """A stage name that names no stage alice can run; the message lists the ones it can."""


@dataclass(frozen=True)
class PaidStage:
    name: str          # as written in the config: the gate/weight key
    kind: str          # vision | aesthetic
    provider: str
    model: str


def parse_stage(name: str) -> PaidStage:
    """The kind, provider and model a paid stage name stands for."""
    if not isinstance(name, str) or not name.strip():
        raise StageNameError(f"a stage name must be text, got {name!r}")
    if name == TECHNICAL:
        raise StageNameError("'technical' is the local stage, not a paid one")
    spec, _, model = name.partition("@")
    kind, _, provider = spec.partition(":")
    if kind not in KINDS:
        raise StageNameError(f"unknown stage {name!r}; stages are technical, "
                             "vision[:anthropic|openai][@model] and aesthetic[:fal][@model]")
    provider = provider or KINDS[kind]
    if provider not in PROVIDERS_FOR[kind]:
        raise StageNameError(f"stage {name!r}: {kind} stages run on {', '.join(PROVIDERS_FOR[kind])}, not {provider!r}")
    model = model or DEFAULT_MODELS[(kind, provider)]
    return PaidStage(name, kind, provider, model)


def parse_stage_list(text: str) -> tuple[str, ...]:
    """`--stages technical,vision:openai` as a stage tuple; technical is put first if left out."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise StageNameError("--stages needs at least one stage, e.g. technical,vision:anthropic")
    for name in names:
        if name != TECHNICAL:
            parse_stage(name)
    if TECHNICAL in names:
        names.remove(TECHNICAL)
    ordered = (TECHNICAL, *names)
    if len(set(ordered)) != len(ordered):
        raise StageNameError(f"--stages names a stage twice: {text!r}")
    return ordered
