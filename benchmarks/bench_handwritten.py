"""Benchmark: the hand-written pieces against the libraries that could replace them.

For each (docs/decisions.md, "Hand-written, and why"): a table of cases run against both, the
CPU time of the import in a fresh interpreter (median of N runs) and its peak RSS, and lines of
code. Not a test: it asserts nothing and prints the tables.

    PYTHONPATH=functions python benchmarks/bench_handwritten.py [--runs 15] [--eval-path DIR]

``--eval-path`` is a folder with argcomplete (``pip install --target DIR argcomplete``): not a
dependency of the project; without it its row says so.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
FUNCTIONS = REPO / "functions"
PACKAGE = FUNCTIONS / "backup2gitops"
TRACE = "0af7651916cd43dd8448eb211c80319c"
SPAN = "b7ad6b7169203331"
PYCACHE = str(Path(tempfile.gettempdir()) / "b2g-bench-pycache")


def fresh(code: str, runs: int, extra_path: str = "", setup: str = "") -> tuple[float, int]:
    """Median CPU ms (user + system: steadier than wall time on a shared machine) of ``code``
    (after ``setup``, untimed) in a fresh interpreter, and the largest peak RSS (KiB, VmHWM: the
    process's own, where ru_maxrss would carry this process's across fork and exec)."""
    path = os.pathsep.join(p for p in (str(FUNCTIONS), extra_path) if p)
    # Bytecode cached as an installed package has it (pip compiles at install), outside the tree.
    env = {**os.environ, "PYTHONPATH": path, "PYTHONPYCACHEPREFIX": PYCACHE}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    probe = (
        f"{setup}\nimport time; t = time.process_time()\n"
        f"{code}\n"
        "hwm = [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM:')][0]\n"
        "print((time.process_time() - t) * 1000, hwm)"
    )
    times, rss = [], 0
    subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, check=True)
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
        ).stdout.split()
        times.append(float(out[-2]))
        rss = max(rss, int(out[-1]))
    return statistics.median(times), rss


def lines(path: Path) -> int:
    return sum(1 for line in path.read_text().splitlines() if line.strip())


def table(header: list[str], rows: list[list[Any]]) -> None:
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")
    print()


# --------------------------------------------------------------------------- traceparent


def traceparent(runs: int) -> None:
    from opentelemetry import trace
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    from backup2gitops.core.tracecontext import parse_traceparent

    propagator = TraceContextTextMapPropagator()

    def library(value: str, state: str | None) -> str:
        carrier = {"traceparent": value} | ({"tracestate": state} if state else {})
        ctx = trace.get_current_span(propagator.extract(carrier)).get_span_context()
        if not ctx.is_valid:
            return "invalid"
        return f"{ctx.trace_id:032x}/{ctx.span_id:016x}/{ctx.trace_flags:02x} state={ctx.trace_state.to_header() or '-'}"

    def ours(value: str, state: str | None) -> str:
        ctx = parse_traceparent(value, state)
        if ctx is None:
            return "invalid"
        return f"{ctx.trace_id}/{ctx.span_id}/{ctx.flags:02x} state={ctx.tracestate or '-'}"

    good = f"00-{TRACE}-{SPAN}-01"
    cases: list[tuple[str, str, str | None]] = [
        ("valid, sampled", good, None),
        ("valid, not sampled", f"00-{TRACE}-{SPAN}-00", None),
        ("upper-case hex", good.upper(), None),
        ("version ff", f"ff-{TRACE}-{SPAN}-01", None),
        ("version 00 with a 5th field", good + "-extra", None),
        ("future version with a 5th field", f"cc-{TRACE}-{SPAN}-01-what", None),
        ("future version, junk after flags", f"cc-{TRACE}-{SPAN}-01x", None),
        ("all-zero trace id", f"00-{'0' * 32}-{SPAN}-01", None),
        ("all-zero span id", f"00-{TRACE}-{'0' * 16}-01", None),
        ("surrounding spaces", f"  {good} ", None),
        ("short trace id", f"00-{TRACE[:-1]}-{SPAN}-01", None),
        ("tracestate kept", good, "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"),
        ("tracestate duplicate key", good, "a=1,b=2,a=3"),
        ("tracestate empty members", good, "a=1,,b=2"),
        ("tracestate bad key", good, "A=1"),
        ("tracestate 33 members", good, ",".join(f"k{i}=v" for i in range(33))),
    ]
    rows = []
    for name, value, state in cases:
        a, b = ours(value, state), library(value, state)
        rows.append([name, a, b, "same" if a == b else "**differs**"])
    print("### W3C traceparent: core/tracecontext.py vs opentelemetry-api's propagator\n")
    table(["case", "core.tracecontext", "TraceContextTextMapPropagator", ""], rows)

    # What a function pays: backup2gitops.core (pydantic, the event model) is loaded anyway.
    setup = "import backup2gitops.core.bucket_layout"
    ours_ms, ours_rss = fresh("import backup2gitops.core.tracecontext", runs, setup=setup)
    lib_ms, lib_rss = fresh(
        "from opentelemetry import trace\n"
        "from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator",
        runs,
        setup=setup,
    )
    table(
        ["", "import (ms, after backup2gitops.core.bucket_layout)", "max RSS (KiB)", "lines"],
        [
            [
                "core.tracecontext",
                f"{ours_ms:.1f}",
                ours_rss,
                lines(PACKAGE / "core" / "tracecontext.py"),
            ],
            ["opentelemetry propagator", f"{lib_ms:.1f}", lib_rss, "(library)"],
        ],
    )


# --------------------------------------------------------------------------- configuration


def configuration() -> None:
    from pydantic import ValidationError
    from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

    from backup2gitops.config import Config, ConfigError, parse_config

    class FromEnvironment(Config, BaseSettings):
        model_config = SettingsConfigDict(
            env_prefix="BACKUP2GITOPS__", env_nested_delimiter="__", extra="forbid"
        )

    def ours(environ: dict[str, str], text: str = "{}") -> str:
        try:
            return describe(parse_config(text, environ))
        except ConfigError as exc:
            return f"error: {str(exc)[:90]}"

    def library(environ: dict[str, str]) -> str:
        saved = dict(os.environ)
        os.environ.update(environ)
        try:
            return describe(FromEnvironment())
        except ValidationError as exc:
            err = exc.errors()[0]
            return f"error: {'.'.join(map(str, err['loc']))}: {err['msg'][:60]}"
        except SettingsError as exc:  # pydantic-settings' own parse errors
            return f"error: {type(exc).__name__}: {str(exc)[:60]}"
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def describe(config: Any) -> str:
        return f"branch={config.git.branch} velero_buckets={config.storage.velero_buckets} verify_tls={config.storage.verify_tls}"

    cases: list[tuple[str, dict[str, str]]] = [
        ("a string field", {"BACKUP2GITOPS__GIT__BRANCH": "release"}),
        ("lower-case variable name", {"backup2gitops__git__branch": "release"}),
        ("a boolean", {"BACKUP2GITOPS__STORAGE__VERIFY_TLS": "false"}),
        ("a list, YAML flow", {"BACKUP2GITOPS__STORAGE__VELERO_BUCKETS": "[a, b]"}),
        ("a list, JSON", {"BACKUP2GITOPS__STORAGE__VELERO_BUCKETS": '["a", "b"]'}),
        ("a misspelt field", {"BACKUP2GITOPS__GIT__BRANHC": "release"}),
        ("a misspelt section", {"BACKUP2GITOPS__GTI__BRANCH": "release"}),
        ("a bad value", {"BACKUP2GITOPS__STORAGE__VERIFY_TLS": "maybe"}),
    ]
    rows = []
    for name, environ in cases:
        a, b = ours(environ), library(environ)
        rows.append([name, ", ".join(f"{k}={v}" for k, v in environ.items()), a, b])
    print("### `__` environment overrides: config.py vs pydantic-settings' EnvSettingsSource\n")
    table(
        ["case", "environment", "config.py", "pydantic-settings (env_nested_delimiter='__')"], rows
    )

    expansion = [
        ("${VAR} set", "git:\n  branch: ${BRANCH}\n", {"BRANCH": "release"}),
        ("${VAR:-default}, unset", "git:\n  branch: ${BRANCH:-main}\n", {}),
        ("${VAR} unset, no default", "git:\n  branch: ${BRANCH}\n", {}),
        ("${VAR} in a comment", "git:\n  branch: main  # not ${BRANCH}\n", {}),
    ]
    rows = [[name, repr(text), ours(env, text)] for name, text, env in expansion]
    print(
        "### `${VAR}` expansion: config.py (pydantic-settings 2.14 has no equivalent: its "
        "YamlConfigSettingsSource loads values as written)\n"
    )
    table(["case", "YAML", "config.py"], rows)


# --------------------------------------------------------------------------- completion


HAND_WRITTEN_COMPLETION = "1ddb297"
"""The last commit with the hand-written generator (cli/completion.py before shtab)."""


def hand_written_scripts() -> dict[str, str] | None:
    """The bash and fish scripts the hand-written generator makes of today's parser."""
    shown = subprocess.run(
        ["git", "show", f"{HAND_WRITTEN_COMPLETION}:functions/backup2gitops/cli/completion.py"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    if shown.returncode != 0:
        return None
    folder = Path(tempfile.mkdtemp())
    (folder / "hand_written_completion.py").write_text(shown.stdout)
    spec = importlib.util.spec_from_file_location(
        "hand_written_completion", folder / "hand_written_completion.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    shutil.rmtree(folder)
    namespace = vars(module)
    from backup2gitops.cli import build_parser

    tree = namespace["command_tree"](build_parser())
    lines_of = sum(1 for line in shown.stdout.splitlines() if line.strip())
    return {
        "bash": namespace["bash_script"](tree),
        "fish": namespace["fish_script"](tree),
        "lines": str(lines_of),
    }


def completion(runs: int, eval_path: str) -> None:
    from backup2gitops.cli.completion import script

    print("### Shell completion: the hand-written generator vs shtab (now) and argcomplete\n")
    old = hand_written_scripts()
    scripts = {"shtab (now)": (script("bash"), script("fish"), "_shtab_backup2gitops")}
    if old is not None:
        scripts = {
            f"hand-written ({HAND_WRITTEN_COMPLETION})": (
                old["bash"],
                old["fish"],
                "_backup2gitops",
            ),
            **scripts,
        }
    bash_cases = [
        "backup2gitops ",
        "backup2gitops --debug con",
        "backup2gitops config ",
        "backup2gitops demo -o ",
        "backup2gitops generate --re",
        "backup2gitops generate --config config --r",
        "backup2gitops generate --config c",
        "backup2gitops neat ",
    ]
    fish_cases = [
        "backup2gitops config ",
        "backup2gitops demo --output ",
        "backup2gitops generate --config c",
    ]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "cluster.yaml").write_text("{}\n")
        for label, (bash, fish, function) in scripts.items():
            Path(tmp, "s.bash").write_text(bash)
            Path(tmp, "s.fish").write_text(fish)
            for line in bash_cases:
                words = line.split(" ")
                program = (
                    f"source s.bash\nCOMP_WORDS=({' '.join(repr(w) for w in words)})\n"
                    f"COMP_CWORD={len(words) - 1}\nCOMP_LINE={line!r}\nCOMP_POINT={len(line)}\n"
                    f'{function} backup2gitops "{words[-1]}" "{words[-2]}"\nprintf "%s\\n" "${{COMPREPLY[@]}}"\n'
                )
                out = subprocess.run(
                    ["bash", "--norc", "--noprofile", "-c", program],
                    cwd=tmp,
                    capture_output=True,
                    text=True,
                    check=False,
                )
                rows.append(
                    [
                        label,
                        "bash",
                        f"`{line}`",
                        " ".join(sorted(out.stdout.split())) or "(nothing)",
                    ]
                )
            if shutil.which("fish"):
                for line in fish_cases:
                    out = subprocess.run(
                        ["fish", "--no-config", "-c", f"source s.fish; complete -C {line!r}"],
                        cwd=tmp,
                        capture_output=True,
                        text=True,
                        check=False,
                        env={**os.environ, "HOME": tmp, "XDG_CONFIG_HOME": tmp},
                    )
                    offered = sorted(entry.split("\t")[0] for entry in out.stdout.splitlines())
                    rows.append([label, "fish", f"`{line}`", " ".join(offered) or "(nothing)"])
    table(["", "shell", "after", "offered"], rows)

    summary = []
    if old is not None:
        summary.append(
            [
                f"hand-written ({HAND_WRITTEN_COMPLETION})",
                "bash, zsh (through bashcompinit), fish",
                "static script",
                old["lines"],
            ]
        )
    summary.append(
        [
            "shtab 1.13 (now)",
            "bash, zsh (native _arguments), fish, tcsh, powershell",
            "static script",
            f"{lines(PACKAGE / 'cli' / 'completion.py')} (cli/completion.py)",
        ]
    )
    if eval_path:
        # argcomplete completes by running the program on every TAB: the CPU of that run.
        tab = (
            "import io, os, argcomplete\n"
            "os.environ.update(_ARGCOMPLETE='1', COMP_LINE='backup2gitops con', COMP_POINT='17', _ARGCOMPLETE_IFS='\\n')\n"
            "from backup2gitops.cli import build_parser\n"
            "out = io.StringIO()\n"
            "argcomplete.autocomplete(build_parser(), exit_method=lambda code: None, output_stream=out)\n"
        )
        tab_ms, tab_rss = fresh(tab, runs, eval_path)
        summary.append(
            [
                "argcomplete 3.7",
                "bash, zsh, fish, tcsh, powershell",
                f"runs Python on every TAB: {tab_ms:.0f} CPU ms after start-up, {tab_rss} KiB",
                "(library)",
            ]
        )
    else:
        summary.append(
            ["argcomplete", "(pass --eval-path to measure)", "runs Python on every TAB", ""]
        )
    table(["", "shells", "a TAB", "lines"], summary)


# --------------------------------------------------------------------------- logger


STANDIN = """# Powertools' Logger replaced by the standard library, for the A/B import measurement only.
import json, logging, sys


class Logger:
    def __init__(self, service="", level="INFO", logger_handler=None):
        self._logger = logging.getLogger(service)
        self._logger.addHandler(logger_handler or logging.StreamHandler(sys.stderr))
        self._logger.setLevel(level)

    def __getattr__(self, name):
        return getattr(self._logger, name)
"""


def logger(runs: int) -> None:
    """A/B: each function's handler imported with Powertools, then with a stand-in package
    ``aws_lambda_powertools`` that has only a standard-library Logger (what runtime/logs.py would
    use instead on Knative). Alternated run by run, so the machine's load hits both alike."""
    print("### Powertools' Logger on Knative: each function's import, with it and without it\n")
    with tempfile.TemporaryDirectory() as tmp:
        stub = Path(tmp) / "aws_lambda_powertools"
        stub.mkdir()
        (stub / "__init__.py").write_text(STANDIN)
        rows = []
        for function in (
            "backup_complete",
            "gitops_generator",
            "cluster_backup",
            "health_aggregator",
            "alert_router",
        ):
            code = f"import {function}.handler\nimport sys\nprint(len(sys.modules), 'botocore' in sys.modules)"
            with_ms, without_ms, with_rss, without_rss = [], [], 0, 0
            for _ in range(runs):
                ms, rss = fresh(code, 1)
                with_ms.append(ms)
                with_rss = max(with_rss, rss)
                ms, rss = fresh(
                    code, 1, extra_path="", setup=f"import sys; sys.path.insert(0, {tmp!r})"
                )
                without_ms.append(ms)
                without_rss = max(without_rss, rss)
            counts = []
            for setup in ("", f"import sys; sys.path.insert(0, {tmp!r})"):
                out = subprocess.run(
                    [sys.executable, "-c", f"{setup}\n{code}"],
                    env={**os.environ, "PYTHONPATH": str(FUNCTIONS)},
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout.split()
                counts.append(f"{out[-2]} (botocore: {out[-1]})")
            rows.append(
                [
                    function,
                    f"{statistics.median(with_ms):.0f} / {statistics.median(without_ms):.0f}",
                    f"{with_rss} / {without_rss}",
                    f"{counts[0]} / {counts[1]}",
                ]
            )
    table(
        [
            "function",
            "CPU ms to import, with / without",
            "max RSS KiB, with / without",
            "modules, with / without",
        ],
        rows,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--eval-path", default="")
    parser.add_argument("--only", choices=["traceparent", "configuration", "completion", "logger"])
    args = parser.parse_args()
    parts: dict[str, Callable[[], None]] = {
        "traceparent": lambda: traceparent(args.runs),
        "configuration": configuration,
        "completion": lambda: completion(args.runs, args.eval_path),
        "logger": lambda: logger(args.runs),
    }
    for name, part in parts.items():
        if args.only in (None, name):
            part()


if __name__ == "__main__":
    main()
