"""``backup2gitops serve``: one function over HTTP, or all five behind a local broker.

``--function NAME`` runs exactly what the container runs: ``runtime.server`` (functions-framework's
app for the function's ``http`` target under gunicorn, with the HTTP edge's deadlines). Without
it, each function is served by its own such process and a broker ingress on ``--port`` routes events between them by the Triggers in
``triggers/``, with their retries and dead-letter behaviour (Knative-in-a-box). backup-complete
publishes its result to the ingress through ``K_SINK``, as a SinkBinding does on Knative.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import flask
import requests
import yaml
from werkzeug.serving import make_server

from backup2gitops.adapters.git import ensure_bare_remote
from backup2gitops.adapters.storage import FileStore
from backup2gitops.cli import flow
from backup2gitops.config import CONFIG_ENV, ENV_PREFIX, ConfigError, load_config
from backup2gitops.core.errors import Backup2GitopsError
from backup2gitops.core.events import Event
from backup2gitops.runtime import codec, failures
from backup2gitops.runtime.broker import LocalBroker
from backup2gitops.runtime.context import FunctionContext
from backup2gitops.runtime.http import error_response, serves_unauthenticated, startup_problem


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
    parser.add_argument("--config", help="configuration file (default: $BACKUP2GITOPS_CONFIG)")
    parser.add_argument(
        "--kubeconfig",
        metavar="PATH",
        help="cluster-backup's (default: $KUBECONFIG, ~/.kube/config)",
    )
    parser.add_argument("--context", metavar="NAME", help="cluster-backup's kubeconfig context")
    parser.set_defaults(func=run)


def function_server_command(service: str, *, host: str, port: int) -> list[str]:
    """The image's server (``runtime.server``: functions-framework's app under gunicorn, with
    header and body deadlines) for one function's handler module."""
    return [
        sys.executable,
        "-m",
        "backup2gitops.runtime.server",
        "--source",
        str(flow.handler_module_file(service)),
        "--target",
        service.replace("-", "_"),
        "--host",
        host,
        "--port",
        str(port),
    ]


def wait_until_up(url: str, process: subprocess.Popen[bytes], *, timeout_s: float = 180.0) -> None:
    """Until ``url`` answers: five servers importing their dependencies at once on a busy machine
    take a while, and gunicorn listens before its worker answers (a slow answer is not an error)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode} before answering")
        try:
            requests.get(url + "healthz", timeout=10)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not come up")


def busy_port(host: str, ports: dict[str, int]) -> str | None:
    """The first of ``ports`` something already listens on, as a one-line error; else None."""
    for name, port in ports.items():
        with socket.socket() as probe:
            # as the servers bind: a port left in TIME_WAIT is free, a listening one is not
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError as exc:
                return f"serve: port {port} on {host} ({name}) is not free: {exc.strerror}"
    return None


class Stopped(Backup2GitopsError):
    """SIGTERM or SIGINT arrived: stop the ingress and the functions (not a failure: exit 0)."""

    code = "stopped"


def _stop(signum: int, frame: object) -> None:
    raise Stopped(signal.Signals(signum).name)


def stop_children(processes: list[subprocess.Popen[bytes]], *, grace_s: float = 10.0) -> None:
    """SIGTERM each child's process group (the server and its gunicorn workers), then
    SIGKILL what is still there after ``grace_s``."""
    for process in processes:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def ingress_app(broker: LocalBroker) -> flask.Flask:
    app = flask.Flask("broker-ingress")

    @app.post("/")
    def ingress() -> flask.Response:
        try:
            event = codec.parse_http(dict(flask.request.headers), flask.request.get_data())
        except Backup2GitopsError as exc:
            return error_response(function="broker", failure=failures.classify(exc))
        # 202, or 400 for an event whose knativebrokerttl is spent (a reply loop)
        return flask.Response(status=broker.ingress(event))

    @app.get("/healthz")
    def healthz() -> str:
        return "ok\n"

    return app


def prepare_workdir(workdir: Path) -> dict[str, str]:
    """The demo's bucket (seeded with the sample backup), remote and config, and a webhook body."""
    from backup2gitops.cli.demo import setup as demo

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


def refuses_to_start(names: list[str], env: dict[str, str]) -> str | None:
    """Why a function must not be served with this configuration (printed), or None. Says so
    on the console when backup-complete will accept unauthenticated webhooks."""
    ctx = FunctionContext(load_config(environ=env), environ=env)
    specs = flow.function_specs()
    for name in names:
        problem = startup_problem(specs[name], ctx)
        if problem is not None:
            return problem
        if serves_unauthenticated(specs[name], ctx):
            print(
                f"{name}: accepting webhooks without a token "
                "(backup_complete.allow_unauthenticated: true)",
                file=sys.stderr,
                flush=True,
            )
    return None


