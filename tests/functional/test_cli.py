"""The CLI shell: `config validate`, `schemas`, and the verbs it assembles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backup2gitops.cli import VERBS, build_parser, main


def test_every_verb_is_registered() -> None:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "verb")
    assert set(subparsers.choices) == {  # type: ignore[attr-defined]
        "demo",
        "serve",
        "generate",
        "backup",
        "neat",
        "config",
        "schemas",
    }
    assert len(VERBS) == 7


def test_config_validate_accepts_a_good_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("storage: {url: 's3://backups'}\nclusters: [{name: prod}]\n")
    assert main(["config", "validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "valid" in out and "s3://backups" in out and "prod" in out


def test_config_validate_names_the_field_and_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("git: {push_attempts: 0}\nalerts: {receivers: [{name: 'bad name', type: x}]}\n")
    assert main(["config", "validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "git.push_attempts" in err and "alerts.receivers.0.name" in err


def test_config_validate_never_echoes_a_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_TOKEN", "sup3r-s3cret")
    path = tmp_path / "c.yaml"
    path.write_text("git: {token: {env: MY_TOKEN}, url: 'https://git.example.com/r.git'}\n")
    assert main(["config", "validate", str(path)]) == 0
    assert "sup3r-s3cret" not in capsys.readouterr().out


def test_schemas_writes_one_file_per_event_type(tmp_path: Path) -> None:
    assert main(["schemas", "--out", str(tmp_path)]) == 0
    names = sorted(p.name for p in tmp_path.glob("*.json"))
    assert "io.backup2gitops.backup.completed.json" in names and len(names) == 9
    schema = json.loads((tmp_path / "io.backup2gitops.gitops.generated.json").read_text())
    assert {"backup_id", "cluster", "commit", "noop"} <= set(schema["properties"])


def test_each_summary_is_the_one_its_verb_registers() -> None:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "verb")
    helps = {c.dest: c.help for c in subparsers._choices_actions}  # type: ignore[attr-defined]
    assert helps == {verb: summary for verb, (_, summary) in VERBS.items()}


def imported_after(args: list[str]) -> set[str]:
    import subprocess
    import sys

    probe = (
        "import sys\nfrom backup2gitops.cli import main\ntry:\n    main(sys.argv[1:])\n"
        "except SystemExit:\n    pass\nprint(' '.join(sorted(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, *args], capture_output=True, text=True, check=True
    )
    return set(done.stdout.split())


def test_help_imports_no_verb_and_a_verb_only_itself() -> None:
    verbs = {f"backup2gitops.cli.{module}" for module, _ in VERBS.values()}
    assert not imported_after(["--help"]) & (verbs | {"git", "boto3", "flask", "kubernetes"})
    loaded = imported_after(["schemas", "--help"])
    assert loaded & verbs == {"backup2gitops.cli.schemas"}
