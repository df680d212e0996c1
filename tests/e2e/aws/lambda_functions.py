"""The stack's functions the way Lambda runs them: ``sam build``'s artifacts under the Runtime
Interface Emulator (``aws-lambda-rie``) in front of ``python3.12 -m awslambdaric <Handler>``.

``sam_build(cache)`` runs ``sam build`` once per digest of template.yaml, the layers' requirements
and functions/ (cached under ``cache``). ``run_function`` starts one function: the built function
folder as task root and working directory, each of its layers' ``python/`` on ``PYTHONPATH`` as
Lambda's /opt/python, then the runtime folder (awslambdaric and boto3 for python3.12, standing for
Lambda's /var/runtime), then the call recorder; ``HOME`` unset; ``PATH`` only the folders of the
layers' ``bin/`` (Lambda's /opt/bin: the git layer) -- no /usr/bin; exactly the translated
template's environment for that function, plus what Lambda itself sets (AWS_LAMBDA_*, AWS_REGION,
the role's credentials -- fake ones here) and AWS_ENDPOINT_URL pointing at moto's server.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from tests.e2e.aws.cloudformation import REGION, REPO, Stack
from tests.e2e.aws.iam import CALL_RECORDER
from tests.e2e.servers import gopath_binary, tail, wait_for
from tests.recording import free_port

RIE_MISSING = (
    "no aws-lambda-rie, aws-sam-cli or awslambdaric: scripts/install-aws-test-deps.sh "
    "(scripts/install-test-deps.sh runs it)"
)


def tools_dir() -> Path:
    """Where scripts/install-aws-test-deps.sh puts the sam venv and the python3.12 runtime."""
    if os.environ.get("B2G_AWS_TOOLS"):
        return Path(os.environ["B2G_AWS_TOOLS"])
    rie = gopath_binary("aws-lambda-rie")
    base = rie.parent if rie else Path.home() / "go" / "bin"
    return (base / ".." / "aws-test-tools").resolve()


def python312() -> Path | None:
    venv = tools_dir() / "sam" / "bin" / "python3.12"
    if not venv.exists():
        return None
    # the venv's interpreter is a link to the real one; the function runs the real one
    return venv.resolve()


def available() -> bool:
    return (
        gopath_binary("aws-lambda-rie") is not None
        and (tools_dir() / "sam" / "bin" / "sam").exists()
        and (tools_dir() / "lambda-runtime" / "awslambdaric").is_dir()
        and python312() is not None
    )


def source_digest() -> str:
    digest = hashlib.sha256()
    files = [REPO / "template.yaml", REPO / "requirements-lambda.txt"]
    files += sorted((REPO / "layer-kubernetes").glob("*"))
    files += sorted(
        p
        for p in (REPO / "functions").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and not p.name.endswith(".pyc")
    )
    for path in files:
        digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def sam_build(cache: Path) -> Path:
    """``sam build`` of template.yaml into ``cache/<digest>/build`` (reused while the digest
    matches); returns that build folder."""
    target = cache / source_digest()
    build = target / "build"
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another session building the same sources waits
        if not (target / "done").exists():
            _build(target, build)
            builds = sorted(
                (d for d in cache.iterdir() if (d / "done").exists()),
                key=lambda d: (d / "done").stat().st_mtime,
            )
            for old in builds[:-3]:  # ~150 MB each: the three newest stay
                shutil.rmtree(old, ignore_errors=True)
    return build


def _build(target: Path, build: Path) -> None:
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    sam_bin = tools_dir() / "sam" / "bin"
    env = {
        **os.environ,
        "PATH": f"{sam_bin}{os.pathsep}{os.environ['PATH']}",  # its python3.12 first
        "SAM_CLI_TELEMETRY": "0",
        "SAM_CLI_CONTAINER_CONNECTION_TIMEOUT": "1",
    }
    log = target / "sam-build.log"
    with log.open("wb") as out:
        proc = subprocess.run(
            [
                str(sam_bin / "sam"),
                "build",
                "--template-file",
                str(REPO / "template.yaml"),
                "--build-dir",
                str(build),
                "--base-dir",
                str(REPO),
                "--parameter-overrides",
                "GitRepositoryUrl=https://example.invalid/x.git ClusterName=x",
            ],
            cwd=target,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
            timeout=1800,
        )
    if proc.returncode != 0:
        raise RuntimeError(f"sam build failed ({proc.returncode}): {tail(log, 40)}")
    (target / "done").write_text("ok\n")


def tree_size(path: Path) -> int:
    """Bytes of the files under ``path`` as built (the __pycache__ the runs here wrote is not
    counted: Lambda's /var/task and /opt are read-only)."""
    return sum(
        p.stat().st_size
        for p in path.rglob("*")
        if p.is_file() and not p.is_symlink() and "__pycache__" not in p.parts
    )


@dataclass(frozen=True)
class LambdaFunction:
    logical: str
    name: str
    url: str
    log: Path

    def invoke(self, event: Any, *, timeout: float = 900) -> Any:
        """A synchronous invoke through RIE; the function's result, or its error document
        (``errorType``, ``errorMessage``) when it raised."""
        response = requests.post(
            f"{self.url}/2015-03-31/functions/function/invocations",
            data=json.dumps(event),
            timeout=timeout,
        )
        response.raise_for_status()
        return response.json()


def function_environment(
    stack: Stack, logical: str, *, endpoint: str, path_dirs: list[Path], extra: Mapping[str, str]
) -> dict[str, str]:
    props = stack.resolve(stack.template["Resources"][logical]["Properties"])
    variables = {k: str(v) for k, v in props.get("Environment", {}).get("Variables", {}).items()}
    name = stack.physical[logical]
    return {
        **variables,
        # what Lambda sets
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(props.get("MemorySize", 128)),
        "AWS_LAMBDA_FUNCTION_TIMEOUT": str(props.get("Timeout", 3)),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{props['Runtime']}",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "ASIAFAKEFORTESTS0001",
        "AWS_SECRET_ACCESS_KEY": "fake-secret-for-tests",
        "AWS_SESSION_TOKEN": "fake-session-token",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "PATH": os.pathsep.join(str(p) for p in path_dirs),
        # the emulator
        "AWS_ENDPOINT_URL": endpoint,
        **extra,
    }


@contextlib.contextmanager
def run_function(
    stack: Stack,
    logical: str,
    *,
    build: Path,
    endpoint: str,
    layer_dirs: Mapping[str, Path],
    call_log: Path,
    log_dir: Path,
    extra_env: Mapping[str, str] | None = None,
) -> Iterator[LambdaFunction]:
    """One function of ``stack`` under RIE + awslambdaric, from ``build`` (sam build's folder).
    ``layer_dirs`` maps a layer ARN that is not built here (GitLayerArn) to a folder standing
    for it; ``extra_env`` is what the test adds beyond Lambda's own (a CA bundle)."""
    props = stack.resolve(stack.template["Resources"][logical]["Properties"])
    task_root = build / logical
    built_layers = {  # the translated layer's logical id is the template's + a hash
        k: build / re.sub(r"[0-9a-f]{10}$", "", k)
        for k in stack.resources("AWS::Lambda::LayerVersion")
    }
    layers = [
        next((d for k, d in built_layers.items() if stack.physical[k] == arn), None)
        or layer_dirs[arn]
        for arn in props.get("Layers", [])
    ]
    pythonpath = [task_root] + [layer / "python" for layer in layers]
    pythonpath += [tools_dir() / "lambda-runtime", CALL_RECORDER]
    path_dirs = [layer / "bin" for layer in layers if (layer / "bin").is_dir()]
    env = function_environment(
        stack,
        logical,
        endpoint=endpoint,
        path_dirs=path_dirs,
        extra={
            "PYTHONPATH": os.pathsep.join(str(p) for p in pythonpath),
            "LAMBDA_TASK_ROOT": str(task_root),
            "B2G_AWS_CALL_LOG": str(call_log),
            **(extra_env or {}),
        },
    )
    port, api_port = free_port(), free_port()
    rie = gopath_binary("aws-lambda-rie")
    assert rie is not None, RIE_MISSING
    argv = [
        str(rie),
        "--runtime-interface-emulator-address",
        f"127.0.0.1:{port}",
        "--runtime-api-address",
        f"127.0.0.1:{api_port}",
        str(python312()),
        "-m",
        "awslambdaric",
        props["Handler"],
    ]
    log = log_dir / f"{logical}.log"
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:  # RIE answers once it listens; the function starts on the first invoke
            requests.get(f"{url}/", timeout=10)
            return True
        except requests.RequestException:
            return False

    with log.open("wb") as out:
        process = subprocess.Popen(
            argv, env=env, cwd=task_root, stdout=out, stderr=subprocess.STDOUT
        )
        try:

            def up() -> bool:
                if process.poll() is not None:
                    raise RuntimeError(f"RIE {logical} exited: {tail(log)}")
                return ready()

            wait_for(up, timeout=120, what=f"RIE {logical}")
            yield LambdaFunction(logical, stack.physical[logical], url, log)
        finally:  # only the process this started, by its pid (RIE stops its runtime)
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


__all__ = [
    "RIE_MISSING",
    "LambdaFunction",
    "available",
    "python312",
    "run_function",
    "sam_build",
    "source_digest",
    "tools_dir",
    "tree_size",
]
