"""Paid stage names: what `quality.stages` and `alice assess --stages` accept."""
from __future__ import annotations

import pytest
import yaml

from alice.daemon.config import ConfigError, parse
from alice.pipeline.quality.stages import PaidStage, StageNameError, parse_stage, parse_stage_list


@pytest.mark.parametrize("name, expected", [
    ("vision", ("vision", "anthropic", "claude-haiku-4-5")),
    ("vision:openai", ("vision", "openai", "gpt-4o-mini")),
    ("vision:anthropic@claude-sonnet-4-5", ("vision", "anthropic", "claude-sonnet-4-5")),
    ("aesthetic", ("aesthetic", "fal", "fal-ai/arbiter/image")),
    ("aesthetic:fal@fal-ai/arbiter/image", ("aesthetic", "fal", "fal-ai/arbiter/image")),
])
def test_stage_names_resolve_to_kind_provider_model(name: str, expected: tuple[str, str, str]) -> None:
    assert parse_stage(name) == PaidStage(name, *expected)


@pytest.mark.parametrize("name, hint", [
    ("technical", "local stage"), ("colour", "unknown stage"), ("vision:fal", "run on anthropic, openai"),
    ("aesthetic:openai", "run on fal"), ("", "must be text"),
])
def test_bad_stage_names_say_what_is_accepted(name: str, hint: str) -> None:
    with pytest.raises(StageNameError, match=hint):
        parse_stage(name)


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
