"""``backup2gitops config validate`` refuses each configuration a tester found accepted, naming
the field; each of these used to print "valid" and lose work later (issue 11)."""

from __future__ import annotations

from pathlib import Path

import pytest

from backup2gitops.cli import main

AGE_KEY = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"

BROKEN = {
    "secrets-encrypt": (
        "generator: {cleaning: {secrets: encrypt}}",
        "generator.cleaning.secrets: must be one of exclude, redact, sops, plaintext "
        "(got 'encrypt')",
    ),
    "secrets-plaintxt": (
        "generator: {cleaning: {secrets: plaintxt}}",
        "generator.cleaning.secrets: must be one of exclude, redact, sops, plaintext "
        "(got 'plaintxt')",
    ),
    "cleaning-typo": (
        "generator: {cleaning: {exclude_namespace: [kube-system]}}",
        "generator.cleaning.exclude_namespace: unknown field (did you mean exclude_namespaces?)",
    ),
    "sops-without-recipients": (
        "generator: {cleaning: {secrets: sops}}",
        "generator.sops_age_recipients: required when cleaning.secrets is sops",
    ),
    "sops-recipient-not-a-key": (
        f"generator: {{cleaning: {{secrets: sops}}, sops_age_recipients: [{AGE_KEY}, age1x]}}",
        "generator.sops_age_recipients[1]: not an age public key",
    ),
    "sops-without-digest-key": (
        f"generator: {{cleaning: {{secrets: sops}}, sops_age_recipients: [{AGE_KEY}]}}",
        "generator.sops_digest_key: required when cleaning.secrets is sops",
    ),
    "unknown-transform": (
        "generator: {transforms: [does-not-exist]}",
        "generator.transforms[0]: unknown transform 'does-not-exist'",
    ),
    "unknown-receiver-type": (
        "alerts: {receivers: [{name: ops, type: opsgenie}], routes: [{receivers: [ops]}]}",
        "alerts.receivers[0].type: unknown receiver type 'opsgenie'",
    ),
    "slack-without-url": (
        "alerts: {receivers: [{name: chat, type: slack}], routes: [{receivers: [chat]}]}",
        "alerts.receivers[0].url: required",
    ),
    "slack-url-inline": (
        "alerts: {receivers: [{name: chat, type: slack, url: 'https://hooks.slack.com/s/T/B/x'}]"
        ", routes: [{receivers: [chat]}]}",
        "alerts.receivers[0].url: a credential is never written in the file",
    ),
    "receiver-extra-key": (
        "alerts: {receivers: [{name: am, type: alertmanager, url: 'http://am:9093', "
        "bearer: {env: T}}], routes: [{receivers: [am]}]}",
        "alerts.receivers[0].bearer: unknown field (did you mean bearer_token?)",
    ),
    "review-without-project": (
        "git: {review: {mode: github}}",
        "git.review.project: required when mode is github",
    ),
    "git-url-with-password": (
        "git: {url: 'https://user:hunter2@git.example.com/platform/gitops.git'}",
        "git.url: must not contain credentials",
    ),
    "git-url-with-token": (
        "git: {url: 'https://ghp_t0ken@github.com/platform/gitops.git'}",
        "git.url: must not contain credentials",
    ),
    "storage-endpoint-with-keys": (
        "storage: {url: 's3://b', endpoint_url: 'http://minio:minio123@minio:9000'}",
        "storage.endpoint_url: must not contain credentials",
    ),
    "alertmanager-url-with-password": (
        "alerts: {receivers: [{name: am, type: alertmanager, url: 'http://u:s3cr3tpw@am:9093'}], "
        "routes: [{receivers: [am]}]}",
        "alerts.receivers[0].url: must not contain credentials",
    ),
    "inline-token": (
        "git: {token: ghp_inline}",
        "git.token: a credential is never written in the file",
    ),
    "dynamodb-without-table": (
        "alerts: {idempotency: {backend: dynamodb}}",
        "alerts.idempotency.table: required when backend is dynamodb",
    ),
    "route-typo": (
        "alerts: {routes: [{recievers: [console]}]}",
        "alerts.routes[0].recievers: unknown field (did you mean receivers?)",
    ),
    "section-typo": ("genrator: {}", "genrator: unknown field (did you mean generator?)"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_config_validate_refuses_and_names_the_field(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, expected = BROKEN[case]
    path = tmp_path / f"{case}.yaml"
    path.write_text(text + "\n")
    assert main(["config", "validate", str(path)]) == 2
    captured = capsys.readouterr()
    assert expected in captured.err
    assert "valid (" not in captured.out
    for secret in ("hunter2", "ghp_t0ken", "ghp_inline", "minio123", "s3cr3tpw", "/s/T/B/x"):
        assert secret not in captured.err + captured.out  # the error never repeats a credential


def test_ssh_remotes_and_plain_urls_are_not_credentials(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for url in ("ssh://git@github.com/a/b.git", "git@github.com:a/b.git", "/srv/gitops.git"):
        path = tmp_path / "c.yaml"
        path.write_text(f"git: {{url: '{url}'}}\n")
        assert main(["config", "validate", str(path)]) == 0, capsys.readouterr().err


def test_a_configuration_without_a_catch_all_route_is_valid_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("alerts: {routes: [{match: {severity: critical}, receivers: [console]}]}\n")
    assert main(["config", "validate", str(path)]) == 0
    err = capsys.readouterr().err
    assert "alerts.routes: no catch-all route" in err
    path.write_text("alerts: {routes: [{match: {severity: critical}}, {receivers: [console]}]}\n")
    assert main(["config", "validate", str(path)]) == 0
    assert "catch-all" not in capsys.readouterr().err


def test_a_credential_in_a_url_query_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "alerts: {receivers: [{name: hook, type: webhook, "
        "url: 'https://hooks.example.com/in?token=t0psecret&x=1'}], routes: [{receivers: [hook]}]}\n"
    )
    assert main(["config", "validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "alerts.receivers[0].url: must not carry credentials in its query (token=...)" in err
    assert "t0psecret" not in err
