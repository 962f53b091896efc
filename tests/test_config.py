"""Configuration: where it is found, what overrides it, and how bad values are reported."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from alice.daemon import config as cfgmod
from alice.daemon.config import ConfigError


def write(tmp_path: Path, data: dict) -> Path:
    p = tmp_path / "config.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


def minimal(tmp_path: Path, **extra) -> dict:
    return {"inboxes": [str(tmp_path / "in")], "organized": str(tmp_path / "out"),
            "data_dir": str(tmp_path / "data"), **extra}


def test_defaults(tmp_path):
    cfg = cfgmod.load(write(tmp_path, minimal(tmp_path)), environ={})
    assert cfg.mode == "copy"
    assert cfg.layout == "{date}/{project}/{tool}"
    assert cfg.database.url == ""
    assert cfg.quality_enabled is False
    assert cfg.inboxes == (tmp_path / "in",)
    assert cfg.quarantine == tmp_path / "out" / ".quarantine"


def test_relative_paths_resolve_against_the_config_file(tmp_path):
    p = write(tmp_path, {"inboxes": ["in"], "organized": "out", "data_dir": "data"})
    cfg = cfgmod.load(p, environ={})
    assert cfg.organized == tmp_path / "out"


@pytest.mark.parametrize("bad, words", [
    ({"colour": 1}, ["unknown key 'colour'"]),
    ({"mdoe": "copy"}, ["unknown key 'mdoe'", "Did you mean 'mode'"]),
    ({"database": {"uri": "x"}}, ["unknown key 'database.uri'", "Did you mean 'url'"]),
    ({"mode": "shuffle"}, ["'mode' must be 'copy' or 'move'"]),
    ({"workers": "many"}, ["'workers' must be a whole number"]),
    ({"watch": {"settle_seconds": "soon"}}, ["'watch.settle_seconds' must be a number"]),
    ({"quality": {"enabled": "perhaps"}}, ["'quality.enabled' must be true or false"]),
    ({"log": {"level": "loud"}}, ["'log.level'"]),
])
def test_bad_values_name_the_key(tmp_path, bad, words):
    with pytest.raises(ConfigError) as err:
        cfgmod.load(write(tmp_path, minimal(tmp_path, **bad)), environ={})
    for w in words:
        assert w in str(err.value)


def test_missing_required_keys(tmp_path):
    with pytest.raises(ConfigError, match="'organized' is missing"):
        cfgmod.parse({"inboxes": ["/x"]}, environ={})
    with pytest.raises(ConfigError, match="'inboxes' must list at least one folder"):
        cfgmod.parse({"organized": "/x"}, environ={})


def test_overlapping_inbox_and_tree_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="overlap"):
        cfgmod.parse({"inboxes": [str(tmp_path)], "organized": str(tmp_path / "sorted")}, environ={})


def test_invalid_yaml_says_where(tmp_path):
    p = tmp_path / "config.yaml"
    p.write_text("inboxes: [\norganized: x\n")
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        cfgmod.load(p, environ={})


def test_missing_file_tells_to_run_init(tmp_path):
    with pytest.raises(ConfigError, match="alice init"):
        cfgmod.load(tmp_path / "nope.yaml", environ={})


def test_environment_overrides(tmp_path):
    env = {"ALICE_DATABASE_URL": "postgresql://u@h/db", "ALICE_MODE": "move",
           "ALICE_INBOXES": f"{tmp_path / 'a'}:{tmp_path / 'b'}"}
    cfg = cfgmod.load(write(tmp_path, minimal(tmp_path)), environ=env)
    assert cfg.database.url == "postgresql://u@h/db"
    assert cfg.mode == "move"
    assert cfg.inboxes == (tmp_path / "a", tmp_path / "b")


def test_config_path_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert cfgmod.config_path(None, environ={}) == tmp_path / "xdg" / "alice" / "config.yaml"
    assert cfgmod.config_path(None, environ={"ALICE_CONFIG": "/etc/a.yaml"}) == Path("/etc/a.yaml")
    assert cfgmod.config_path(Path("/x.yaml"), environ={"ALICE_CONFIG": "/etc/a.yaml"}) == Path("/x.yaml")


def test_example_config_is_valid_and_documents_every_key(tmp_path):
    example = Path(__file__).resolve().parents[1] / "config.example.yaml"
    text = example.read_text()
    cfg = cfgmod.parse(yaml.safe_load(text), source=example, environ={})
    assert cfg.mode == "copy"
    for key in cfgmod._TOP_KEYS:
        assert f"\n{key}:" in "\n" + text or f"\n# {key}:" in text, f"{key} is not documented"
    for section, cls in cfgmod._SECTIONS.items():
        for key in cls.kinds():
            assert f"{key}:" in text, f"{section}.{key} is not documented"
    from dataclasses import fields

    from alice.pipeline.quality.config import QualityConfig
    from alice.providers import config as pconf

    for f in fields(QualityConfig):
        assert f"\n  {f.name}:" in text, f"quality.{f.name} is not documented"
    for key in [*pconf.NUMBERS, *pconf._OTHER]:
        assert f"#    {key}:" in text, f"providers.<name>.{key} is not documented"


def test_provider_sections_are_checked_at_load(tmp_path):
    with pytest.raises(ConfigError, match="unknown key 'providers.falai'.*fal"):
        cfgmod.parse(minimal(tmp_path, providers={"falai": {}}), environ={})
    with pytest.raises(ConfigError, match="timeout_s must be a number"):
        cfgmod.parse(minimal(tmp_path, providers={"fal": {"timeout_s": "soon"}}), environ={})
    # The local generators are known services, with their own URL check.
    cfgmod.parse(minimal(tmp_path, providers={"comfyui": {"base_url": "http://gpu-box.lan:8188"},
                                              "a1111": {"timeout_s": 900}}), environ={})
    with pytest.raises(ConfigError, match="providers.comfyui.base_url must be an http"):
        cfgmod.parse(minimal(tmp_path, providers={"comfyui": {"base_url": "8188"}}), environ={})
    with pytest.raises(ConfigError, match="providers.a1111 has unknown keys \\['model'\\]"):
        cfgmod.parse(minimal(tmp_path, providers={"a1111": {"model": "sdxl"}}), environ={})


def test_quality_and_providers_are_parsed_once_into_a_frozen_config(tmp_path):
    import dataclasses

    from alice.pipeline.quality.config import QualityConfig

    raw = minimal(tmp_path, quality={"enabled": "yes", "work_edge": 256},
                  providers={"fal": {"api_key": "k"}, "bfl": {"enabled": False}})
    cfg = cfgmod.parse(raw, environ={"OPENAI_API_KEY": "from-env"})
    assert isinstance(cfg.quality, QualityConfig) and cfg.quality.enabled and cfg.quality.work_edge == 256
    assert cfg.providers.configured == ("fal", "bfl") and "bfl" not in cfg.providers.settings
    assert cfg.providers.settings["fal"].has_key and cfg.providers.settings["openai"].has_key
    assert not cfgmod.parse(minimal(tmp_path), environ={}).providers      # no section: generation is off
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.workers = 3  # type: ignore[misc]
    assert dataclasses.replace(cfg, workers=3).workers == 3 and cfg.workers == 0


def test_every_environment_override_names_a_real_key():
    for var, dotted in cfgmod.ENV_OVERRIDES.items():
        top, _, leaf = dotted.partition(".")
        assert top in cfgmod._TOP_KEYS, var
        if leaf:
            assert leaf in cfgmod._SECTIONS[top].kinds(), var
