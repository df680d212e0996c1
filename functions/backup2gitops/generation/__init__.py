"""Turning one backup into one commit (gitops-generator and ``backup2gitops generate``):
``pipeline`` (items -> clean objects -> files, with the figures, claims and refusals),
``reading`` (the archive read once, only changed members decoded: the member cache),
``settings`` (what else shapes the output: the cache's key) and ``job`` (``GenerationJob``:
the pipeline fed to a repository, and the publish loop)."""

from backup2gitops.generation.job import GenerationJob, backoff, generate
from backup2gitops.generation.pipeline import (
    BackupRefused,
    Claims,
    CommitResult,
    Encrypt,
    Outcome,
    Plan,
    commit_message,
    committed_document,
    guarded_tree,
    placed_objects,
    plan_backup,
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
