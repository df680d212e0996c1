"""The git commands a ``GIT_TRACE2_EVENT`` file saw the generator start itself (not the
children git started): how many processes a step costs is a fact a test can hold."""

from __future__ import annotations

import json
from pathlib import Path


def traced_argv(trace: Path) -> list[list[str]]:
    """Each command as started, its ``-c`` options and ``--git-dir`` left out."""
    commands = []
    for line in trace.read_text().splitlines():
        event = json.loads(line)
        if event["event"] == "start" and "/" not in event["sid"]:
            argv, named = event["argv"][1:], []
            while argv:
                if argv[0] in ("-c", "--git-dir"):
                    argv = argv[2:]
                    continue
                named.append(argv.pop(0))
            commands.append(named)
    return commands


def traced_commands(trace: Path) -> list[str]:
    """Each command's name (``fetch``, ``ls-tree``...)."""
    return [argv[0] for argv in traced_argv(trace)]
