"""The ``backup2gitops`` command: a thin shell over the functions and the core.

Each verb lives in its own module with ``register(subparsers)``; this module only assembles them.
The CLI is the composition root: it is the one place that may import every function package.

argparse, not click: the verbs are argparse already, tests build parsers from each verb's
``register``, and the standard library keeps ``--help`` free of a dependency's import cost.
Only the verb being run is imported (``backup2gitops --help`` loads no verb module: the names
and one-line helps below stand in for the others; a verb's run builds its own parser alone), and
verb modules import their heavy dependencies inside ``run``.

Exit codes, for every verb: 0 success, 1 the work failed (storage, git, a function's error),
2 usage (bad arguments or an invalid configuration). Errors are one line on stderr, usage
errors too (``Parser``);
``--debug`` re-raises so that Python prints the traceback.
"""

from __future__ import annotations

import argparse
import difflib
import gc
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2

VERBS = (
    "demo",
    "serve",
    "generate",
    "backup",
    "neat",
    "config_cmd",
    "schemas",
    "status",
    "completion",
)

# verb -> (module, one-line help); the help is the one each module's register() gives
# (tests/functional/test_cli_errors.py keeps the two equal).
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("demo", "run the whole flow on the embedded sample"),
    "serve": ("serve", "serve functions over HTTP (all: with a broker)"),
    "generate": ("generate", "write one backup into a GitOps repository"),
    "backup": ("backup", "back up a live cluster into a bucket"),
    "neat": ("neat", "clean Kubernetes manifests (status, server fields, defaults)"),
    "config": ("config_cmd", "work with the configuration file"),
    "schemas": ("schemas", "write the JSON Schemas (event catalog, configuration)"),
    "status": ("status", "the flow's health and each cluster's facts"),
    "completion": ("completion", "print a shell completion script (bash, zsh, fish)"),
}

EPILOG = "exit status: 0 success, 1 failure, 2 usage or invalid configuration"


def version() -> str:
    from importlib import metadata

    try:
        return metadata.version("backup2gitops")
    except metadata.PackageNotFoundError:  # run from a checkout that is not installed
        return "unknown"


class _Version(argparse.Action):
    """argparse's ``version`` action, reading the version only when asked (the package's
    metadata costs ~15 ms to import and search, on every run otherwise)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        kwargs.setdefault("help", "print the version")
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        parser._print_message(f"{parser.prog} {version()}\n", sys.stdout)
        parser.exit()


class Parser(argparse.ArgumentParser):
    """argparse's parser, with a usage error on one line (kubectl's habit) instead of the usage
    block followed by the error; ``--help`` still prints the usage. Every verb's parser is one
    (``add_subparsers`` makes its parsers of the parent's class).

    Abbreviations are refused (``--rep`` is not ``--repo``: a script must not silently mean
    another option when one is added), and a word that is not one of the choices (a verb,
    ``-o``'s formats) is answered with the closest one, as kubectl and git do."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        choices = action.choices
        if choices is None or value in choices:
            return
        names = [str(choice) for choice in choices]
        close = difflib.get_close_matches(str(value), names, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise argparse.ArgumentError(
            action, f"invalid choice: {value!r} ({hint}choose from {', '.join(names)})"
        )

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (--help shows the usage)\n")


def _selected(argv: Sequence[str]) -> str | None:
    """The verb on the command line (the first word that is not an option), if any."""
    for word in argv:
        if not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


def _alone(argv: Sequence[str], verb: str | None) -> bool:
    """Whether ``verb``'s parser is the only one ``argv`` can reach: it names the verb with
    nothing but ``--debug`` before it (a ``--help`` or ``--version`` there is the top level's,
    which lists every verb)."""
    return verb is not None and all(word == "--debug" for word in argv[: list(argv).index(verb)])


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; with ``argv``, only the verb it names is imported (all of them without), and
    when nothing but ``--debug`` comes before that verb, the others are not even named."""
    parser = Parser(
        prog="backup2gitops",
        description="Kubernetes backups in MinIO/S3 -> a clean, reviewable GitOps repository.",
        epilog=EPILOG,
    )
    parser.add_argument("--version", action=_Version, help="print the version")
    parser.add_argument(
        "--debug", action="store_true", help="on an error, print the traceback (any verb)"
    )
    subparsers = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    selected = None if argv is None else _selected(argv)
    wanted = set(COMMANDS) if argv is None else {selected}
    alone = argv is not None and _alone(argv, selected)
    for verb, (module, help_text) in COMMANDS.items():
        if verb in wanted:
            importlib.import_module(f"backup2gitops.cli.{module}").register(subparsers)
        elif not alone:
            subparsers.add_parser(verb, help=help_text)
    for verb, sub in subparsers.choices.items():
        sub.epilog = sub.epilog or EPILOG
        if verb in wanted:  # --debug also after the verb (SUPPRESS: never overrides the first)
            sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS)
    return parser


def describe(exc: BaseException) -> tuple[str, int]:
    """One line for an error that escaped a verb, and the exit status it means."""
    from backup2gitops.config import ConfigError
    from backup2gitops.core.errors import Backup2GitopsError

    text = exc.message if isinstance(exc, Backup2GitopsError) else str(exc)
    message = (text.strip().splitlines() or [type(exc).__name__])[0]  # one line, always
    cause = exc.__cause__
    if type(cause).__name__ == "NoCredentialsError":
        message += (
            " (no S3 credentials: set storage.access_key/secret_key in --config, "
            "or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; a MinIO needs storage.endpoint_url)"
        )
    if isinstance(exc, ConfigError):
        return message, EXIT_USAGE
    if isinstance(exc, FileNotFoundError) and exc.filename == "git":
        return "git is not installed (not found on PATH)", EXIT_FAILURE
    if isinstance(exc, OSError) and exc.strerror and exc.filename:
        return f"{exc.filename}: {exc.strerror}", EXIT_FAILURE  # not "[Errno 2] ..."
    if isinstance(exc, OSError | Backup2GitopsError):
        return message, EXIT_FAILURE  # the project's errors say what failed in their message
    return f"{type(exc).__name__}: {message}", EXIT_FAILURE


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(argv).parse_args(argv)
    try:
        status: int = args.func(args)
        sys.stdout.flush()  # here, so that a closed pipe is seen by the handler below
    except BrokenPipeError:
        # the reader went away (``schemas | head``): what it wanted, it has; say nothing more
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        print(f"{args.verb}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        message, status = describe(exc)
        print(f"{args.verb}: {message} (--debug shows the traceback)", file=sys.stderr)
        return status
    return status


def console(argv: Sequence[str] | None = None) -> int:
    """The command as its own process runs it (the ``backup2gitops`` console script,
    ``python -m backup2gitops``): ``main``, then every object still tracked frozen
    (``gc.freeze``) for the exit, which follows at once.

    The interpreter's finalization collects every tracked object, more than once, before the
    process's memory goes back to the system whole anyway: ~25 ms after a 10,000-object
    ``generate`` (docs/performance.md, session 12). Frozen objects are still freed by their
    reference counts as the modules are torn down; only a collection at exit is skipped, and
    nothing of the CLI's waits for one to close a file, a process or a socket
    (``tests/functional/test_cli_exit.py``). ``main`` freezes nothing: tests call it in their
    own process.
    """
    status = main(argv)
    gc.freeze()
    return status


if __name__ == "__main__":
    sys.exit(console())
