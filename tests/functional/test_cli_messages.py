"""Issue 26's misleading messages, each with its new wording: one line that names the setting
or the thing to do. Against the real thing: git http-backend behind Basic auth, a refused git
port, MinIO (when built), the file store, the status page's template."""

from __future__ import annotations

from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import pytest

from backup2gitops.adapters.storage import open_store
from backup2gitops.config import StorageConfig
from backup2gitops.core import status_page
from backup2gitops.core.status import StatusReport
from backup2gitops.runtime.context import FunctionContext
from tests.e2e.git_http import git_http_server
from tests.fixtures.native import native_backup, store_native_backup
from tests.functional.test_cli_errors import clean_env, cli, one_line_error
from tests.git_repos import bare_repository


def native_folder(tmp_path: Path, *, cluster: str) -> Path:
    backup = native_backup(cluster=cluster, backup_id="20261123t020000z")
    store = open_store(StorageConfig(url=(tmp_path / "bucket").as_uri()))
    store_native_backup(store, backup)
    return tmp_path / "bucket" / backup.manifest_key.rpartition("/")[0]


def test_a_remote_that_wants_credentials_when_none_were_sent_names_git_token(
    tmp_path: Path,
) -> None:
    root = tmp_path / "srv"
    bare_repository(root / "gitops.git")
    folder = native_folder(tmp_path, cluster="prod")
    with git_http_server(root, user="x-access-token", token="t0ken") as (base, _):
        line = one_line_error(
            cli(tmp_path, "generate", str(folder), "--repo", base + "gitops.git"), 1
        )
    assert line == (
        f"generate: the remote {base}gitops.git wants credentials and no credentials were sent: "
        "set git.token (e.g. {env: BACKUP2GITOPS_GIT_TOKEN}) to a token that may push"
    )


def test_git_failing_to_talk_to_a_remote_says_why(tmp_path: Path) -> None:
    folder = native_folder(tmp_path, cluster="prod")
    url = "git://127.0.0.1:9/none.git"
    line = one_line_error(cli(tmp_path, "generate", str(folder), "--repo", url), 1)
    assert line.startswith(f"generate: git failed talking to {url}: "), line
    assert "127.0.0.1" in line.removeprefix(f"generate: git failed talking to {url}: ")


def test_cluster_contradicting_the_manifest_is_refused_unless_forced(tmp_path: Path) -> None:
    folder = native_folder(tmp_path, cluster="demo")
    repo = str(tmp_path / "r.git")
    line = one_line_error(
        cli(tmp_path, "generate", str(folder), "--repo", repo, "--cluster", "prod"), 2
    )
    assert line == (
        "generate: --cluster prod contradicts the backup's manifest (cluster demo): its objects "
        "would replace clusters/prod/; give --force-cluster to commit them there anyway"
    )
    assert not Path(repo).exists()  # refused before anything was made
    forced = cli(
        tmp_path,
        "generate",
        str(folder),
        "--repo",
        repo,
        "--cluster",
        "prod",
        "--force-cluster",
        "-o",
        "name",
    )
    assert forced.returncode == 0, forced.stderr
    assert forced.stdout.startswith("commit/")
    same = cli(tmp_path, "generate", str(folder), "--repo", repo, "--cluster", "demo")
    assert same.returncode == 0, same.stderr


