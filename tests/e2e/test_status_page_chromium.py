"""The status page in a real headless Chromium, served by functions-framework over real state.

health-aggregator runs under functions-framework (``status_page_target.py``: the real SPEC on a
fixed clock) against a real MinIO holding two clusters' backups and alert-router's open-alert
record, and a real git remote (``git http-backend`` behind token auth). The remote is named by
its GitHub URL (``git.url: https://github.com/acme/clusters.git``) and reached through git's own
``url.<base>.insteadOf`` on loopback, so the page links the commit on GitHub while every fetch
stays local. A ``gitops.drifted`` CloudEvent is posted to the served function first.

Chromium loads ``/`` with ``--dump-dom`` at 360 px (a phone) and at 1280 px, and takes a
screenshot at both; every value in the DOM is compared with ``/status`` JSON fetched from the
same server. Component latencies are measured per request, so only their health and message
are compared. A second server with ``health.status_token`` shows the page needs the token.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests

from backup2gitops.core import events
from backup2gitops.core.alerts import Alert
from backup2gitops.core.events import Event
from backup2gitops.core.status import short_duration
from backup2gitops.runtime import codec
from tests.e2e import chromium
from tests.e2e.git_http import git_http_server
from tests.e2e.servers import MINIO_MISSING, minio_binary, minio_server, serve_function

pytestmark = pytest.mark.e2e
TARGET = Path(__file__).with_name("status_page_target.py")
GIT_TOKEN = "ghp_e2eGitToken0123456789abcdef"
STATUS_TOKEN = "status-e2e-token-0123456789"
FORGE_URL = "https://github.com/acme/clusters.git"
VOID = {"br", "meta", "img", "input", "link", "hr", "wbr"}


class Dom(HTMLParser):
    """Per cluster and per component row: its data attributes and each ``data-field``'s text."""

    def __init__(self) -> None:
        super().__init__()
        self.clusters: dict[str, dict[str, str]] = {}
        self.components: dict[str, dict[str, str]] = {}
        self.hrefs: dict[str, list[str]] = {}
        self.row: dict[str, str] | None = None
        self.row_name = ""
        self.fields: list[tuple[str, int, list[str]]] = []
        self.depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        at = {k: v or "" for k, v in attrs}
        if tag == "tr" and "data-cluster" in at:
            self.row_name = at["data-cluster"]
            self.row = self.clusters.setdefault(self.row_name, {"stale": at["data-stale"]})
        elif tag == "tr" and "data-component" in at:
            self.row_name = at["data-component"]
            self.row = self.components.setdefault(self.row_name, {})
        if tag == "a" and self.row is not None:
            self.hrefs.setdefault(self.row_name, []).append(at.get("href", ""))
        if tag in VOID:
            self.handle_data(" ")  # a <br> separates words as a browser shows them
            return
        self.depth += 1
        if "data-field" in at and self.row is not None:
            self.fields.append((at["data-field"], self.depth, []))

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if self.fields and self.fields[-1][1] == self.depth and self.row is not None:
            name, _, parts = self.fields.pop()
            self.row[name] = " ".join("".join(parts).split())
        self.depth -= 1
        if tag == "tr":
            self.row = None

    def handle_data(self, data: str) -> None:
        for _, _, parts in self.fields:
            parts.append(data)


def parse(dom: str) -> Dom:
    parsed = Dom()
    parsed.feed(dom)
    return parsed


def git(*args: str, cwd: Path) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t"}
    env |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


def make_remote(root: Path) -> Path:
    work = root / "work"
    work.mkdir(parents=True)
    git("init", "-q", "-b", "main", cwd=work)
    for backup_id, cluster in (("e0", "edge"), ("p1", "prod")):
        (work / backup_id).write_text(backup_id)
        git("add", "-A", cwd=work)
        message = f"{cluster}: backup {backup_id}\n\nBackup-Id: {backup_id}\nCluster: {cluster}"
        git("commit", "-q", "-m", message, cwd=work)
    bare = root / "repos" / "clusters.git"
    git("clone", "-q", "--bare", str(work), str(bare), cwd=root)
    return bare


