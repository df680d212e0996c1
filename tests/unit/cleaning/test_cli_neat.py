"""The ``neat`` verb, through a parser built here (the lead owns cli/__init__.py)."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest

from backup2gitops.cli import neat as neat_cli
from backup2gitops.core.kube_yaml import load_all

CASES = Path(__file__).parent / "cases"


def run(argv: list[str], stdin: str = "", monkeypatch: pytest.MonkeyPatch | None = None) -> int:
    parser = argparse.ArgumentParser(prog="backup2gitops")
    neat_cli.register(parser.add_subparsers(dest="verb", required=True))
    args = parser.parse_args(argv)
    if monkeypatch is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    result: int = args.func(args)
    return result


def _errors(err: str) -> list[str]:
    """stderr without the managedFields warning (these inputs were read without them)."""
    return [line for line in err.splitlines() if not line.startswith("neat: warning:")]


def test_file_to_yaml_with_exclude(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["neat", "-f", str(CASES / "list.input.yaml"), "--exclude"]) == 0
    out, err = capsys.readouterr()
    assert out == (CASES / "list.expected.yaml").read_text()
    assert err.splitlines() == [
        "excluded Event shop/db-migrate.17c8b5e0a1b2c3d4: builtin: events are runtime state",
        "excluded Pod shop/web-7d9c6b5f4-abcde: builtin: owned by controller"
        " ReplicaSet (it recreates it)",
    ]


def test_without_exclude_everything_given_is_cleaned(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(["neat", "-f", str(CASES / "list.input.yaml")]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    kinds = [(o["kind"], o["metadata"]["name"]) for o in load_all(out)]
    assert ("Event", "db-migrate.17c8b5e0a1b2c3d4") in kinds
    assert ("Pod", "web-7d9c6b5f4-abcde") in kinds
    pod = next(o for o in load_all(out) if o["kind"] == "Pod")
    assert "status" not in pod and "ownerReferences" not in pod["metadata"]


def test_a_provisioned_volume_is_cleaned_and_excluded_only_on_request(
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = str(CASES / "persistentvolume.input.yaml")
    assert run(["neat", "-f", path]) == 0
    out, err = capsys.readouterr()
    volumes = [o for o in load_all(out) if o["kind"] == "PersistentVolume"]
    provisioned = [o for o in volumes if o["metadata"]["name"].startswith("pvc-")]
    assert provisioned and _errors(err) == []
    assert "status" not in provisioned[0]
    assert run(["neat", "-f", path, "--exclude"]) == 0
    out, err = capsys.readouterr()
    names = {o["metadata"]["name"] for o in load_all(out)}
    assert provisioned[0]["metadata"]["name"] not in names
    assert (
        f"excluded PersistentVolume {provisioned[0]['metadata']['name']}: builtin: dynamically"
        " provisioned volume (its claim provisions it again)"
    ) in err.splitlines()


def test_exclude_reads_the_input_as_one_backup(capsys: pytest.CaptureFixture[str]) -> None:
    """The claims of a StatefulSet in the input are excluded, with the reason the commit
    message gives; the CRD in the input prunes its custom resources' defaults either way."""
    assert run(["neat", "-f", str(CASES / "statefulset-claims.input.yaml"), "--exclude"]) == 0
    out, err = capsys.readouterr()
    assert load_all(out) == load_all((CASES / "statefulset-claims.expected.yaml").read_text())
    reason = load_all((CASES / "statefulset-claims.excluded.yaml").read_text())[0]
    assert _errors(err) == [f"excluded {ref}: {why}" for ref, why in reason.items()]
    assert run(["neat", "-f", str(CASES / "statefulset-claims.input.yaml")]) == 0
    out, err = capsys.readouterr()
    assert _errors(err) == [] and len(load_all(out)) == 6
    assert run(["neat", "-f", str(CASES / "crd-defaults.input.yaml")]) == 0
    out, err = capsys.readouterr()
    assert load_all(out) == load_all((CASES / "crd-defaults.expected.yaml").read_text())


