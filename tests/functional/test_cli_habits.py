"""kubectl's habits (issue 26): ``-o table|json|yaml|name`` wherever a verb prints, Go-style
durations beside ISO ones, a suggestion for a mistyped verb, no abbreviations, ``--config`` and
``--kubeconfig``/``--context`` wherever a configuration or a cluster is read."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from backup2gitops.cli import build_parser, main
from backup2gitops.config import ConfigError, parse_config
from backup2gitops.core.durations import go_duration
from tests.functional.test_cli_errors import clean_env, cli, one_line_error
from tests.git_repos import bare_repository

PRINTING = {  # verb -> the arguments it needs besides -o
    "demo": (),
    "generate": ("backup", "--repo", "r.git"),
    "backup": ("--to", "file:///tmp/b"),
    "neat": (),
    "config": ("validate", "c.yaml"),
    "status": (),
    "schemas": (),
}


@pytest.mark.parametrize("verb", sorted(PRINTING))
@pytest.mark.parametrize("output", ["table", "json", "yaml", "name"])
def test_every_verb_that_prints_takes_every_output_format(verb: str, output: str) -> None:
    argv = [verb, *PRINTING[verb], "-o", output]
    assert build_parser(argv).parse_args(argv).output == output


@pytest.mark.parametrize(
    ("verb", "options"),
    [
        ("demo", ("--config",)),
        ("neat", ("--config",)),
        ("generate", ("--config",)),
        ("status", ("--config",)),
        ("serve", ("--config", "--kubeconfig", "--context")),
        ("backup", ("--config", "--kubeconfig", "--context")),
    ],
)
def test_config_and_cluster_options_where_they_are_read(
    verb: str, options: tuple[str, ...]
) -> None:
    argv = [verb, *PRINTING.get(verb, ())]
    for option in options:
        argv += [option, "x"]
    args = vars(build_parser(argv).parse_args(argv))
    assert all(args[option.lstrip("-")] == "x" for option in options)


def test_a_mistyped_verb_is_answered_with_the_closest(tmp_path: Path) -> None:
    line = one_line_error(cli(tmp_path, "stauts"), 2)
    assert "invalid choice: 'stauts' (did you mean 'status'?" in line
    line = one_line_error(cli(tmp_path, "status", "-o", "yml"), 2)
    assert "invalid choice: 'yml' (did you mean 'yaml'?" in line


def test_an_abbreviated_option_is_not_the_option(tmp_path: Path) -> None:
    result = cli(tmp_path, "generate", "backup", "--rep", "r.git")
    line = one_line_error(result, 2)
    assert "--repo" in line and "required" in line  # --rep was not taken for --repo
    with pytest.raises(SystemExit):
        build_parser(["neat"]).parse_args(["neat", "--out", "json"])


def test_status_without_a_configuration_says_so_and_creates_nothing(tmp_path: Path) -> None:
    line = one_line_error(cli(tmp_path, "status"), 2)
    assert line == (
        "status: no configuration: give --config FILE or set $BACKUP2GITOPS_CONFIG to measure "
        "here, or --url of a deployed health-aggregator"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no ./bucket, no cache


def status_config(tmp_path: Path) -> Path:
    remote = tmp_path / "remote.git"
    bare_repository(remote)
    (tmp_path / "bucket").mkdir()
    path = tmp_path / "config.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "storage": {"url": (tmp_path / "bucket").as_uri()},
                "git": {"url": str(remote), "cache_dir": str(tmp_path / "cache")},
                "clusters": [{"name": "prod", "max_backup_age": "26h"}],
                "health": {"max_gitops_lag": "90m"},
            }
        )
    )
    return path


def test_status_prints_yaml_and_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = status_config(tmp_path)
    monkeypatch.setenv("BACKUP2GITOPS_CACHE_DIR", str(tmp_path / "cache"))
    main(["status", "--config", str(path), "-o", "yaml"])
    body = yaml.safe_load(capsys.readouterr().out)
    assert body["clusters"]["prod"]["max_backup_age"] in ("PT26H", "P1DT2H")
    main(["status", "--config", str(path), "-o", "name"])
    assert capsys.readouterr().out == "cluster/prod\n"


MANIFESTS = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec: {template: {spec: {containers: [{name: web, image: nginx}]}}}
---
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: shop}
data: {password: aHVudGVyMg==}
"""


def test_neat_names_and_takes_the_configuration_policy(tmp_path: Path) -> None:
    (tmp_path / "in.yaml").write_text(MANIFESTS)
    result = cli(tmp_path, "neat", "-f", "in.yaml", "-o", "name")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "deployment.apps/web\n"  # Secrets excluded by default
    config = tmp_path / "config.yaml"
    config.write_text("generator: {cleaning: {secrets: redact}}\n")
    result = cli(tmp_path, "neat", "-f", "in.yaml", "-o", "json", "--config", str(config))
    assert result.returncode == 0, result.stderr
    items = json.loads(result.stdout)["items"]
    secret = next(item for item in items if item["kind"] == "Secret")
    assert "aHVudGVyMg==" not in json.dumps(secret)
    result = cli(tmp_path, "neat", "-f", "in.yaml", "-o", "name", "--config", str(config))
    assert result.stdout == "deployment.apps/web\nsecret/creds\n"
    result = cli(
        tmp_path,
        "neat",
        "-f",
        "in.yaml",
        "-o",
        "name",
        "--config",
        str(config),
        "--secrets",
        "exclude",
    )
    assert result.stdout == "deployment.apps/web\n"  # the flag over the file


def test_schemas_and_config_validate_print_names(tmp_path: Path) -> None:
    result = cli(tmp_path, "schemas", "-o", "name")
    assert "schema/config.schema.json" in result.stdout.splitlines()
    (tmp_path / "c.yaml").write_text(f"storage: {{url: {(tmp_path / 'b').as_uri()}}}\n")
    result = cli(tmp_path, "config", "validate", "c.yaml", "-o", "name", env=clean_env(tmp_path))
    assert result.stdout == "config/c.yaml\n", result.stderr


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("26h", timedelta(hours=26)),
        ("90m", timedelta(minutes=90)),
        ("1h30m", timedelta(minutes=90)),
        ("168h", timedelta(days=7)),
        ("1.5h", timedelta(minutes=90)),
        ("500ms", timedelta(milliseconds=500)),
        ("PT26H", timedelta(hours=26)),
        ("P7D", timedelta(days=7)),
    ],
)
def test_durations_are_go_style_or_iso(text: str, expected: timedelta) -> None:
    config = parse_config(
        f"health: {{max_backup_age: {text}, max_gitops_lag: {text}}}\n"
        f"backups: {{keep: {{max_age: {text}}}}}\n"
        f"alerts: {{idempotency: {{expires_after: {text}}}}}\n"
        f"clusters: [{{name: prod, max_backup_age: {text}}}]\n",
        {},
    )
    assert config.health.max_backup_age == config.health.max_gitops_lag == expected
    assert config.backups.keep.max_age == config.alerts.idempotency.expires_after == expected
    assert config.clusters[0].max_backup_age == expected


def test_days_are_refused_with_the_hours_they_mean() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config("health: {max_backup_age: 7d}", {})
    assert str(caught.value) == (
        "health.max_backup_age: '7d': a Go duration has no days: write 168h (or ISO P7D)"
    )
    with pytest.raises(ConfigError) as caught:
        parse_config("health: {max_backup_age: day}", {})
    assert "want Go-style (26h, 90m, 1h30m) or ISO 8601 (PT26H, P1D)" in str(caught.value)
    assert go_duration("7d") is None and go_duration("") is None
