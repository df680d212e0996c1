"""The configuration is validated section by section (``config.model.validate_config``): only the
sections a file holds have their models built, the others are their defaults, made without
validation. Held here to ``Config.model_validate``, the whole model, on valid and invalid input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from backup2gitops.cli import main
from backup2gitops.config import Config, ConfigError, describe_error, parse_config
from backup2gitops.config.loader import _expand_tree
from backup2gitops.config.model import validate_config
from tests.fresh_python import fresh_env, run_python

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = {"BACKUP2GITOPS_BUCKET": "backups", "BACKUP2GITOPS_GIT_URL": "https://h/gitops.git"}
SHIPPED = [
    _expand_tree(yaml.safe_load((ROOT / path).read_text()), SAMPLE, ())
    for path in ("functions/backup2gitops/config.yaml", "knative/base/config.yaml")
]
VALID: list[dict[str, Any]] = [
    {},
    {"git": {"cache_dir": "/tmp/clones"}},
    {"storage": {"url": "s3://b"}, "drift": {"enabled": False}, "clusters": [{"name": "prod"}]},
    {"generator": {"units": {"flux": {"enabled": True}}}, "git": {"url": "https://h/r.git"}},
    {"alerts": {"receivers": [{"type": "console", "name": "c"}], "routes": []}},
]
INVALID: list[dict[str, Any]] = [
    {"gti": {}},
    {"http": {"max_body_bytes": 1}, "git": {"x": 1, "push_attempts": 0}, "gti": 1, "aa": 2},
    {"git": 5},
    {"clusters": [{"name": "Bad_Name"}], "storage": {"url": "http://x"}},
    {"generator": {"units": {"flux": {"enabled": True}}}},  # the rule across sections
    {"generator": {"units": {"argocd": {"mode": "applications"}}}, "http": {}},
    {"generator": {"units": {"flux": {"enabled": True}}}, "git": {"push_attempts": 0}},
    {"generator": {"cleaning": {"secrets": "encrypt"}}},
    {"generator": {"cleaning": {"secrets": "sops"}}},
    {"alerts": {"routes": [{"receivers": ["nobody"]}]}},
    {"alerts": {"receivers": [{"type": "slack", "name": "s"}]}},
    {"alerts": {"receivers": [{"type": "opsgenie", "name": "o"}]}},
    {"drift": {"rules": ["no-such-rule"]}, "health": {"max_backup_age": "soon"}},
    {"backups": {"keep": {"count": -1}}, "cluster_backup": {"page_size": 0}},
    {"storage": {"access_key": "AKIA-the-value-itself"}},
]


def _problems(exc: ValidationError) -> list[tuple[Any, ...]]:
    return [(err["loc"], err["type"], err["msg"]) for err in exc.errors()]


@pytest.mark.parametrize("raw", [*SHIPPED, *VALID])
def test_a_valid_file_gives_what_the_whole_model_gives(raw: dict[str, Any]) -> None:
    by_sections = validate_config(raw)
    whole = Config.model_validate(raw)
    assert by_sections == whole
    assert by_sections.model_fields_set == whole.model_fields_set
    assert by_sections.model_dump() == whole.model_dump()


@pytest.mark.parametrize("raw", INVALID)
def test_an_invalid_file_gives_the_errors_the_whole_model_gives(raw: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as whole:
        Config.model_validate(raw)
    with pytest.raises(ValidationError) as by_sections:
        validate_config(raw)
    assert _problems(by_sections.value) == _problems(whole.value)
    assert describe_error(by_sections.value) == describe_error(whole.value)


def test_the_defaults_made_without_validation_are_what_validation_makes() -> None:
    defaults = Config.model_construct()
    assert Config.model_validate(defaults.model_dump(by_alias=True)) == defaults
    assert validate_config({}) == defaults


def test_only_the_sections_a_file_holds_are_built() -> None:
    """In a fresh process, as ``generate`` runs with ``BACKUP2GITOPS__GIT__CACHE_DIR`` alone."""
    code = (
        "from backup2gitops.config import load_config\n"
        "from backup2gitops.config import model, monitoring, receivers, generator, git\n"
        "config = load_config(environ={'BACKUP2GITOPS__GIT__CACHE_DIR': '/tmp/clones'})\n"
        "assert str(config.git.cache_dir) == '/tmp/clones'\n"
        "built = lambda m: m.__pydantic_complete__\n"
        "print(built(model.Config), built(monitoring.AlertsConfig),"
        " built(receivers.SlackReceiverConfig), built(generator.GeneratorConfig))\n"
    )
    out = run_python(code, env=fresh_env(configured=False)).stdout
    assert out.split() == ["False", "False", "False", "False"]


def test_a_bad_section_generate_does_not_read_still_fails_before_the_archive(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("alerts:\n  routes:\n    - receivers: [nobody]\n")
    archive = tmp_path / "b1.tar.gz"
    archive.write_bytes(b"not a tarball: reading it would fail otherwise")
    argv = ["generate", str(archive), "--repo", str(tmp_path / "r.git"), "--cluster", "c"]
    status = main([*argv, "--config", str(config)])
    err = capsys.readouterr().err
    assert status == 2
    assert "alerts: routes[0]: unknown receiver(s) nobody" in err
    with pytest.raises(ConfigError, match="unknown receiver"):
        parse_config(config.read_text(), {})
