"""Each function's module loads no SDK it does not need to start: kubernetes and boto3 come with
the first event that uses them (issue 17, cold start); GitPython is not used at all any more
(``adapters.git`` runs the git binary), and must not come back. A correctness check in a fresh
interpreter, not a timing: speed is ``benchmarks/run.py``'s."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fresh_python import fresh_env, run_python

HEAVY = ("kubernetes", "git", "boto3")
MODULES = [
    "backup_complete.handler",
    "health_aggregator.handler",
    "alert_router.handler",
    "gitops_generator.handler",
    "cluster_backup.handler",
    "main",
]
PROBE = (
    "import importlib, json, sys; importlib.import_module(sys.argv[1]); "
    "print(json.dumps(sorted(m for m in sys.argv[2:] if m in sys.modules)))"
)


def loaded(module: str, names: tuple[str, ...] = HEAVY) -> list[str]:
    done = run_python(PROBE, module, *names)
    found: list[str] = json.loads(done.stdout)
    return found


@pytest.mark.parametrize("module", MODULES)
def test_a_function_module_loads_no_kubernetes_git_or_boto3(module: str) -> None:
    assert [m for m in loaded(module) if m in HEAVY] == []


def test_health_aggregator_loads_its_http_libraries_at_the_first_request() -> None:
    """Its views (flask, prometheus-client, the status page's Jinja2) are imported by the first
    GET; a cold start that only handles events (Lambda's schedule) does without them."""
    web = ("flask", "werkzeug", "jinja2", "prometheus_client")
    assert loaded("health_aggregator.handler", web) == []
    assert set(loaded("health_aggregator.views", web)) == set(web)


LAZY_LIBRARIES = (
    "aws_lambda_powertools",  # the logger is built at its first line (runtime.logs)
    "cloudevents",  # the SDK serves Lambda's replies only (runtime.codec.to_sdk)
    "requests",  # the receivers, the probes, the review host: with the first event
    "urllib3",
    "yaml",  # the configuration's parser, the YAML writers: with the first load / event
    "flask",
    "jinja2",
    "prometheus_client",
    "botocore",
    "opentelemetry",
)
LAZY_MODULES = (
    "backup2gitops.config.model",  # pydantic builds the configuration's models at a load
    "backup2gitops.config.storage",
    "backup2gitops.config.backups",
    "backup2gitops.config.git",
    "backup2gitops.config.generator",
    "backup2gitops.config.monitoring",
    "backup2gitops.config.receivers",
    "backup2gitops.generation",
    "backup2gitops.adapters.git",
    "backup2gitops.adapters.review",
    "backup2gitops.adapters.probes",
    "backup2gitops.adapters.receivers",
    "backup2gitops.core.archive",
    "backup2gitops.core.cleaning",
    "backup2gitops.core.drift",
    "backup2gitops.cluster_snapshot",
    "backup2gitops.retention",
    "health_aggregator.measurement",
)
"""What a handler module does not load at import (issue 21: each handler imports in <= 300
ms): the configuration's models come with the first configuration loaded (at cold start on
Knative, the first event on Lambda), the rest with the first event that uses them."""


@pytest.mark.parametrize("module", MODULES)
def test_a_function_module_builds_no_configuration_model_logger_or_pipeline(module: str) -> None:
    assert set(loaded(module, LAZY_LIBRARIES + LAZY_MODULES)) == set()


def test_loading_a_configuration_builds_its_models() -> None:
    """The other side: what the handler's import left out comes with ``load_config`` (the
    probe can see it), so a broken configuration still fails at cold start, in full."""
    sections = ("storage", "backups", "git", "generator", "monitoring", "receivers")
    models = (
        "backup2gitops.config.model",
        *(f"backup2gitops.config.{s}" for s in sections),
    )  # not PyYAML: the embedded defaults without overrides are no text to parse
    assert set(loaded("backup2gitops.config", models)) == set()
    env_free = "import backup2gitops.config as c; c.load_config(); import "
    done = run_python(
        env_free + "sys; print(sorted(m for m in sys.argv[1:] if m in sys.modules))",
        *models,
        env=fresh_env({"BACKUP2GITOPS_CONFIG": ""}),
    )
    assert done.stdout.strip() == repr(sorted(models))


def test_a_logger_imports_powertools_at_its_first_line() -> None:
    named = "from backup2gitops.runtime.logs import logger_for; log = logger_for('probe'); "
    first_line = named + "log.warning('first'); "
    report = "import sys; print('aws_lambda_powertools' in sys.modules)"
    for code, expected in ((named + report, "False"), (first_line + report, "True")):
        done = run_python(code)
        assert done.stdout.strip() == expected, code
        if expected == "True":
            lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
            assert [line["message"] for line in lines] == ["first"]


def test_the_probe_sees_an_sdk_that_is_loaded() -> None:
    """The check above can fail: a module that imports an SDK is seen to have loaded it."""
    assert "kubernetes" in loaded("kubernetes.client")
    assert "boto3" in loaded("boto3")


def test_a_broken_configuration_still_fails_the_first_lambda_invocation(tmp_path: Path) -> None:
    """The models are not built at import any more; a broken configuration is still refused, in
    full and naming the field, at the first invocation of a freshly imported handler (Lambda's
    cold start): one CRITICAL line, then ``ConfigError`` (Lambda's retries, then the on-failure
    destination). Knative's side, the process exiting before it serves, is
    tests/e2e/test_config_refusal.py."""
    config = tmp_path / "config.yaml"
    config.write_text("generator:\n  cleaning:\n    secrets: encrypt\n")
    code = (
        "import sys; from gitops_generator.handler import lambda_handler\n"
        "assert 'backup2gitops.config.model' not in sys.modules\n"
        "from backup2gitops.config import ConfigError\n"
        "try:\n"
        "    lambda_handler({'Records': []}, None)\n"
        "except ConfigError as exc:\n"
        "    print(exc)\n"
    )
    env = fresh_env({"BACKUP2GITOPS_CONFIG": str(config)})
    done = run_python(code, env=env)
    assert "generator.cleaning.secrets: must be one of" in done.stdout
    (line,) = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    assert line["level"] == "CRITICAL"
    assert line["message"].startswith("gitops-generator: invalid configuration")