def test_invalid_yaml_is_one_line_with_file_line_and_column(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("storage:\n  url: x\n bad: [\n")
    line = one_line_error(cli(tmp_path, "config", "validate", "config.yaml"), 2)
    assert line.startswith("config.yaml:3:2: not valid YAML: expected <block end>"), line
    line = one_line_error(cli(tmp_path, "status", "--config", "config.yaml"), 2)
    assert line.startswith("status: config.yaml:3:2: not valid YAML"), line
    (tmp_path / "in.yaml").write_text("kind: Pod\nmetadata: {name: a\n")
    line = one_line_error(cli(tmp_path, "neat", "-f", "in.yaml"), 2)
    assert line.startswith("neat: in.yaml:3:1: not valid YAML: expected ',' or '}'"), line
    (tmp_path / "in.json").write_text('{"kind":\n }')
    line = one_line_error(cli(tmp_path, "neat", "-f", "in.json"), 2)
    assert line == "neat: in.json:2:2: not valid JSON: Expecting value"


def test_the_missing_webhook_token_names_the_variable_not_a_python_repr(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(
        f"storage: {{url: {(tmp_path / 'bucket').as_uri()}}}\ngit: {{url: {tmp_path / 'r.git'}}}\n"
    )
    result = cli(
        tmp_path,
        "serve",
        "--function",
        "backup-complete",
        "--config",
        "config.yaml",
        "--port",
        "9",
    )
    line = one_line_error(result, 2)
    assert line == (
        "backup2gitops serve: backup-complete: the webhook token is missing "
        "($BACKUP2GITOPS_WEBHOOK_TOKEN is not set); configure it, or set allow_unauthenticated: "
        "true to accept unauthenticated webhooks"
    )
    assert "SecretRef" not in result.stderr


def test_a_bucket_folder_with_a_trailing_slash_is_the_backup_in_it(tmp_path: Path) -> None:
    from backup2gitops.cli.generate import stored_folder

    native_folder(tmp_path, cluster="prod")
    store = open_store(StorageConfig(url=(tmp_path / "bucket").as_uri()))
    folder = "backups/prod/20261123t020000z/"
    opened, cluster, backup_id, manifest = stored_folder(
        store, folder.strip("/"), source=f"s3://bucket/{folder}"
    )
    assert (cluster, backup_id) == ("prod", "20261123t020000z") and manifest is not None
    assert opened().read(2) == b"\x1f\x8b"  # the archive, gzip
    with pytest.raises(FileNotFoundError, match=r"holds neither manifest\.json nor nope\.tar\.gz"):
        stored_folder(store, "backups/nope", source="s3://bucket/backups/nope/")


def test_s3_folder_and_missing_bucket_against_minio(tmp_path: Path) -> None:
    from tests.e2e.stores import minio_with_bucket

    with ExitStack() as stack:
        server = stack.enter_context(minio_with_bucket(tmp_path, "backups"))
        env = clean_env(
            tmp_path,
            AWS_ACCESS_KEY_ID=server.user,
            AWS_SECRET_ACCESS_KEY=server.password,
            BACKUP2GITOPS__STORAGE__ENDPOINT_URL=server.url,
            BACKUP2GITOPS__STORAGE__ADDRESSING_STYLE="path",
        )
        client = server.s3_client()
        backup = native_backup(cluster="prod", backup_id="20261123t020000z")
        client.put_object(Bucket="backups", Key=backup.archive_key, Body=backup.archive)
        from backup2gitops.core.backup_manifest import dump_manifest

        client.put_object(
            Bucket="backups", Key=backup.manifest_key, Body=dump_manifest(backup.manifest)
        )
        folder = backup.manifest_key.rpartition("/")[0] + "/"
        result = cli(
            tmp_path,
            "generate",
            f"s3://backups/{folder}",
            "--repo",
            str(tmp_path / "r.git"),
            "-o",
            "yaml",
            env=env,
        )
        assert result.returncode == 0, result.stderr
        assert "cluster: prod\n" in result.stdout
        line = one_line_error(
            cli(
                tmp_path,
                "generate",
                "s3://nobucket/x.tar.gz",
                "--repo",
                str(tmp_path / "r.git"),
                "--cluster",
                "prod",
                env=env,
            ),
            1,
        )
        assert "S3 NoSuchBucket: bucket nobucket does not exist (storage.url names it; " in line


def test_the_storage_check_names_the_store_once(tmp_path: Path) -> None:
    from backup2gitops.config import parse_config
    from health_aggregator.views import status_body

    remote = tmp_path / "r.git"
    bare_repository(remote)
    (tmp_path / "bucket").mkdir()
    config = parse_config(
        f"storage: {{url: {(tmp_path / 'bucket').as_uri()}}}\n"
        f"git: {{url: {remote}, cache_dir: {tmp_path / 'cache'}}}\n",
        {},
    )
    body = status_body(FunctionContext(config, environ={}))
    message = body["components"]["storage"]["message"]
    assert message == f"{(tmp_path / 'bucket').as_uri()} reachable (no backups yet)"


def test_the_status_page_refreshes_itself_without_a_script() -> None:
    report = StatusReport.model_validate(
        {"status": "healthy", "checked_at": datetime(2026, 12, 7, tzinfo=UTC), "components": {}}
    )
    page = status_page.render(report)
    assert '<meta http-equiv="refresh" content="60">' in page
    assert "<script" not in page
