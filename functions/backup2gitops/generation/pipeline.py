"""The pipeline of one backup: archive items -> clean objects -> placed files, counted in its
figures (``generation.plan``). Pure of git: ``generation.decoding`` feeds these files to a
repository's change set, and ``plan_backup`` keeps the whole tree in memory (tests,
benchmarks). Importing it imports cleaning's rules, drift's catalogue, PyYAML and the folder's
plan: what only a backup with a member to decode needs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from backup2gitops.core import drift, kube_yaml, units
from backup2gitops.core.archive import BackupItem
from backup2gitops.core.cleaning import (
    INDEXED_RESOURCES,
    BackupIndex,
    CleaningPolicy,
    prepare,
)
from backup2gitops.core.cleaning.gitops_owners import gitops_managed
from backup2gitops.core.repo_layout import object_file
from backup2gitops.core.repo_plan import plan_tree
from backup2gitops.generation.plan import Encrypt, Plan, Previous, Transform, account


def committed_document(previous: Previous | None, path: PurePosixPath) -> dict[str, Any] | None:
    """The YAML document committed at ``path``, if there is one and it parses as a mapping."""
    return kube_yaml.load_mapping(previous(path) if previous is not None else None)


@dataclass(frozen=True)
class Placement:
    """What one item became: ``excluded`` (a reason), or ``obj`` at ``file`` (cleaned,
    transformed, encrypted: ready to serialise), with what the commit message counts of it."""

    namespace: str | None
    excluded: str | None = None
    file: str | None = None
    """The object's repository path, a POSIX string (``repo_layout.object_file``)."""
    obj: Mapping[str, Any] | None = None
    kind: str = "?"
    credentials: tuple[str, ...] = ()
    unmanaged: str | None = None
    """``Kind namespace/name`` when no GitOps tool manages the object (``gitops_managed``, read
    before cleaning): changed by hand."""


def place(
    item: BackupItem,
    *,
    cluster: str,
    policy: CleaningPolicy,
    transforms: Sequence[Transform] = (),
    encrypt: Encrypt | None = None,
    previous: Previous | None = None,
    index: BackupIndex,
) -> Placement:
    """Clean one item and place it. A Secret to encrypt is given the document committed at its
    path (``previous``), which the encrypter returns as it is when the plaintext did not change.
    ``index`` is the backup's index (its StatefulSets' claim templates, its CRDs' defaults, its
    HPAs' targets)."""
    if item.refused:  # refused by the reader (too deep, a path that lies): its own reason
        return Placement(item.namespace, excluded=item.refused)
    prepared = prepare(item.obj, policy=policy, transforms=transforms, index=index)
    obj = prepared.object
    if obj is None:
        return Placement(item.namespace, excluded=prepared.excluded or "excluded")
    by_hand = not gitops_managed(item.obj)  # as backed up: prepare never changes item.obj
    file = object_file(
        cluster=cluster,
        group_resource=item.group_resource,
        namespace=item.namespace,
        name=item.name,
    )
    where = f"{item.namespace}/{item.name}" if item.namespace else item.name
    found = drift.credentials_in_clear(obj)  # the plaintext, before sops
    credentials = (
        tuple(f"{obj.get('kind', '?')} {where}: {place}" for place in sorted(found))
        if found
        else ()
    )
    if prepared.encrypt:
        if encrypt is None:  # never write a Secret in clear because no encrypter was wired
            raise ValueError("the secret policy asks for encryption but no encrypter is set")
        obj = encrypt(obj, previous=committed_document(previous, PurePosixPath(file)))
    kind = obj.get("kind", "?")
    if type(kind) is not str:
        kind = str(kind)
    unmanaged = f"{kind} {where}" if by_hand else None
    return Placement(
        item.namespace, file=file, obj=obj, kind=kind, credentials=credentials, unmanaged=unmanaged
    )


def placed_objects(
    items: Iterable[BackupItem],
    *,
    plan: Plan,
    policy: CleaningPolicy,
    transforms: Sequence[Transform] = (),
    encrypt: Encrypt | None = None,
    previous: Previous | None = None,
    progress: Callable[[int], None] | None = None,
    index: BackupIndex,
) -> Iterator[tuple[PurePosixPath, Mapping[str, Any]]]:
    """``place`` each item, counting what is kept and why the rest is excluded (``account``).
    ``progress`` is told the number of items read so far, after each one."""
    for count, item in enumerate(items, 1):
        if progress is not None:
            progress(count)
        placed = place(
            item,
            cluster=plan.cluster,
            policy=policy,
            transforms=transforms,
            encrypt=encrypt,
            previous=previous,
            index=index,
        )
        account(
            plan,
            namespace=placed.namespace,
            excluded=placed.excluded,
            kind=placed.kind,
            credentials=placed.credentials,
            unmanaged=placed.unmanaged,
        )
        if placed.file is not None and placed.obj is not None:
            yield PurePosixPath(placed.file), placed.obj


def plan_backup(
    items: Iterable[BackupItem],
    *,
    cluster: str,
    policy: CleaningPolicy,
    transforms: Sequence[Transform] = (),
    encrypt: Encrypt | None = None,
    previous: Previous | None = None,
    index: BackupIndex | None = None,
    layout: units.Layout | None = None,
) -> Plan:
    """The whole repository tree for ``cluster``, in memory.

    ``index`` is the backup's index (``GenerationJob`` builds it while it reads the archive);
    without one it is built from ``items``, which are then read into a list first.
    """
    plan = Plan(cluster=cluster)
    if index is None:
        items = list(items)
        index = BackupIndex.of(i.obj for i in items if i.group_resource in INDEXED_RESOURCES)
    placed = placed_objects(
        items,
        plan=plan,
        policy=policy,
        transforms=transforms,
        encrypt=encrypt,
        previous=previous,
        index=index,
    )
    plan.files = plan_tree(cluster=cluster, objects=placed, layout=layout)
    return plan
