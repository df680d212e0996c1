"""The Containerfile, built here with buildah, and each of its images run the way a cluster runs
them: as uid 10001, the root filesystem read-only, /tmp an empty directory (the emptyDir).

The build is the project's real Containerfile (``buildah bud --storage-driver overlay --isolation
chroot``, every target: functions, cluster-backup, lambda). What differs from a release build,
and only that: no registry is reachable here, so the two bases are the stand-ins
scripts/build-image-test-deps.sh builds from Debian's packages (passed as the PYTHON_BASE and
GO_BASE build arguments): Debian bookworm with python:3.12-slim's libraries and this machine's
CPython 3.12 at /usr/local (the version Lambda's python3.12 runtime has; Debian has no 3.12),
and the same Debian with this machine's Go at /usr/local/go; both trust the host's CA bundle
(this network terminates TLS at its egress proxy). The Go stage gets this machine's module and
build caches as volumes (``--volume``), so sops compiles from cached modules. Every RUN, COPY,
pip install --require-hashes and apt-get of the Containerfile runs as written.

Then, from each image's filesystem (``buildah mount``) with the image's own entrypoint,
environment, user and working directory: the five functions answer /healthz on 127.0.0.1 (four
from ``functions``, cluster-backup from ``cluster-backup``); gitops-generator commits a backup to
a git daemon on 127.0.0.1 (git is in the image); the ``lambda`` image's entry point (awslambdaric)
runs under the real aws-lambda-rie and handles one backup.completed. Each image's size is printed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from backup2gitops.adapters.storage import FileStore
from backup2gitops.core import events
from backup2gitops.core.archive import BackupItem
from backup2gitops.native_backup_writer import write_native_backup
from backup2gitops.runtime import codec
from backup2gitops.runtime.aws_lambda import structured
from tests.e2e.git_daemon import git_daemon
from tests.e2e.servers import gopath_binary, tail, wait_for
from tests.e2e.stores import announced
from tests.recording import free_port

# Building three images cold on a busy machine takes minutes:
# the deadline is generous, and no assertion depends on the time taken.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(5400)]

REPO = Path(__file__).resolve().parents[2]
TARGETS = ("functions", "cluster-backup", "lambda")
SERVED = {  # function target -> the image that serves it
    "backup_complete": "functions",
    "gitops_generator": "functions",
    "health_aggregator": "functions",
    "alert_router": "functions",
    "cluster_backup": "cluster-backup",
}
MISSING = "no buildah or no stand-in bases: scripts/build-image-test-deps.sh (install-test-deps.sh runs it)"
UID = 10001
WEBHOOK_TOKEN = "image-test-webhook-token"
STATUS_TOKEN = "image-test-status-token"

# Inside a private mount namespace: the image's filesystem bound read-only at $R, the empty
# directory at /tmp, /proc, and /dev with null, zero, random and urandom; then chroot as the
# image's user. `exec` all the way: the pid the test holds is the function's.
IN_IMAGE = r"""set -eu
R="$1"; ROOT="$2"; TMP="$3"; USERSPEC="$4"; shift 4
mount --bind "$ROOT" "$R"
mount -o remount,bind,ro "$R"
mount --bind "$TMP" "$R/tmp"
mount -t proc proc "$R/proc"
mount -t tmpfs -o mode=755,size=1m tmpfs "$R/dev"
for d in null zero random urandom; do touch "$R/dev/$d"; mount --bind "/dev/$d" "$R/dev/$d"; done
exec chroot --userspec="$USERSPEC" "$R" "$@"
"""


def image_test_dir() -> Path:
    if os.environ.get("B2G_IMAGE_TEST"):
        return Path(os.environ["B2G_IMAGE_TEST"])
    gopath = subprocess.run(
        ["go", "env", "GOPATH"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return (Path(gopath or Path.home() / "go") / "image-test").resolve()


def buildah(*args: str, log: Path | None = None, timeout: float = 3600) -> str:
    state = image_test_dir()
    argv = ["buildah", "--root", str(state / "storage-overlay"), "--runroot", str(state / "run")]
    argv += ["--storage-driver", "overlay", *args]
    env = {**os.environ, "TMPDIR": str(state / "tmp")}
    if log is not None:  # a build: its output to a file, the end of it in the failure
        with log.open("ab") as out:
            code = subprocess.run(
                argv, stdout=out, stderr=subprocess.STDOUT, check=False, timeout=timeout, env=env
            ).returncode
        if code != 0:
            raise RuntimeError(f"buildah {args[0]} failed ({code}): {tail(log, 40)}")
        return ""
    result = subprocess.run(
        argv, capture_output=True, text=True, check=False, timeout=timeout, env=env
    )
    if result.returncode != 0:
        raise RuntimeError(f"buildah {args[0]} failed: {result.stderr}"[-4000:])
    return result.stdout


@dataclass(frozen=True)
class Image:
    target: str
    name: str
    root: Path  # the mounted filesystem
    config: dict[str, Any]  # the OCI image configuration (Env, Entrypoint, Cmd, User, ...)
    labels: dict[str, str]
    size: int  # bytes in its filesystem

    def env(self) -> dict[str, str]:
        return dict(item.split("=", 1) for item in self.config.get("Env") or [])

    def command(self) -> list[str]:
        return [*(self.config.get("Entrypoint") or []), *(self.config.get("Cmd") or [])]


def tree_size(root: Path) -> int:
    out = subprocess.run(["du", "-sb", str(root)], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0])


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Image]]:
    state = image_test_dir()
    if shutil.which("buildah") is None or not (state / "bases.stamp").is_file():
        pytest.fail(MISSING)
    (state / "tmp").mkdir(parents=True, exist_ok=True)
    gopath = Path(
        subprocess.run(["go", "env", "GOPATH"], capture_output=True, text=True).stdout.strip()
    )
    gocache = subprocess.run(
        ["go", "env", "GOCACHE"], capture_output=True, text=True
    ).stdout.strip()
    revision = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    logs = tmp_path_factory.mktemp("image-build")
    containers: list[str] = []
    built: dict[str, Image] = {}
    try:
        for target in TARGETS:
            name = f"localhost/backup2gitops-test:{target}"
            # --layers: unchanged steps (the bases' apt-get, the locked requirements) come from
            # the previous run's layers in the same storage.
            buildah(
                "bud",
                "--isolation",
                "chroot",
                "--layers",
                "--build-arg",
                "PYTHON_BASE=localhost/b2g-python-base:latest",
                "--build-arg",
                "GO_BASE=localhost/b2g-go-base:latest",
                "--build-arg",
                f"REVISION={revision or 'unknown'}",
                "--build-arg",
                "CREATED=2026-12-07T00:00:00Z",
                "--volume",
                f"{gopath}/pkg/mod:/go/pkg/mod",
                "--volume",
                f"{gocache}:/root/.cache/go-build",
                "--target",
                target,
                "--tag",
                name,
                "--file",
                str(REPO / "Containerfile"),
                str(REPO),
                log=logs / f"build-{target}.log",
            )
            inspect = json.loads(buildah("inspect", "--type", "image", name))
            container = buildah("from", "--pull-never", name).strip()
            containers.append(container)
            root = Path(buildah("mount", container).strip())
            config = inspect["OCIv1"]["config"]
            built[target] = Image(
                target=target,
                name=name,
                root=root,
                config=config,
                labels=config.get("Labels") or {},
                size=tree_size(root),
            )
        # The stand-in base is bigger than python:3.12-slim (a whole pyenv CPython): what the
        # Containerfile adds on top of it is the figure that carries over to the real base.
        base = buildah("from", "--pull-never", "localhost/b2g-python-base:latest").strip()
        containers.append(base)
        base_size = tree_size(Path(buildah("mount", base).strip()))
        print(f"\nstand-in python base: {base_size / 1e6:.0f} MB")
        for image in built.values():
            added = (image.size - base_size) / 1e6
            print(f"image {image.target}: {image.size / 1e6:.0f} MB, {added:.0f} MB over the base")
        yield built
    finally:
        for container in containers:
            with contextlib.suppress(RuntimeError):
                buildah("rm", container)


def emptydir(tmp: Path) -> Path:
    """A fresh /tmp for one container, owned by its user, as a Kubernetes emptyDir is."""
    tmp.mkdir(parents=True)
    os.chown(tmp, UID, UID)
    return tmp


def in_image(
    image: Image, newroot: Path, tmp: Path, argv: Sequence[str], env: Mapping[str, str]
) -> list[str]:
    """The argv that runs ``argv`` inside ``image`` as its user, read-only, ``tmp`` at /tmp,
    with exactly the image's environment plus ``env``, in the image's working directory."""
    newroot.mkdir(parents=True, exist_ok=True)
    user = image.config.get("User") or "0"
    userspec = user if ":" in user else f"{user}:{user}"
    assignments = [f"{k}={v}" for k, v in {**image.env(), **env}.items()]
    workdir = image.config.get("WorkingDir") or "/"
    inner = ["/usr/bin/env", "-i", "-C", workdir, *assignments, *argv]
    return [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        IN_IMAGE,
        "sh",
        str(newroot),
        str(image.root),
        str(tmp),
        userspec,
        *inner,
    ]


@contextlib.contextmanager
def running(
    argv: list[str], *, log: Path, ready: Any, what: str
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        try:

            def up() -> bool:
                if process.poll() is not None:
                    raise RuntimeError(f"{what} exited {process.returncode}: {tail(log)}")
                return bool(ready())

            wait_for(up, timeout=180, what=what)
            yield process
        finally:  # only the process this started, by its pid; its mount namespace goes with it
            process.terminate()
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).status_code == 200
    except requests.RequestException:
        return False


def config_yaml(remote: str) -> str:
    return (
        "storage:\n  url: file:///tmp/backups\n"
        f"git:\n  url: {remote}\n  cache_dir: /tmp/git\n"
        "backup_complete:\n  webhook_token: {env: B2G_WEBHOOK_TOKEN}\n"
        "health:\n  status_token: {env: B2G_STATUS_TOKEN}\n"
    )


def function_env(target: str, port: int) -> dict[str, str]:
    return {
        "FUNCTION_TARGET": target,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "BACKUP2GITOPS_CONFIG": "/tmp/config.yaml",
        "B2G_WEBHOOK_TOKEN": WEBHOOK_TOKEN,
        "B2G_STATUS_TOKEN": STATUS_TOKEN,
    }


def completed_event(store: FileStore, *, cluster: str, backup_id: str) -> events.Event:
    """A native backup of one ConfigMap in ``store`` and its backup.completed."""
    from datetime import UTC, datetime

    item = BackupItem(
        group_resource="configmaps",
        namespace="shop",
        name="settings",
        obj={
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "settings", "namespace": "shop"},
            "data": {"backup": backup_id},
        },
    )
    finished = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
    written = write_native_backup(
        store,
        [item],
        cluster=cluster,
        backup_id=backup_id,
        started_at=finished,
        finished_at=finished,
    )
    return announced(store, written, cluster=cluster, backup_id=backup_id)


def owned_by_the_user(tmp: Path) -> None:
    """The backup the test wrote (FileStore writes 0600 files) belongs to the function's user,
    as its storage would be readable (and its lock folder writable) by it."""
    for path in [tmp, *tmp.rglob("*")]:
        os.chown(path, UID, UID)


def committed(bare: Path, path: str) -> str | None:
    result = subprocess.run(
        ["git", "--git-dir", str(bare), "show", f"main:{path}"],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout if result.returncode == 0 else None


def test_images_carry_their_labels_user_and_tools(images: dict[str, Image]) -> None:
    for image in images.values():
        assert image.config.get("User") == f"{UID}:{UID}"
        assert image.labels["org.opencontainers.image.source"].startswith("https://github.com/")
        assert image.labels["org.opencontainers.image.licenses"] == "Apache-2.0"
        assert image.labels["org.opencontainers.image.version"]
        assert image.labels["org.opencontainers.image.created"] == "2026-12-07T00:00:00Z"
        assert (image.root / "usr/bin/git").is_file()
        assert (image.root / "usr/local/bin/sops").is_file()
        assert list((image.root / "opt/venv/lib").glob("python3.12/site-packages/backup2gitops"))
    site = "opt/venv/lib/python3.12/site-packages"
    assert not (images["functions"].root / site / "kubernetes").exists()
    assert (images["cluster-backup"].root / site / "kubernetes").is_dir()
    assert (images["lambda"].root / site / "awslambdaric").is_dir()
    sops = images["functions"].root / "usr/local/bin/sops"
    print(f"sops: {sops.stat().st_size / 1e6:.0f} MB (static, stripped)")
    file_out = subprocess.run(
        ["file", "-b", str(sops)], capture_output=True, text=True, check=False
    )
    if file_out.returncode == 0:
        assert "statically linked" in file_out.stdout and "not stripped" not in file_out.stdout


def test_nothing_is_written_outside_tmp(images: dict[str, Image], tmp_path: Path) -> None:
    """The root is read-only and the code's bytecode is there: importing every function and
    writing a file under /app fails with EROFS, under /tmp succeeds."""
    image = images["cluster-backup"]
    tmp = emptydir(tmp_path / "tmp")
    probe = (
        "import errno, main\n"  # /app/main.py imports the five handlers
        "try:\n    open('/app/x', 'w')\nexcept OSError as e:\n    assert e.errno == errno.EROFS, e\n"
        "else:\n    raise SystemExit('the root filesystem is writable')\n"
        "open('/tmp/ok', 'w').write('ok')\n"
    )
    (tmp / "config.yaml").write_text(config_yaml("git://127.0.0.1:9/none.git"))
    env = function_env("cluster_backup", free_port())
    argv = in_image(image, tmp_path / "root", tmp, ["python", "-c", probe], env)
    result = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp / "ok").read_text() == "ok"
    assert not list(tmp.rglob("*.pyc")), "bytecode written at run time"
    assert image.env()["HOME"] == "/tmp"


@pytest.mark.parametrize("target", list(SERVED))
def test_function_answers_healthz_read_only_as_non_root(
    images: dict[str, Image], target: str, tmp_path: Path
) -> None:
    image = images[SERVED[target]]
    tmp = emptydir(tmp_path / "tmp")
    (tmp / "config.yaml").write_text(config_yaml("git://127.0.0.1:9/none.git"))
    port = free_port()
    argv = in_image(image, tmp_path / "root", tmp, image.command(), function_env(target, port))
    url = f"http://127.0.0.1:{port}"
    with running(
        argv, log=tmp_path / "log", ready=lambda: answers(url + "/healthz"), what=target
    ) as proc:
        status = Path(f"/proc/{proc.pid}/status").read_text()
        uids = next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1:]
        assert set(uids) == {str(UID)}
        assert requests.get(url + "/healthz", timeout=30).status_code == 200


def test_gitops_generator_from_the_image_commits_to_a_git_daemon(
    images: dict[str, Image], tmp_path: Path
) -> None:
    image = images["functions"]
    tmp = emptydir(tmp_path / "tmp")
    store = FileStore(tmp / "backups")
    event = completed_event(store, cluster="east", backup_id="east-1")
    owned_by_the_user(tmp)
    with git_daemon(tmp_path / "srv") as base:
        (tmp / "config.yaml").write_text(config_yaml(base + "gitops.git"))
        port = free_port()
        env = function_env("gitops_generator", port)
        argv = in_image(image, tmp_path / "root", tmp, image.command(), env)
        url = f"http://127.0.0.1:{port}"
        with running(
            argv,
            log=tmp_path / "log",
            ready=lambda: answers(url + "/healthz"),
            what="gitops_generator",
        ):
            headers, body = codec.to_http(event)
            response = requests.post(url + "/", headers=headers, data=body, timeout=300)
            assert response.status_code == 200, response.text
            reply = codec.parse_http(dict(response.headers), response.content)
            assert reply.type == events.GITOPS_GENERATED, reply
        path = "clusters/east/namespaces/shop/configmaps/settings.yaml"
        assert "east-1" in (committed(tmp_path / "srv" / "gitops.git", path) or "")


def test_lambda_image_handles_an_event_under_the_runtime_interface_emulator(
    images: dict[str, Image], tmp_path: Path
) -> None:
    rie = gopath_binary("aws-lambda-rie")
    if rie is None:
        pytest.fail(
            "no aws-lambda-rie: scripts/install-aws-test-deps.sh (install-test-deps.sh runs it)"
        )
    image = images["lambda"]
    tmp = emptydir(tmp_path / "tmp")
    store = FileStore(tmp / "backups")
    event = completed_event(store, cluster="west", backup_id="west-1")
    owned_by_the_user(tmp)
    with git_daemon(tmp_path / "srv") as base:
        (tmp / "config.yaml").write_text(config_yaml(base + "gitops.git"))
        port, api_port = free_port(), free_port()
        env = {
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{api_port}",  # what RIE gives its runtime
            "AWS_LAMBDA_FUNCTION_NAME": "gitops-generator",
            "AWS_REGION": "us-east-1",
            "BACKUP2GITOPS_CONFIG": "/tmp/config.yaml",
        }
        # the image's entrypoint (python -m awslambdaric) with the handler as its command, as
        # Lambda runs an Image function whose ImageConfig.Command names the handler
        command = [*image.config["Entrypoint"], "gitops_generator.handler.lambda_handler"]
        argv = [
            str(rie),
            "--runtime-interface-emulator-address",
            f"127.0.0.1:{port}",
            "--runtime-api-address",
            f"127.0.0.1:{api_port}",
            *in_image(image, tmp_path / "root", tmp, command, env),
        ]
        url = f"http://127.0.0.1:{port}"

        def rie_listens() -> bool:
            try:
                requests.get(url + "/", timeout=5)
                return True
            except requests.RequestException:
                return False

        with running(argv, log=tmp_path / "log", ready=rie_listens, what="aws-lambda-rie"):
            response = requests.post(
                url + "/2015-03-31/functions/function/invocations",
                json=structured(event),
                timeout=600,
            )
            assert response.status_code == 200, response.text
            result = response.json()
            assert result.get("status") == "replied", (result, tail(tmp_path / "log"))
            assert result["reply"]["type"] == events.GITOPS_GENERATED
        path = "clusters/west/namespaces/shop/configmaps/settings.yaml"
        assert "west-1" in (committed(tmp_path / "srv" / "gitops.git", path) or "")