def run(args: argparse.Namespace) -> int:
    env = dict(os.environ)
    if args.config:  # the functions read it from the environment, as they do when deployed
        env[CONFIG_ENV] = str(Path(args.config).resolve())
    for option, value in (("KUBECONFIG", args.kubeconfig), ("CONTEXT", args.context)):
        if value:
            env[f"{ENV_PREFIX}CLUSTER_BACKUP__{option}"] = value
    if args.workdir and CONFIG_ENV in env:
        print(
            f"serve: --workdir {args.workdir} ignored: ${CONFIG_ENV} is set ({env[CONFIG_ENV]})",
            file=sys.stderr,
            flush=True,
        )
    elif args.workdir:
        env.update(prepare_workdir(args.workdir))
    try:  # each function would refuse it at start-up; say so once, before starting any
        problem = refuses_to_start([args.function] if args.function else list(flow.SERVICES), env)
    except ConfigError as exc:
        problem = f"{env.get(CONFIG_ENV) or 'embedded defaults'}: invalid: {exc}"
    if problem is not None:
        print(f"backup2gitops serve: {problem}", file=sys.stderr)
        return 2
    if args.function:
        busy = busy_port(args.host, {args.function: args.port})
        if busy:
            print(busy, file=sys.stderr)
            return 2
        command = function_server_command(args.function, host=args.host, port=args.port)
        os.execvpe(command[0], command, env)  # noqa: S606 - become the function's server
    return serve_all(args, env)


def report_dead_letter(event: Event) -> None:
    """What Knative's dead-letter sink receives, on the console (the error data decoded)."""
    ext = event.string_attributes()
    data = base64.b64decode(ext.get("knativeerrordata", "")).decode(errors="replace")
    print(
        f"dead letter: {event.type} {event.id} -> {ext.get('knativeerrordest')} answered "
        f"{ext.get('knativeerrorcode')}: {data[:200]}",
        file=sys.stderr,
        flush=True,
    )


def serve_all(args: argparse.Namespace, env: dict[str, str]) -> int:
    ingress = f"http://{args.host}:{args.port}/"
    ports = {"broker ingress": args.port}
    ports.update({name: args.port + i for i, name in enumerate(flow.SERVICES, 1)})
    urls = {name: f"http://{args.host}:{ports[name]}/" for name in flow.SERVICES}
    broker = flow.new_broker(
        args.triggers, flow.HttpTransport(urls), on_dead_letter=report_dead_letter
    )
    unresolved = broker.unresolved()
    if unresolved:  # Knative would skip their events silently: refuse, as a deploy must
        print(
            "serve: Triggers whose subscriber is not served (on Knative they would not be Ready "
            f"and their events would be skipped silently): {', '.join(unresolved)}",
            file=sys.stderr,
        )
        return 2
    busy = busy_port(args.host, ports)
    if busy:
        print(busy, file=sys.stderr)
        return 2
    processes: list[subprocess.Popen[bytes]] = []
    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        for name in flow.SERVICES:
            child_env = dict(env)
            child_env.pop("K_SINK", None)
            if name in flow.SINK_BOUND:
                child_env["K_SINK"] = ingress  # the SinkBindings of the Knative deployment
            command = function_server_command(name, host=args.host, port=ports[name])
            # its own process group: stopping it stops its workers too
            processes.append(subprocess.Popen(command, env=child_env, start_new_session=True))
        for name, process in zip(flow.SERVICES, processes, strict=True):
            wait_until_up(urls[name], process)
        server = make_server(args.host, args.port, ingress_app(broker), threaded=True)
        width = max(len(name) for name in ports) + 2
        print(f"{'broker ingress':<{width}}{ingress}", flush=True)
        for name, url in urls.items():
            print(f"{name:<{width}}{url}", flush=True)
        if args.workdir and CONFIG_ENV not in os.environ:
            body = Path(args.workdir).resolve() / "minio-webhook.json"
            print(
                f"\nrun the flow:  curl -H 'Content-Type: application/json' "
                f"--data-binary @{body} {urls['backup-complete']}",
                flush=True,
            )
        try:
            server.serve_forever()
        finally:
            server.server_close()
    except Stopped:
        pass
    finally:
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)  # a second signal must not cut the cleanup short
        stop_children(processes)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