@pytest.fixture
def world(tmp_path: Path) -> Iterator[dict[str, Any]]:
    if minio_binary() is None:
        pytest.skip(MINIO_MISSING)
    if chromium.binary() is None:
        pytest.skip(chromium.CHROMIUM_MISSING)

    make_remote(tmp_path)
    with (
        minio_server(tmp_path) as minio,
        git_http_server(tmp_path / "repos", user="x-access-token", token=GIT_TOKEN) as (base, _),
    ):
        s3 = minio.s3_client()
        s3.create_bucket(Bucket="backups")
        for key in ("backups/edge/e1/manifest.json", "backups/prod/p1/manifest.json"):
            s3.put_object(Bucket="backups", Key=key, Body=b"{}")
        listed = s3.list_objects_v2(Bucket="backups", Prefix="backups/")["Contents"]
        written = max(o["LastModified"] for o in listed)  # the listing's time, as health reads it
        now = written + timedelta(hours=2)  # the function's clock: prod is fresh, edge stale
        firing = Alert(
            labels={"alertname": "BackupStale", "cluster": "edge", "component": "backup"}
            | {"severity": "warning"},
            annotations={"summary": "no fresh backup of edge (max age PT1H)"},
            status="firing",
            starts_at=now - timedelta(minutes=10),
        )
        s3.put_object(  # as alert-router's OpenAlerts.put keeps it
            Bucket="backups",
            Key=f"state/alerts/{firing.fingerprint}.json",
            Body=json.dumps(firing.to_dict()).encode(),
        )
        gitconfig = tmp_path / "gitconfig"
        gitconfig.write_text(f'[url "{base}clusters.git"]\n\tinsteadOf = {FORGE_URL}\n')
        config = tmp_path / "config.yaml"
        config.write_text(
            f"""
storage: {{url: "s3://backups", endpoint_url: "{minio.url}", health_url: "{minio.url}"}}
git: {{url: "{FORGE_URL}", token: {{env: B2G_GIT_TOKEN}}, cache_dir: "{tmp_path / "cache"}"}}
clusters: [{{name: prod, max_backup_age: P1D}}, {{name: edge, max_backup_age: PT1H}}]
health: {{check_timeout_s: 20, max_gitops_lag: PT1H}}
"""
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("BACKUP2GITOPS")}
        env |= {
            "BACKUP2GITOPS_CONFIG": str(config),
            "AWS_ACCESS_KEY_ID": minio.user,
            "AWS_SECRET_ACCESS_KEY": minio.password,
            "B2G_GIT_TOKEN": GIT_TOKEN,
            "B2G_TEST_NOW": now.isoformat(),
            "GIT_CONFIG_GLOBAL": str(gitconfig),
        }
        yield {"env": env, "config": config, "secrets": (minio.password, GIT_TOKEN), "now": now}


def drifted(now: Any) -> Event:
    return Event(
        id="drift-1",
        source="/backup2gitops/gitops-generator",
        type=events.GITOPS_DRIFTED,
        time=now - timedelta(minutes=30),
        cluster="prod",
        subject="prod/p1",
        data={
            "cluster": "prod",
            "backup_id": "p1",
            "commit": "1" * 40,
            "previous_commit": "2" * 40,
            "findings": [
                {
                    "kind": "ClusterRoleBinding",
                    "name": "shop-default-admin",
                    "rule": "rbac-cluster-admin-binding",
                    "severity": "critical",
                    "summary": "binds cluster-admin to ServiceAccount shop/default",
                }
            ],
        },
    )


