"""Paid stage names: what `quality.stages` and `alice assess --stages` accept."""
from __future__ import annotations

import pytest
import yaml

from alice.daemon.config import ConfigError, parse
from alice.pipeline.quality.stages import PaidStage, StageNameError, StageOffer, parse_stage, parse_stage_list
from alice.providers.registry import quality_stage_offers


@pytest.mark.parametrize("name, expected", [
    ("vision", ("vision", "anthropic", "claude-haiku-4-5")),
    ("vision:openai", ("vision", "openai", "gpt-4o-mini")),
    ("vision:anthropic@claude-sonnet-4-5", ("vision", "anthropic", "claude-sonnet-4-5")),
    ("aesthetic", ("aesthetic", "fal", "fal-ai/arbiter/image")),
    ("aesthetic:fal@fal-ai/arbiter/image", ("aesthetic", "fal", "fal-ai/arbiter/image")),
])
def test_stage_names_resolve_to_kind_provider_model(name: str, expected: tuple[str, str, str]) -> None:
    assert parse_stage(name, quality_stage_offers()) == PaidStage(name, *expected)


@pytest.mark.parametrize("name, hint", [
    ("technical", "local stage"), ("colour", "unknown stage"), ("vision:fal", "run on anthropic, openai"),
    ("aesthetic:openai", "run on fal"), ("", "must be text"),
])
def test_bad_stage_names_say_what_is_accepted(name: str, hint: str) -> None:
    with pytest.raises(StageNameError, match=hint):
        parse_stage(name, quality_stage_offers())


def test_stage_names_are_read_against_the_offers_given() -> None:
    offers = [StageOffer("vision", "acme", "acme-v1"), StageOffer("vision", "zeta", "zeta-2", default=True)]
    assert parse_stage("vision", offers) == PaidStage("vision", "vision", "zeta", "zeta-2")
    assert parse_stage("vision:acme@acme-v2", offers) == PaidStage("vision:acme@acme-v2", "vision", "acme", "acme-v2")
    with pytest.raises(StageNameError, match="vision stages run on zeta, acme, not 'other'"):
        parse_stage("vision:other", offers)
    with pytest.raises(StageNameError, match=r"name one \(vision:PROVIDER\)"):
        parse_stage("vision", [StageOffer("vision", "acme", "acme-v1")])


def test_stage_list_puts_technical_first_and_refuses_repeats() -> None:
    assert parse_stage_list("vision:openai, technical,aesthetic") == ("technical", "vision:openai", "aesthetic")
    assert parse_stage_list("vision") == ("technical", "vision")
    with pytest.raises(StageNameError, match="twice"):
        parse_stage_list("vision,vision")
    with pytest.raises(StageNameError, match="at least one"):
        parse_stage_list(" , ")


def test_config_refuses_an_unknown_stage_at_load(tmp_path) -> None:
    raw = yaml.safe_load(f"""
inboxes: [{tmp_path / 'in'}]
organized: {tmp_path / 'out'}
quality: {{enabled: true, stages: [technical, vision:midjourney]}}
""")
    with pytest.raises(ConfigError, match="'quality'.*vision stages run on anthropic, openai"):
        parse(raw, source=tmp_path / "config.yaml")