def test_stdin_to_json_single_object(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (CASES / "service-headless.input.yaml").read_text()
    assert run(["neat", "-o", "json"], stdin=text, monkeypatch=monkeypatch) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == load_all((CASES / "service-headless.expected.yaml").read_text())[0]


def test_json_list_for_many(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (CASES / "rbac.input.yaml").read_text()
    assert run(["neat", "-f", "-", "-o", "json"], stdin=text, monkeypatch=monkeypatch) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["kind"] == "List"
    assert out["items"] == load_all((CASES / "rbac.expected.yaml").read_text())


def test_secret_modes(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(CASES / "secret-redact.input.yaml")
    assert run(["neat", "-f", path]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert "policy: secrets are excluded" in err
    assert run(["neat", "-f", path, "--secrets", "redact", "--exclude"]) == 0
    redacted = load_all(capsys.readouterr().out)
    assert redacted == load_all((CASES / "secret-redact.expected.yaml").read_text())
    # without --exclude the service-account token Secret is printed too, redacted like the rest
    assert run(["neat", "-f", path, "--secrets", "redact"]) == 0
    everything = load_all(capsys.readouterr().out)
    token = next(o for o in everything if o.get("type") == "kubernetes.io/service-account-token")
    assert set(token["data"].values()) == {"UkVEQUNURUQ="}
    assert run(["neat", "-f", path, "--secrets", "plaintext"]) == 0
    assert "czNjcjN0LXBAc3M=" in capsys.readouterr().out
    assert run(["neat", "-f", path, "--secrets", "sops"]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert "sops" in err


def test_bad_input(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    assert run(["neat"], stdin="a: [", monkeypatch=monkeypatch) == 2
    assert "neat:" in capsys.readouterr().err


def test_rejects_unknown_secret_mode() -> None:
    with pytest.raises(SystemExit):
        run(["neat", "--secrets", "base64"])


def test_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert run(["neat", "-f", str(tmp_path / "absent.yaml")]) == 2
    assert "absent.yaml" in capsys.readouterr().err


SERVER_SIDE_NODE_PORT = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "web", "namespace": "shop"},
    "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}]},
}


def test_one_warning_line_when_a_choice_needs_the_managed_fields_that_are_missing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``kubectl get -o yaml`` omits managedFields: a nodePort chosen through server-side apply
    cannot be told from an allocated one; neat says so, once, instead of guessing silently."""
    webhook = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": "inject", "finalizers": ["example.com/cleanup"]},
        "webhooks": [{"name": "a.example.com", "clientConfig": {"caBundle": "Q0E="}}],
    }
    listing = {"apiVersion": "v1", "kind": "List", "items": [SERVER_SIDE_NODE_PORT, webhook]}
    assert run(["neat"], stdin=json.dumps(listing), monkeypatch=monkeypatch) == 0
    _, err = capsys.readouterr()
    lines = err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("neat: warning: no metadata.managedFields")
    assert "nodePort (1)" in lines[0] and "caBundle (1)" in lines[0]
    assert "finalizers (1)" in lines[0]


def test_no_warning_with_managed_fields_or_a_last_applied_record(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with_fields = json.loads(json.dumps(SERVER_SIDE_NODE_PORT))
    with_fields["metadata"]["managedFields"] = [
        {
            "manager": "kubectl",
            "operation": "Apply",
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:spec": {
                    "f:type": {},
                    "f:ports": {
                        'k:{"port":80,"protocol":"TCP"}': {".": {}, "f:port": {}, "f:nodePort": {}}
                    },
                }
            },
        }
    ]
    assert run(["neat"], stdin=json.dumps(with_fields), monkeypatch=monkeypatch) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert "nodePort: 30080" in out  # the Apply-owned field says a person chose it