def test_the_page_in_chromium_matches_status(world: dict[str, Any], tmp_path: Path) -> None:
    log = tmp_path / "health-aggregator.log"
    with serve_function(TARGET, "health_aggregator", env=world["env"], log=log) as url:
        headers, body = codec.to_http(drifted(world["now"]))
        assert requests.post(url + "/", headers=headers, data=body, timeout=60).status_code == 202

        status = requests.get(url + "/status", timeout=60)
        assert status.headers["Content-Type"].startswith("application/json")
        truth = status.json()
        phone = chromium.dump_dom(url + "/", width=360, height=2000)
        desktop = chromium.dump_dom(url + "/", width=1280, height=900)
        shots = {
            size: chromium.screenshot(url + "/", tmp_path / f"status-{size}.png", width=w, height=h)
            for size, (w, h) in {"phone": (360, 1600), "desktop": (1280, 900)}.items()
        }
        again = requests.get(url + "/status", timeout=60).json()

    assert truth["clusters"] == again["clusters"]  # the clock is fixed: nothing moved
    schema = json.loads((Path(__file__).parents[2] / "schemas" / "status.schema.json").read_text())
    jsonschema.validate(truth, schema)
    assert set(truth["clusters"]) == {"edge", "prod"}
    assert truth["clusters"]["edge"]["stale"] and not truth["clusters"]["prod"]["stale"]
    for dom in (phone, desktop):
        page = parse(dom)
        assert set(page.clusters) == set(truth["clusters"])
        for name, facts in truth["clusters"].items():
            row = page.clusters[name]
            assert row["stale"] == ("true" if facts["stale"] else "false")
            assert row["freshness"] == ("stale" if facts["stale"] else "fresh")
            assert row["last-backup"].startswith(facts["last_backup"]["id"] + " ")
            assert row["age"] == short_duration(facts["last_backup"]["age_s"])
            assert row["max-age"] == short_duration(facts["max_backup_age_s"])
            if facts.get("stuck"):  # the watchdog's word follows the lag
                assert row["lag"].startswith(short_duration(facts["lag_s"]) + " stuck"), row
            else:
                assert row["lag"] == short_duration(facts["lag_s"])
            commit = facts["last_commit"]
            assert row["last-commit"].startswith(commit["commit"][:12] + " ")
            assert f"backup {commit['backup_id']}" in row["last-commit"]
            assert page.hrefs[name] == [commit["url"]]
            assert commit["url"] == f"https://github.com/acme/clusters/commit/{commit['commit']}"
            for alert in facts["open_alerts"]:
                assert f"{alert['alertname']}: {alert['summary']}" in row["alerts"]
            for note in facts["drift"]:
                assert f"{note['rule']} {note['object']}: {note['summary']}" in row["drift"]
            assert (row["alerts"] == "none") == (not facts["open_alerts"])
            assert (row["drift"] == "none") == (not facts["drift"])
        assert set(page.components) == set(truth["components"])
        for name, component in truth["components"].items():
            assert page.components[name]["health"] == component["status"]
            assert page.components[name]["message"] == component["message"]
    edge, prod = truth["clusters"]["edge"], truth["clusters"]["prod"]
    assert edge["last_backup"]["id"] == "e1" and edge["last_commit"]["backup_id"] == "e0"
    # e1 landed 2 h ago (max_gitops_lag 1 h) and no commit names it: the watchdog calls it stuck
    assert edge["stuck"]["backup_id"] == "e1" and prod.get("stuck") is None
    assert [a["alertname"] for a in edge["open_alerts"]] == ["BackupStale"]
    assert [d["rule"] for d in prod["drift"]] == ["rbac-cluster-admin-binding"]
    assert truth["components"]["git"]["status"] == "healthy"  # the GitHub URL reached our remote
    assert truth["components"]["storage/cluster"]["status"] == "healthy"

    for size, shot in shots.items():
        assert chromium.png_size(shot)[0] == (360 if size == "phone" else 1280)
    texts = {"phone": phone, "desktop": desktop, "json": status.text, "log": log.read_text()}
    leaks = [(where, s) for where, text in texts.items() for s in world["secrets"] if s in text]
    assert leaks == []
    assert "x-access-token" not in phone + desktop + status.text


def test_with_a_status_token_the_page_needs_it(world: dict[str, Any], tmp_path: Path) -> None:
    env = world["env"] | {"B2G_STATUS_TOKEN": STATUS_TOKEN}
    config = Path(world["config"])
    config.write_text(
        config.read_text().replace(
            "max_gitops_lag: PT1H}", "max_gitops_lag: PT1H, status_token: {env: B2G_STATUS_TOKEN}}"
        )
    )
    with serve_function(TARGET, "health_aggregator", env=env, log=tmp_path / "ff.log") as url:
        refused = chromium.dump_dom(url + "/", width=360, height=800)  # a browser has no token
        denied = requests.get(url + "/status", timeout=60)
        wrong = requests.get(url + "/", headers={"Authorization": "Bearer nope"}, timeout=60)
        bearer = {"Authorization": f"Bearer {STATUS_TOKEN}", "Accept": "text/html"}
        allowed = requests.get(url + "/status", headers=bearer, timeout=60)
        probe = requests.get(url + "/healthz", timeout=60)
    assert denied.status_code == 401 and wrong.status_code == 401
    assert denied.headers["WWW-Authenticate"].startswith("Bearer")
    assert "unauthorized" in refused and 'data-cluster="edge"' not in refused
    # the page is served with the report's status: 503, edge's e1 is stuck (the watchdog)
    assert allowed.status_code == 503 and 'data-cluster="edge"' in allowed.text
    assert STATUS_TOKEN not in allowed.text
    assert probe.status_code == 200
