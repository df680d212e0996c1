"""Turning one backup into one commit: the generation job, shared by gitops-generator and
``backup2gitops generate`` (``GenerationJob.configured``: built once from the backup, the
configuration and the environment).

    archive stream --(core.archive: members, hashed)--> changed members --(core.cleaning)-->
      clean objects or exclusions --(core.repo_layout / core.repo_plan)--> files (unchanged
      members: the committed file) --(adapters.git: ChangeSet)--> commit + push

``GenerationJob.run`` owns the publish loop, top to bottom: open the tip (``Repository.open``),
read its facts (the backup commits and their trailers), ask the core's guards
(``core.safeguards``: already there, older than the tip, too many deletions, too few items),
stream the files into a change set, commit (one attempt's commit on the tip:
``generation.attempt``), push; a push that lost a race to another generator
opens the tip again and asks again (the order check included), with a jittered backoff, for up
to ``git.race_window_s``. The adapter reads and writes; the core decides; the job decides what
to do next.

The archive is read once per attempt, start to end (``generation.reading``): every member is
hashed and spooled to a temporary file, the StatefulSets, CRDs and HPAs cleaning needs to know
about the others are decoded on the way into a ``BackupIndex``, and then only the members whose
bytes, settings or cross-object facts changed since the tip's commit are decoded, cleaned and
serialised; the others keep the file committed for them (the member cache,
``core.member_cache``, committed beside the files at ``clusters/<cluster>/.backup2gitops/``).
A backup that is the committed one again (same members, settings and facts, on the folder the
commit left) makes no file at all: its figures are the commit's (``generation.unchanged``).
The figures and the guards count every member either way. Memory holds one member, a small
record per member and the set of paths, whatever the backup's size. ``plan_backup`` is the
same pipeline kept in memory, for tests and benchmarks.
"""

from __future__ import annotations

import contextlib
import dataclasses
import random
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from backup2gitops.adapters.git import Folder, GitError, Repository, Tip, blob_id
from backup2gitops.core import safeguards, units
from backup2gitops.core.archive import ArchiveLimits
from backup2gitops.core.integrity import CheckedReader
from backup2gitops.core.safeguards import BackupMark
from backup2gitops.generation.attempt import Made, commit_on
from backup2gitops.generation.plan import (
    BackupRefused,
    Claims,
    CommitResult,
    Encrypt,
    Outcome,
    Plan,
    Previous,
    Transform,
)
from backup2gitops.generation.reading import MemberPass, Reading
from backup2gitops.generation.settings import settings_digest

if TYPE_CHECKING:
    from backup2gitops.config import Config
    from backup2gitops.core.cleaning import CleaningPolicy
    from backup2gitops.core.drift import Comparison


def backoff(attempt: int) -> float:
    """Seconds to wait before ``attempt`` (2, 3, ...): full jitter over an exponential cap, so
    the generators that lost a race do not all come back at once."""
    return random.uniform(0, min(5.0, 0.05 * 2 ** min(attempt, 10)))  # noqa: S311


