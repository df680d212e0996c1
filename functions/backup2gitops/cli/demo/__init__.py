"""``backup2gitops demo``: the whole flow on embedded defaults, no cluster and no server.

1. The sample cluster backup that ships with the package is written, native format, into a
   directory that stands for the bucket (archive first, manifest last).
2. The notification MinIO would POST for the manifest goes to backup-complete, whose reply is
   published to the local broker (on Knative a SinkBinding does this).
3. The broker routes by the Triggers in ``triggers/``: gitops-generator commits to a local bare
   remote, health-aggregator reports, alert-router notifies the console receiver.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from backup2gitops.cli import progress
from backup2gitops.cli.demo.flow import run_flow
from backup2gitops.cli.demo.story import print_report
from backup2gitops.cli.output import add_output_option, emit

LOG_NAME = "demo.log"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("demo", help="run the whole flow on the embedded sample")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path("backup2gitops-demo"),
        help="where the bucket, the git remote, its clone and demo.log live",
    )
    add_output_option(parser)
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help=f"the functions' JSON log lines on stderr (default: into WORKDIR/{LOG_NAME})",
    )
    parser.add_argument("--triggers", help="the Triggers directory (default: the packaged ones)")
    parser.add_argument(
        "--config",
        help="a configuration whose generator, health and alerts sections the demo uses "
        "(storage, git and clusters stay the demo's, in --workdir)",
    )
    parser.set_defaults(func=run)


@contextlib.contextmanager
def logs_into(stream: TextIO) -> Iterator[None]:
    """The functions' JSON log lines into ``stream`` while the flow runs (their handlers restored
    after). One handler per function's logger, each keeping the formatter it had."""
    from backup2gitops.cli import flow
    from backup2gitops.runtime.logs import built_logger

    saved: list[tuple[logging.Logger, list[logging.Handler]]] = []
    for service in flow.SERVICES:
        built_logger(service)  # built now, so that its handler exists to be replaced
        logger = logging.getLogger(f"backup2gitops.{service}")
        handlers = list(logger.handlers)
        saved.append((logger, handlers))
        for handler in handlers:
            replacement = logging.StreamHandler(stream)
            replacement.setFormatter(handler.formatter)
            replacement.setLevel(handler.level)
            logger.removeHandler(handler)
            logger.addHandler(replacement)
    try:
        yield
    finally:
        for logger, handlers in saved:
            for handler in list(logger.handlers):
                logger.removeHandler(handler)
            for handler in handlers:
                logger.addHandler(handler)


def run(args: argparse.Namespace) -> int:
    if shutil.which("git") is None:
        print("demo: git is not installed (not found on PATH)", file=sys.stderr)
        return 1
    workdir: Path = args.workdir
    base = None
    if args.config:
        from backup2gitops.config import ConfigError, load_config

        try:
            base = load_config(args.config)
        except ConfigError as exc:
            print(f"demo: {args.config}: invalid: {exc}", file=sys.stderr)
            return 2
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        log_path = workdir.resolve() / LOG_NAME
        log_file = None if args.verbose else log_path.open("w", encoding="utf-8")
    except OSError as exc:
        print(f"demo: cannot use --workdir {workdir}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    with contextlib.ExitStack() as stack:
        if log_file is not None:
            stack.enter_context(log_file)
            stack.enter_context(logs_into(log_file))
        reporter = stack.enter_context(
            progress.reporter("demo", enabled=progress.wanted(args.output))
        )
        report = run_flow(workdir, triggers=args.triggers, reporter=reporter, base=base)
    report["log"] = str(log_path) if log_file is not None else None
    emit(
        report,
        output=args.output,
        table=print_report,
        names=lambda r: [f"commit/{r['commit']}"] if r["commit"] else [],
    )
    return 0 if report["commit"] and not report["dead_letters"] else 1
