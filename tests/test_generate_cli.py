"""The small pieces of the generation CLI: --param parsing, budget amounts, `alice providers`."""
from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner

from alice.daemon.cli.generate import parse_param
from alice.daemon.cli.main import main
from alice.daemon.generation.budget import BudgetValueError, parse_budget


@pytest.mark.parametrize("text,expected", [
    ("seed=42", ("seed", 42)),
    ("guidance_scale=3.5", ("guidance_scale", 3.5)),
    ("sync_mode=true", ("sync_mode", True)),
    ("image_size=square_hd", ("image_size", "square_hd")),
    ('image_size={"width": 640, "height": 480}', ("image_size", {"width": 640, "height": 480})),
    ("prompt_suffix=a=b", ("prompt_suffix", "a=b")),
    ("empty=", ("empty", "")),
])
def test_params_are_json_when_they_are_json(text: str, expected: tuple) -> None:
    assert parse_param(text) == expected


@pytest.mark.parametrize("text", ["seed", "=5", " =5"])
def test_a_param_without_key_or_equals_is_a_usage_error(text: str) -> None:
    with pytest.raises(click.BadParameter, match="key=value"):
        parse_param(text)


def test_budget_amounts() -> None:
    assert parse_budget("5") == Decimal("5.0000")
    assert parse_budget("$12.5") == Decimal("12.5000")
    assert parse_budget(0.05) == Decimal("0.0500")
    assert parse_budget("none") is None and parse_budget(None) is None
    for bad in ("-1", "five", "nan", "inf", "1e12", True):
        with pytest.raises(BudgetValueError):
            parse_budget(bad)


def test_providers_lists_models_prices_and_missing_keys(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"inboxes": [str(tmp_path / "in")], "organized": str(tmp_path / "out"),
                                      "providers": {"fal": {"api_key": "k-123"}, "hedra": {"enabled": False}}}))
    env = {"FAL_KEY": "", "BFL_API_KEY": "", "OPENAI_API_KEY": "", "ANTHROPIC_API_KEY": ""}
    result = CliRunner().invoke(main, ["--config", str(config), "providers", "--json"], env=env)
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.output)["providers"]}
    assert set(rows) == {"fal", "bfl", "openai", "anthropic", "comfyui", "a1111"}
    assert rows["fal"]["key_configured"] and not rows["bfl"]["key_configured"]
    assert rows["comfyui"]["key_required"] is False and rows["comfyui"]["healthy"] is True
    flux = next(m for m in rows["fal"]["models"] if m["id"] == "fal-ai/flux/dev")
    assert flux["price"] == {"unit": "megapixel", "usd": "0.025"}
    text = CliRunner().invoke(main, ["--config", str(config), "providers"], env=env).output
    assert "NO KEY" in text and "k-123" not in text
    assert "comfyui    local" in text


def test_a_bad_provider_section_is_a_configuration_error(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"inboxes": [str(tmp_path / "in")], "organized": str(tmp_path / "out"),
                                      "providers": {"fal": {"timeout_s": "soon"}}}))
    result = CliRunner().invoke(main, ["--config", str(config), "providers"])
    assert result.exit_code == 2 and "providers.fal.timeout_s" in result.output
