"""``backup2gitops completion bash|zsh|fish``: a shell completion script, made by shtab from the parser.

shtab turns the argparse parser ``build_parser`` returns into a static script: the verbs, their
sub-verbs (``config validate``), their options and the choices of an option (``-o table``) come
from the same parser that reads the command line, so they cannot drift apart, and a TAB never
runs Python (instant, unlike argcomplete, which runs the program on every TAB).

It replaced a generator written here (~200 lines, bash/zsh/fish): run against both on the same
cases (benchmarks/bench_handwritten.py; docs/decisions.md, "Hand-written, and why") shtab offers
the same words in bash and fish, and zsh gets a native ``_arguments`` completion with each
option's help instead of the bash function through ``bashcompinit``. The one thing shtab does
not do by itself is kept here: an option that takes a value without choices, and a positional
argument without choices, complete file names (``--config``, ``neat FILE``), as before.

- bash: ``source <(backup2gitops completion bash)`` in ``~/.bashrc``;
- zsh: ``eval "$(backup2gitops completion zsh)"`` after ``compinit`` in ``~/.zshrc`` (or the
  script saved as ``_backup2gitops`` in a folder of ``$fpath``);
- fish: ``backup2gitops completion fish > ~/.config/fish/completions/backup2gitops.fish``.
"""

from __future__ import annotations

import argparse
import sys

PROG = "backup2gitops"
SHELLS = ("bash", "zsh", "fish")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "completion",
        help="print a shell completion script (bash, zsh, fish)",
        description="Print a completion script. bash: source <(backup2gitops completion bash) "
        'in ~/.bashrc; zsh: eval "$(backup2gitops completion zsh)" after compinit in ~/.zshrc; '
        "fish: backup2gitops completion fish > ~/.config/fish/completions/backup2gitops.fish",
    )
    parser.add_argument("shell", choices=SHELLS, help="the shell to complete in")
    parser.set_defaults(func=run)


def complete_file_names(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """``parser`` with every value that is not a choice completed as a file name (shtab offers
    nothing for them unless an action says ``complete = shtab.FILE``)."""
    import shtab

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                complete_file_names(sub)
        elif (
            action.nargs != 0
            and not action.choices
            and action.help != argparse.SUPPRESS
            and not hasattr(action, "complete")
        ):
            action.complete = shtab.FILE  # type: ignore[attr-defined]
    return parser


def script(shell: str) -> str:
    import shtab

    from backup2gitops.cli import build_parser

    return shtab.complete(complete_file_names(build_parser()), shell=shell)


def run(args: argparse.Namespace) -> int:
    sys.stdout.write(script(args.shell))
    return 0
