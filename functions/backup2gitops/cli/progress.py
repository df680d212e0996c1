"""Progress on stderr for work that can take more than a second (``generate``, ``demo``, ``backup``).

Shown only when stderr is a terminal and the result is for a person (``-o table``): never in a
pipe, a log file or CI, and never with ``-o json|yaml``, whose readers are programs. Drawn with
rich (a spinner, what is being done, a count and the elapsed time; a bar when the total is
known), on stderr so that stdout stays the result, and ``transient``: it is gone when the work
ends and only the result stays. rich is imported only when a bar is drawn, never for
``--help`` or a non-terminal run.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID


def wanted(output: str | None, *, stream: TextIO | None = None) -> bool:
    """True when progress should be drawn: a terminal, and output for a person."""
    stream = stream if stream is not None else sys.stderr
    isatty = getattr(stream, "isatty", None)
    return output in (None, "table") and bool(isatty and isatty())


class Reporter:
    """What a verb tells while it works: a step, and how many items of how many."""

    def step(self, text: str) -> None:
        """Now doing ``text``."""

    def items(self, done: int, *, total: int | None = None) -> None:
        """``done`` items (of ``total``) so far."""


class RichReporter(Reporter):
    def __init__(self, progress: Progress, task: TaskID, *, verb: str) -> None:
        self._progress = progress
        self._task = task
        self._verb = verb

    def step(self, text: str) -> None:
        self._progress.update(self._task, description=f"{self._verb}: {text}")

    def items(self, done: int, *, total: int | None = None) -> None:
        if total is not None:
            self._progress.update(self._task, completed=done, total=total)
        else:
            self._progress.update(self._task, completed=done)


@contextlib.contextmanager
def reporter(verb: str, *, enabled: bool, first_step: str = "starting") -> Iterator[Reporter]:
    """A ``Reporter`` drawing on stderr when ``enabled``, else one that draws nothing."""
    if not enabled:
        yield Reporter()
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(f"{verb}: {first_step}", total=None)
        yield RichReporter(progress, task, verb=verb)
