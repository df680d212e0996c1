"""Turning one backup into one commit (gitops-generator and ``backup2gitops generate``):
``plan`` (the figures, the claims, the result and the refusals), ``pipeline`` (items -> clean
objects -> files), ``reading`` (the archive read once, only changed members decoded: the member
cache), ``unchanged`` (the committed backup again), ``settings`` (what else shapes the output:
the cache's key), ``job`` (``GenerationJob``: the publish loop), ``attempt`` (one attempt's
commit) and ``decoding`` (its branch that decodes members and streams their files).

The package imports the job and the figures with itself; ``pipeline``'s names with the first
one asked for (``core.lazy_exports``): an unchanged backup decodes nothing and imports none of it.
"""

from typing import TYPE_CHECKING

from backup2gitops.core.lazy_exports import lazy_exports
from backup2gitops.generation.job import GenerationJob, backoff, generate
from backup2gitops.generation.plan import (
    BackupRefused,
    Claims,
    CommitResult,
    Encrypt,
    Outcome,
    Plan,
    commit_message,
    guarded_tree,
)

if TYPE_CHECKING:
    from backup2gitops.generation.pipeline import committed_document, placed_objects, plan_backup
else:  # cleaning's rules and PyYAML with them (``core.lazy_exports``)
    __getattr__ = lazy_exports(
        __name__,
        {
            "committed_document": "pipeline",
            "placed_objects": "pipeline",
            "plan_backup": "pipeline",
        },
    )

__all__ = [
    "BackupRefused",
    "Claims",
    "CommitResult",
    "Encrypt",
    "GenerationJob",
    "Outcome",
    "Plan",
    "backoff",
    "commit_message",
    "committed_document",
    "generate",
    "guarded_tree",
    "placed_objects",
    "plan_backup",
]
