"""Distinctive secrets sent through every receiver failure mode never reach a log line, a
bucket object, an error answer, a git object or ``.git/config``.

alert-router runs under functions-framework (its real log), with a FileStore bucket, against
receivers that answer 500 echoing the whole request (URL, headers, body), 404 echoing the path,
never answer, drip one header line at a time, or refuse the connection.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from backup2gitops import generation
from backup2gitops.core import events
from backup2gitops.core.cleaning import CleaningPolicy
from backup2gitops.runtime import codec
from tests.e2e.git_http import git_http_server
from tests.e2e.servers import FUNCTIONS_DIR, serve_function
from tests.functional.test_generation import configmap, tarball
from tests.git_repos import bare_repository, git_remote
from tests.recording import free_port, serving

pytestmark = pytest.mark.e2e

SLACK_TOKEN = "SLACKtok3nAAAA1111bbbb2222"
TEAMS_TOKEN = "TEAMStok3nCCCC3333dddd4444"
PD_KEY = "PDkey0000EEEE5555ffff6666gggg7"
HOOK_SECRET = "HOOKsecret9999HHHH8888iiii"
AM_TOKEN = "AMbearer7777JJJJ6666kkkk"
GIT_TOKEN = "GITtok3n5555LLLL4444mmmm"
SECRETS = [SLACK_TOKEN, TEAMS_TOKEN, PD_KEY, HOOK_SECRET, AM_TOKEN, GIT_TOKEN]


@contextlib.contextmanager
def hostile_receivers() -> Iterator[tuple[str, dict[str, int]]]:
    """/echo/*: 500 with the whole request; /missing/*: 404 with the path; /hang/*: no answer;
    /drip/*: a status line, then one header every 0.2 s for 120 s. Yields (url, done counts)."""
    release = threading.Event()
    done: dict[str, int] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode(errors="replace")
            mode = self.path.split("/")[1]
            if mode == "hang":
                release.wait(300)
            elif mode == "drip":
                self.send_response(200)
                for n in range(600):
                    if release.wait(0.2):
                        break
                    self.send_header(f"X-Drip-{n}", "x")
                    self.wfile.flush()
                self.end_headers()
            else:
                echo = f"{self.command} http://{self.headers['Host']}{self.path}\n{self.headers}\n{body}"
                status = 404 if mode == "missing" else 500
                data = echo.encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            done[mode] = done.get(mode, 0) + 1

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    with serving(server, poll_interval=0.05) as port:
        try:
            yield f"http://127.0.0.1:{port}", done
        finally:
            release.set()


CONFIG = """
storage:
  url: {bucket}
alerts:
  receivers:
    - {{name: slack-echo, type: slack, url: {{env: SLACK_ECHO}}, timeout_s: 60}}
    - {{name: slack-missing, type: slack, url: {{env: SLACK_MISSING}}, timeout_s: 60}}
    - {{name: teams-hang, type: teams, url: {{env: TEAMS_HANG}}, timeout_s: 1}}
    - {{name: slack-drip, type: slack, url: {{env: SLACK_DRIP}}, timeout_s: 1}}
    - {{name: slack-refused, type: slack, url: {{env: SLACK_REFUSED}}, timeout_s: 60}}
    - {{name: pd, type: pagerduty, routing_key: {{env: PD_KEY}}, url: "{base}/echo/v2/enqueue"}}
    - {{name: hook, type: webhook, url: "{base}/missing/hook", secret: {{env: HOOK_SECRET}}}}
    - {{name: am, type: alertmanager, url: "{base}/echo/am", bearer_token: {{env: AM_TOKEN}}}}
  routes:
    - receivers: [slack-echo, slack-missing, teams-hang, slack-drip, slack-refused, pd, hook, am]
"""


def failed_event(n: int) -> events.Event:
    return events.Event(
        id=f"failed-{n}",
        source="/backup2gitops/gitops-generator",
        type=events.GITOPS_FAILED,
        time=events.now(),
        cluster="prod",
        data={
            "cluster": "prod",
            "backup_id": f"b{n}",
            "code": "x",
            "message": "y",
            "retryable": False,
        },
    )


def test_no_receiver_failure_leaks_a_secret(tmp_path: Path) -> None:
    bucket = tmp_path / "bucket"
    log = tmp_path / "alert-router.log"
    with hostile_receivers() as (base, done):
        config = tmp_path / "b2g.yaml"
        config.write_text(CONFIG.format(bucket=bucket.as_uri(), base=base))
        env = {
            "BACKUP2GITOPS_CONFIG": str(config),
            "BACKUP2GITOPS_LOG_LEVEL": "DEBUG",
            "SLACK_ECHO": f"{base}/echo/services/T0/B0/{SLACK_TOKEN}",
            "SLACK_MISSING": f"{base}/missing/services/T0/B0/{SLACK_TOKEN}",
            "TEAMS_HANG": f"{base}/hang/webhookb2/{TEAMS_TOKEN}",
            "SLACK_DRIP": f"{base}/drip/services/T0/B0/{SLACK_TOKEN}",
            "SLACK_REFUSED": f"http://127.0.0.1:{free_port()}/services/T0/B0/{SLACK_TOKEN}",
            "PD_KEY": PD_KEY,
            "HOOK_SECRET": HOOK_SECRET,
            "AM_TOKEN": AM_TOKEN,
        }
        answers = []
        with serve_function(FUNCTIONS_DIR / "main.py", "alert_router", env=env, log=log) as url:
            for n in range(2):  # a first delivery, then a second event for the same alert
                headers, body = codec.to_http(failed_event(n))
                response = requests.post(url + "/", headers=headers, data=body, timeout=60)
                answers.append(response.text)
                assert response.status_code == 503, response.text  # retryable failures
                # The deadline held: the answer came while the drip receiver was still at it.
                assert done.get("drip", 0) == 0
                assert done.get("echo", 0) >= 2 * (n + 1) and done.get("missing", 0) >= n + 1
    texts = {"log": log.read_text(), "answers": "\n".join(answers)}
    for path in bucket.rglob("*"):
        if path.is_file():
            texts[str(path.relative_to(bucket))] = path.read_text(errors="replace")
    assert any("slack-echo" in text for text in texts.values())  # the failures were logged
    assert "HTTP 500" in texts["log"] and "HTTP 404" in texts["log"]
    assert "timed out" in texts["log"] and "unreachable" in texts["log"]
    leaks = [(where, s) for where, text in texts.items() for s in SECRETS if s in text]
    assert leaks == []


def test_a_token_in_git_url_never_reaches_git_config_or_objects(tmp_path: Path) -> None:
    root = tmp_path / "srv"
    bare_repository(root / "gitops.git")
    with git_http_server(root, user="x-access-token", token=GIT_TOKEN) as (base, seen):
        url = base.replace("http://", f"http://x-access-token:{GIT_TOKEN}@") + "gitops.git"
        remote = git_remote(url, tmp_path / "cache")
        archive = tarball([configmap("shop", "cm", "v")])
        result = generation.generate(
            archive=lambda: io.BytesIO(archive),
            remote=remote,
            cluster="prod",
            backup_id="b1",
            policy=CleaningPolicy(),
        ).commit
        assert result.commit and seen  # it pushed, authenticated
        assert GIT_TOKEN not in remote.display_url
    clone_git = remote.workdir / ".git"
    for path in clone_git.rglob("*"):
        if path.is_file():
            assert GIT_TOKEN.encode() not in path.read_bytes(), path
    objects = subprocess.run(
        [
            "git",
            "--git-dir",
            str(root / "gitops.git"),
            "cat-file",
            "--batch-all-objects",
            "--batch",
        ],
        capture_output=True,
        check=True,
    ).stdout
    assert GIT_TOKEN.encode() not in objects