@dataclass(eq=False)  # a job is itself: never compared
class GenerationJob:
    """One backup to turn into one commit on ``remote``, and how (see the module docstring).

    ``archive_size`` (and ``archive_sha256``) are checked while the archive streams
    (``core.integrity``): a mismatch raises IntegrityError before the commit. ``claims`` feed
    the guards. With ``encrypt`` (sops), each Secret is compared with the file committed at its
    path on the tip and keeps its bytes when unchanged, and ``.sops.yaml`` at the repository's
    root gets this cluster's creation rule (``core.sops_files``). ``push_branch`` (review mode)
    pushes to a branch of its own; ``plan_noop`` reads the archive for the figures even when
    the backup is already on the branch (the CLI reports them). ``progress`` is told how many
    items were read so far (from 1 again on a retried attempt).
    """

    archive: Callable[[], BinaryIO]
    remote: Repository
    cluster: str
    backup_id: str
    policy: CleaningPolicy
    transforms: Sequence[Transform] = ()
    encrypt: Encrypt | None = None
    plan_noop: bool = False
    record_unchanged: bool = True
    push_branch: str | None = None
    archive_size: int | None = None
    archive_sha256: str | None = None
    claims: Claims = field(default_factory=Claims)
    limits: ArchiveLimits | None = None
    progress: Callable[[int], None] | None = None
    layout: units.Layout | None = None
    dry_run: bool = False
    """Decide, guard and count as for the commit, then make none and push nothing."""
    diff: bool = False
    """With ``dry_run``: keep the changed files' bytes (``CommitResult.changes``)."""
    push_attempts: int = 5
    """Pushes that fail for another reason than a lost race (git_unavailable) before giving up."""
    race_window_s: float = 600.0
    """How long lost races are tried again (each one means another generator's push landed)."""
    member_cache: bool = True
    """Keep the per-member digest cache beside each commit and reuse it (``generation.reading``);
    False decodes every member and writes no cache."""
    compare: bool = False
    """Compare the commit with its parent for drift as it is written (``Outcome.compared``,
    ``core.drift.TipComparison``): the objects it changes, as planned, not read back from git."""
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    @classmethod
    def configured(
        cls,
        config: Config,
        *,
        archive: Callable[[], BinaryIO],
        remote: Repository,
        cluster: str,
        backup_id: str,
        claims: Claims,
        environ: Mapping[str, str] | None = None,
        **options: Any,
    ) -> GenerationJob:
        """The job ``config`` asks for: cleaning, transforms, encryption, limits, units, the
        deletion share, push attempts and race window. ``options``: the other fields
        (``archive_size``, ``push_branch``, ``plan_noop``, ``progress``...)."""
        from backup2gitops.transforms import load_transforms

        generator = config.generator
        encrypt = None
        if generator.encrypts:  # sops (and PyYAML) only for a cluster that encrypts
            from backup2gitops.adapters.sops import encrypter_for

            encrypt = encrypter_for(generator, environ=environ)
        return cls(
            archive=archive,
            remote=remote,
            cluster=cluster,
            backup_id=backup_id,
            policy=generator.cleaning,
            transforms=load_transforms(generator.transforms),
            encrypt=encrypt,
            record_unchanged=generator.record_unchanged,
            claims=dataclasses.replace(claims, max_deletion_share=generator.max_deletion_share),
            limits=config.archive_limits.limits(),
            layout=config.layout(),
            push_attempts=config.git.push_attempts,
            race_window_s=config.git.race_window_s,
            **options,
        )

    @property
    def root(self) -> PurePosixPath:
        return PurePosixPath("clusters") / self.cluster

    def run(self) -> Outcome:
        """Publish the backup as one commit: the loop of the module docstring."""
        started = self.clock()
        deadline = started + self.race_window_s
        failed_pushes = 0
        redo: Made | None = None
        reading: Reading | None = None
        attempt = 0
        while True:
            attempt += 1
            if attempt > 1:
                self.sleep(backoff(attempt))
            with self.remote.open() as tip:
                done = self._already_there(tip)
                if done is not None:
                    if self.plan_noop and reading is None:
                        # the figures of every member, decoded: the decode branch and what it
                        # needs (cleaning's rules, PyYAML...) are imported where it starts
                        from backup2gitops.generation import decoding

                        reading = decoding.figures(self)
                    return self._outcome(done, reading, started)
                made, reading = commit_on(self, tip, redo, reading)
                if made.noop or self.dry_run:
                    return self._outcome(made.result, reading, started)
                try:
                    tip.push(self.push_branch or self.remote.branch)
                    return self._outcome(made.result, reading, started, made.compared)
                except GitError as exc:
                    if exc.code == "push_raced" and self.clock() < deadline:
                        redo = made
                        continue  # another generator's push landed: decide again on its tip
                    failed_pushes += exc.code == "git_unavailable"
                    if exc.code != "git_unavailable" or failed_pushes >= self.push_attempts:
                        raise
                    redo = made

    def _already_there(self, tip: Tip) -> CommitResult | None:
        """The no-op when the tip already has this backup; ``out_of_order`` when it reflects a
        newer backup of the cluster (asked on every attempt: on the tip a lost race fetched)."""
        history = tip.backups()
        existing = safeguards.commit_of(history, backup_id=self.backup_id, cluster=self.cluster)
        if existing is None and self.push_branch is not None:
            review = tip.backups(self.push_branch)
            existing = safeguards.commit_of(review, backup_id=self.backup_id, cluster=self.cluster)
        if existing is not None:
            return CommitResult(existing, 0, 0, 0, noop=True)
        if self.claims.created_at is not None:
            newest = safeguards.newest_mark(history, cluster=self.cluster)
            mark = BackupMark(backup_id=self.backup_id, created_at=self.claims.created_at)
            reason = safeguards.superseded_by(mark, newest[1] if newest else None)
            if reason is not None:
                raise BackupRefused("out_of_order", reason)
        return None

    def _checked(self, raw: BinaryIO) -> CheckedReader | None:
        if self.archive_size is None:
            return None
        return CheckedReader(
            raw, what="the archive", size=self.archive_size, sha256=self.archive_sha256
        )

    @contextlib.contextmanager
    def read(
        self,
        reading: Reading,
        previous: Previous | None,
        folder: Folder | None,
        committed_files: Callable[[Collection[str]], Mapping[str, bytes]] | None = None,
        unsealed: Callable[[str], str] | None = None,
    ) -> Iterator[MemberPass]:
        """The backup's members, its archive read once into ``reading`` (``MemberPass.read``:
        spooled, hashed, checked against its size and digest); the spool is dropped after.
        ``previous`` and ``committed_files`` read the tip's files (one, several at once);
        ``folder`` is the tip's cluster folder, ``unsealed`` its id without a file
        (``Tip.unsealed``)."""
        members = MemberPass(
            reading=reading,
            policy=self.policy,
            settings=self._settings(),
            blob=blob_id,
            transforms=self.transforms,
            encrypt=self.encrypt,
            previous=previous,
            folder=folder,
            committed_files=committed_files,
            unsealed=unsealed,
            reuse=self.member_cache,
            limits=self.limits,
            progress=self.progress,
        )
        try:
            with self.archive() as raw:
                stream = self._checked(raw)
                members.read(
                    cast("BinaryIO", stream or raw),
                    finish=stream.finish if stream is not None else _nothing,
                )
            yield members
        finally:
            members.close()

    def _settings(self) -> str:
        recipients = self.encrypt.recipient_list if self.encrypt is not None else []
        # the sops digest key (adapters.sops): a new key re-encrypts every Secret in a full run
        key = str(getattr(self.encrypt, "key_fingerprint", ""))
        return settings_digest(
            cluster=self.cluster,
            policy=self.policy,
            transforms=self.transforms,
            layout=self.layout,
            recipients=[*recipients, f"digest key {key}"],
        )

    def _outcome(
        self,
        result: CommitResult,
        reading: Reading | None,
        started: float,
        compared: Comparison | None = None,
    ) -> Outcome:
        plan = reading.plan if reading is not None else Plan(cluster=self.cluster)
        return Outcome(
            plan=plan, commit=result, duration_s=self.clock() - started, compared=compared
        )


def _nothing() -> None:
    """No integrity check to finish (the archive's size is unknown)."""


def generate(**fields: Any) -> Outcome:
    """``GenerationJob(**fields).run()``: one job, spelled as a call (tests, benchmarks)."""
    return GenerationJob(**fields).run()
