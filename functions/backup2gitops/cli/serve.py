"""``backup2gitops serve``: one function over HTTP, or all five behind a local broker.

``--function NAME`` runs exactly what the container runs: functions-framework with the
function's ``http`` target. Without it, each function is served by its own functions-framework
process and a broker ingress on ``--port`` routes events between them by the Triggers in
``triggers/``, with their retries and dead-letter behaviour (Knative-in-a-box). backup-complete
publishes its result to the ingress through ``K_SINK``, as a SinkBinding does on Knative.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import flask
import requests
import yaml
from werkzeug.serving import make_server

from backup2gitops.adapters.gitrepo import ensure_bare_remote
from backup2gitops.adapters.storage import FileStore
from backup2gitops.cli import flow
from backup2gitops.config import CONFIG_ENV, ConfigError, load_config
from backup2gitops.core.errors import FunctionError
from backup2gitops.core.events import Event
from backup2gitops.runtime import codec
from backup2gitops.runtime.broker import LocalBroker, load_triggers
from backup2gitops.runtime.http import error_response


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("serve", help="serve functions over HTTP (all: with a broker)")
    parser.add_argument("--function", choices=flow.SERVICES, help="serve only this function")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--port",
        type=int,
        default=8080,
        help="the function's port, or the broker's (functions take the next five)",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        help="with no $BACKUP2GITOPS_CONFIG: use the demo's bucket and remote here",
    )
    parser.add_argument("--triggers", help="the Triggers directory (default: this checkout's)")
    parser.set_defaults(func=run)


def functions_framework_command(service: str, *, host: str, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "functions_framework",
        "--source",
        str(flow.handler_module_file(service)),
        "--target",
        service.replace("-", "_"),
        "--signature-type",
        "http",
        "--host",
        host,
        "--port",
        str(port),
    ]


def wait_until_up(url: str, *, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            requests.get(url + "healthz", timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not come up")


def ingress_app(broker: LocalBroker) -> flask.Flask:
    app = flask.Flask("broker-ingress")

    @app.post("/")
    def ingress() -> flask.Response:
        try:
            event = codec.parse_http(dict(flask.request.headers), flask.request.get_data())
        except FunctionError as exc:
            return error_response(function="broker", error=exc)
        broker.publish(event)
        return flask.Response(status=202)

    @app.get("/healthz")
    def healthz() -> str:
        return "ok\n"

    return app


def prepare_workdir(workdir: Path) -> dict[str, str]:
    """The demo's bucket (seeded with the sample backup), remote and config, and a webhook body."""
    from backup2gitops.cli import demo

    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    ensure_bare_remote(workdir / "gitops.git")
    config_path = workdir / "config.yaml"
    config_path.write_text(yaml.safe_dump(demo.demo_config(workdir).model_dump(mode="json")))
    store = FileStore(workdir / "bucket")
    key, info = demo.seed_sample(store)
    body = flow.minio_webhook_body(bucket=store.bucket, key=key, etag=info.etag, size=info.size)
    (workdir / "minio-webhook.json").write_bytes(body)
    return {CONFIG_ENV: str(config_path), "BACKUP2GITOPS_CACHE_DIR": str(workdir / ".cache")}


def run(args: argparse.Namespace) -> int:
    env = dict(os.environ)
    if args.workdir and CONFIG_ENV not in env:
        env.update(prepare_workdir(args.workdir))
    try:  # each function would refuse it at start-up; say so once, before starting any
        load_config(environ=env)
    except ConfigError as exc:
        print(f"{env.get(CONFIG_ENV) or 'embedded defaults'}: invalid: {exc}", file=sys.stderr)
        return 2
    if args.function:
        command = functions_framework_command(args.function, host=args.host, port=args.port)
        os.execvpe(command[0], command, env)  # noqa: S606 - become functions-framework
    return serve_all(args, env)


def report_dead_letter(event: Event) -> None:
    """What Knative's dead-letter sink would receive, on the console."""
    ext = event.extensions
    print(
        f"dead letter: {event.type} {event.id} -> {ext.get('knativeerrordest')} answered "
        f"{ext.get('knativeerrorcode')}: {ext.get('knativeerrordata', '')[:200]}",
        file=sys.stderr,
        flush=True,
    )


def serve_all(args: argparse.Namespace, env: dict[str, str]) -> int:
    ingress = f"http://{args.host}:{args.port}/"
    urls = {name: f"http://{args.host}:{args.port + i}/" for i, name in enumerate(flow.SERVICES, 1)}
    processes = []
    try:
        for i, name in enumerate(flow.SERVICES, 1):
            child_env = dict(env)
            child_env.pop("K_SINK", None)
            if name in flow.SINK_BOUND:
                child_env["K_SINK"] = ingress  # the SinkBindings of the Knative deployment
            command = functions_framework_command(name, host=args.host, port=args.port + i)
            processes.append(subprocess.Popen(command, env=child_env))
        for url in urls.values():
            wait_until_up(url)
        broker = LocalBroker(
            load_triggers(flow.triggers_dir(args.triggers)),
            flow.HttpTransport(urls),
            on_dead_letter=report_dead_letter,
        )
        stop = threading.Event()
        threading.Thread(target=broker.run_forever, args=(stop,), daemon=True).start()
        server = make_server(args.host, args.port, ingress_app(broker), threaded=True)
        print(f"broker ingress  {ingress}", flush=True)
        for name, url in urls.items():
            print(f"{name:<16}{url}", flush=True)
        if args.workdir:
            body = Path(args.workdir).resolve() / "minio-webhook.json"
            print(
                f"\nrun the flow:    curl -H 'Content-Type: application/json' "
                f"--data-binary @{body} {urls['backup-complete']}",
                flush=True,
            )
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            stop.set()
            server.server_close()
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=10)
    return 0
