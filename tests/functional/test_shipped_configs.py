"""Every configuration the repository ships or shows validates with the real loader and CLI:
README's "Configure" block, the knative ConfigMap, template.yaml's default (with each Lambda
function's environment), and docs/transforms.md's example (with its example plugin installed)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from backup2gitops.cli import main

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ROOT / "functions"
SAMPLE_VALUES = {
    "BACKUP2GITOPS_BUCKET": "backup2gitops-123456789012-eu-west-1",
    "BACKUP2GITOPS_GIT_URL": "https://git.example.com/platform/gitops.git",
    "BACKUP2GITOPS__ALERTS__IDEMPOTENCY__TABLE": "backup2gitops-idempotency",
}


def fenced(markdown: Path, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", markdown.read_text(), flags=re.M | re.S)


def validate(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    status = main(["config", "validate", str(path)])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert "warning" not in captured.err, captured.err
    return captured.out


def test_the_readme_configure_block_validates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocks = [b for b in fenced(ROOT / "README.md", "yaml") if "storage:" in b]
    assert len(blocks) == 1
    assert "valid (storage s3://backups" in validate(tmp_path, blocks[0], capsys)


def test_the_knative_configmap_validates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (ROOT / "knative/base/config.yaml").read_text()  # the configMapGenerator's file
    assert "receivers: 3" in validate(tmp_path, text, capsys)


def sam_template() -> dict[str, Any]:
    from samtranslator.yaml_helper import yaml_parse

    return yaml_parse((ROOT / "template.yaml").read_text())  # type: ignore[no-any-return]


def function_environments(template: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Each function's environment as the stack sets it (intrinsics replaced by sample values)."""
    shared = template["Globals"]["Function"]["Environment"]["Variables"]
    found = {}
    for name, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        own = resource["Properties"].get("Environment", {}).get("Variables", {})
        env = {}
        for key, value in {**shared, **own}.items():
            env[key] = value if isinstance(value, str) else SAMPLE_VALUES.get(key, "sample")
        found[name] = env
    return found


def test_template_default_validates_in_every_lambda_function(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    template = sam_template()
    default = template["Parameters"]["Backup2gitopsConfig"]["Default"]
    code_uri = template["Globals"]["Function"]["CodeUri"]
    config_file = ROOT / code_uri / default
    assert config_file.is_file(), f"template.yaml's default {default} is not in {code_uri}"
    environments = function_environments(template)
    assert len(environments) == 5
    for name, env in environments.items():
        for key in [k for k in os.environ if k.startswith("BACKUP2GITOPS")]:
            monkeypatch.delenv(key)
        for key, value in env.items():
            if key != "BACKUP2GITOPS_CONFIG":
                monkeypatch.setenv(key, value)
        out = validate(tmp_path, config_file.read_text(), capsys)
        assert f"storage s3://{SAMPLE_VALUES['BACKUP2GITOPS_BUCKET']}" in out, name
    from backup2gitops.config import load_config

    alert_router = environments["AlertRouterFunction"]
    idempotency = load_config(config_file, environ=alert_router).alerts.idempotency
    assert (idempotency.backend, idempotency.table) == ("dynamodb", "backup2gitops-idempotency")


def install_docs_plugin(site: Path) -> None:
    """docs/transforms.md's example plugin, as pip would install it (code + dist-info)."""
    doc = ROOT / "docs/transforms.md"
    (pyproject,) = fenced(doc, "toml")
    python = [b for b in fenced(doc, "python") if "def " in b and "Callable" not in b]
    project = tomllib.loads(pyproject)["project"]
    entry_points = project["entry-points"]["backup2gitops.transforms"]
    module = next(iter(entry_points.values())).split(":")[0]
    (site / module).mkdir(parents=True)
    (site / module / "__init__.py").write_text(python[0])
    dist = site / f"{module}-{project['version']}.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n"
    )
    lines = [f"{name} = {target}" for name, target in entry_points.items()]
    (dist / "entry_points.txt").write_text("[backup2gitops.transforms]\n" + "\n".join(lines) + "\n")


def cli_validate(path: Path, *, pythonpath: list[Path]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(p) for p in pythonpath)}
    return subprocess.run(
        [sys.executable, "-m", "backup2gitops", "config", "validate", str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_transforms_doc_example_validates_with_its_plugin_and_only_with_it(
    tmp_path: Path,
) -> None:
    (config_text,) = fenced(ROOT / "docs/transforms.md", "yaml")
    path = tmp_path / "config.yaml"
    path.write_text(config_text)
    site = tmp_path / "site"
    install_docs_plugin(site)
    with_plugin = cli_validate(path, pythonpath=[FUNCTIONS, site])
    assert with_plugin.returncode == 0, with_plugin.stderr
    without = cli_validate(path, pythonpath=[FUNCTIONS])
    assert without.returncode == 2
    assert "generator.transforms[0]: unknown transform 'acme-drop-argo-tracking'" in without.stderr
