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

Which providers run which kind, and with which model by default, is declared
on the provider classes (providers/base.py: QUALITY_STAGES, DEFAULT_FOR_STAGES);
the daemon passes those declarations in as StageOffers, so this module stays
pure and names no provider.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from alice.pipeline.quality.config import TECHNICAL


class StageNameError(ValueError):
    """A stage name that names no stage alice can run; the message lists the ones it can."""


@dataclass(frozen=True)
class StageOffer:
    """One provider's offer of one kind of paid stage."""

    kind: str              # vision | aesthetic
    provider: str
    model: str             # what a name without "@model" runs
    default: bool = False  # a bare kind ("vision") means this provider


@dataclass(frozen=True)
class PaidStage:
    name: str          # as written in the config: the gate/weight key
    kind: str          # vision | aesthetic
    provider: str
    model: str


def parse_stage(name: str, offers: Sequence[StageOffer]) -> PaidStage:
    """The kind, provider and model a paid stage name stands for, among `offers`."""
    if not isinstance(name, str) or not name.strip():
        raise StageNameError(f"a stage name must be text, got {name!r}")
    if name == TECHNICAL:
        raise StageNameError("'technical' is the local stage, not a paid one")
    spec, _, model = name.partition("@")
    kind, _, provider = spec.partition(":")
    of_kind = _by_kind(offers)
    if kind not in of_kind:
        accepted = ", ".join(f"{k}[:{'|'.join(o.provider for o in kind_offers)}][@model]"
                             for k, kind_offers in of_kind.items())
        raise StageNameError(f"unknown stage {name!r}; stages are technical, {accepted}")
    kind_offers = of_kind[kind]
    offer = next((o for o in kind_offers if o.provider == provider or (not provider and o.default)), None)
    if offer is None:
        runs_on = ", ".join(o.provider for o in kind_offers)
        raise StageNameError(f"stage {name!r}: {kind} stages run on {runs_on}, "
                             + (f"not {provider!r}" if provider else f"name one ({kind}:PROVIDER)"))
    return PaidStage(name, kind, offer.provider, model or offer.model)


def _by_kind(offers: Sequence[StageOffer]) -> dict[str, list[StageOffer]]:
    """Offers per kind, the default provider first, then by name (the order messages list them)."""
    of_kind: dict[str, list[StageOffer]] = {}
    for offer in sorted(offers, key=lambda o: (o.kind, not o.default, o.provider)):
        of_kind.setdefault(offer.kind, []).append(offer)
    return of_kind


def parse_stage_list(text: str) -> tuple[str, ...]:
    """`--stages technical,vision:openai` as a stage tuple; technical is put first if left out.
    Checks the list's shape; each name is checked against the providers by parse_stage."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise StageNameError("--stages needs at least one stage, e.g. technical,vision:anthropic")
    if TECHNICAL in names:
        names.remove(TECHNICAL)
    ordered = (TECHNICAL, *names)
    if len(set(ordered)) != len(ordered):
        raise StageNameError(f"--stages names a stage twice: {text!r}")
    return ordered
