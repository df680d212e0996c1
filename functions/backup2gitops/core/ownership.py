"""Which files of a cluster's folder the generator owns, and the kustomizations it shares.

Pure: no I/O (file contents come through a callable); only the standard library and PyYAML.

A repository written from backups is shared: ``flux bootstrap`` commits
``clusters/<cluster>/flux-system/`` (gotk-components.yaml, gotk-sync.yaml, kustomization.yaml),
people add a file beside the generated ones and list it in a unit's ``kustomization.yaml``.
The generator owns only the files it writes; everything else is kept and stays in the build.

**The rule** (``owned_paths``). With a record of the files the previous backup wrote (the
generator's own manifest, when there is one), a file is ours iff it is in that record. Without
one -- a repository from before the record, a record lost or unreadable -- a file is ours iff:

- it is a ``kustomization.yaml`` in a folder the generator writes one to (the cluster folder,
  ``cluster-scoped``, ``namespaces/<ns>``, ``flux``, ``argocd``; in a resource folder, such as a
  unit cut by resource has, only when it lists nothing but that folder's ``<name>.yaml`` files:
  a person's own sub-folder sits at the same depth), or a file of the entry-point folders, or
  under the generator's own ``.backup2gitops/`` folder; or
- its path has the shape of an object file (``cluster-scoped/<resource.group>/<name>.yaml``,
  ``namespaces/<ns>/<resource.group>/<name>.yaml``) and it parses as the object the generator
  would place there (a mapping whose ``metadata.name`` gives that file name, whose namespace,
  when it has one, is the folder's, whose API group, when it has one, ends the resource
  folder's name) and it carries no
  ``backup2gitops.io/hand-written`` annotation (``FOREIGN_MARK``; any value but "false").

Why facts of the tree and not only a record: they hold on every repository as it is (no state to
lose or to get out of step), and they are exactly what makes a file one of ours -- the generator
writes nothing else. The cost: a file a person writes at an object's path, in the shape of that
object, is taken for ours unless marked; such a file is indistinguishable from an object deleted
from the cluster since the last backup, whose file must go.

Only files the backup did not produce are asked (deleted objects, foreign files): the cost
follows the size of the change. A file the backup produces is written whoever wrote it before:
the cluster is the truth for its objects.

**Kustomizations** (``merged_kustomization``): the generated ``resources`` first, then the
committed file's entries that are not the generator's (a foreign file, ``flux-system``, a URL,
``../base``), in their order, and every other key of the committed file as it is (``patches``,
``namespace``, ...). An entry is the generator's when it points at a folder the generator writes
a kustomization to, or at a file it owns: those it lists itself, or drops when their object is
gone. A foreign entry pointing inside the cluster folder at nothing is kept (kustomize will say
so) and reported (``missing``): it is the person's to fix, not the generator's to drop.
"""

from __future__ import annotations

import functools
import posixpath
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from backup2gitops.core import kube_yaml, units
from backup2gitops.core.repo_layout import (
    ESCAPED_KUSTOMIZATION,
    KUSTOMIZATION,
    segment_file_name,
)
from backup2gitops.core.tree_diff import blob_id

FOREIGN_MARK: Final[str] = "backup2gitops.io/hand-written"
"""An annotation that makes a file at an object's path a person's: never deleted by a backup."""
"""The generator's own records inside a cluster's folder."""
MAX_REPORTED: Final[int] = 50

_KUSTOMIZATION_FOLDERS: Final = re.compile(
    rf"(|{units.CLUSTER_SCOPED}(/[^/]+)?|{units.NAMESPACES}/[^/]+(/[^/]+)?"
    rf"|{units.FLUX_FOLDER}|{units.ARGOCD_FOLDER})"
)
"""Folders (relative to the cluster's folder) the generator writes a kustomization to."""


def is_generator_folder(relative: str) -> bool:
    """Whether the generator writes a ``kustomization.yaml`` to this folder (relative to the
    cluster's folder; "" is the folder itself)."""
    return _KUSTOMIZATION_FOLDERS.fullmatch(relative) is not None


def _object_shape(relative: str) -> tuple[str | None, str] | None:
    """(namespace folder or None, resource folder) when ``relative`` has an object file's
    shape, else None."""
    parts = relative.split("/")
    if not parts[-1].endswith(".yaml") or parts[-1] == KUSTOMIZATION:
        return None
    if len(parts) == 3 and parts[0] == units.CLUSTER_SCOPED:
        return None, parts[1]
    if len(parts) == 4 and parts[0] == units.NAMESPACES:
        return parts[1], parts[2]
    return None


def _placed_here(relative: str, obj: Mapping[str, Any]) -> bool:
    """Whether ``obj`` is the object the generator would write at ``relative``."""
    shape = _object_shape(relative)
    metadata = obj.get("metadata")
    if shape is None or not isinstance(metadata, dict):
        return False
    namespace_folder, resource = shape
    name, namespace = metadata.get("name"), metadata.get("namespace")
    api_version = obj.get("apiVersion", "")
    if not isinstance(name, str) or not isinstance(api_version, str):
        return False
    file_name = (
        ESCAPED_KUSTOMIZATION
        if name == "kustomization"
        else segment_file_name(name, suffix=".yaml")
    )
    if relative.rpartition("/")[2] != file_name:
        return False
    if namespace is not None and (
        namespace_folder is None
        or not isinstance(namespace, str)
        or segment_file_name(namespace) != namespace_folder
    ):
        return False
    group = api_version.rpartition("/")[0]
    return resource.endswith(f".{group}") if group else True


def _marked(obj: Mapping[str, Any]) -> bool:
    metadata = obj.get("metadata")
    annotations = metadata.get("annotations") if isinstance(metadata, dict) else None
    if not isinstance(annotations, dict) or FOREIGN_MARK not in annotations:
        return False
    return str(annotations[FOREIGN_MARK]).lower() != "false"


_RESOURCE_FOLDER: Final = re.compile(
    rf"{units.CLUSTER_SCOPED}/[^/]+|{units.NAMESPACES}/[^/]+/[^/]+"
)


def _generated_resource_kustomization(raw: bytes | None) -> bool:
    """Whether a resource folder's kustomization is one the generator wrote (a unit cut by
    resource lists only its own ``<name>.yaml`` files, and nothing else): a person's folder
    with its own kustomization sits at the same depth."""
    loaded = kube_yaml.load_mapping(raw)
    if loaded is None or set(loaded) - {"apiVersion", "kind", "resources"}:
        return False
    listed = loaded.get("resources")
    return isinstance(listed, list) and all(
        isinstance(entry, str) and "/" not in entry and entry.endswith(".yaml") for entry in listed
    )


def is_owned(relative: str, read: Callable[[], bytes | None]) -> bool:
    """The rule of the module docstring for one file, by its path relative to the cluster's
    folder; ``read`` gives its content (asked only for a file of an object's shape, or a
    kustomization where a unit cut by resource has one)."""
    folder, _, name = relative.rpartition("/")
    if name == KUSTOMIZATION:
        if _RESOURCE_FOLDER.fullmatch(folder):
            return _generated_resource_kustomization(read())
        return is_generator_folder(folder)
    top = relative.split("/", 1)[0]
    if top == units.GENERATOR_FOLDER or (top in units.ENTRY_POINT_FOLDERS and "/" in relative):
        return True
    if _object_shape(relative) is None:
        return False
    obj = kube_yaml.load_mapping(read())
    return obj is not None and _placed_here(relative, obj) and not _marked(obj)


def owned_paths(
    previous_record: Collection[str] | None,
    tip_tree: Mapping[str, Callable[[], bytes | None]],
    *,
    root: str,
) -> frozenset[str]:
    """The paths of ``tip_tree`` (repository paths under ``root``, ``clusters/<cluster>``, each
    with a way to read its content) that the generator owns: in ``previous_record`` (the
    repository paths the previous backup wrote) when there is one, else by the rule. The
    kustomizations of the generator's folders are its own either way (it merges them)."""
    prefix = f"{root}/"
    owned: set[str] = set()
    for path, read in tip_tree.items():
        if not path.startswith(prefix):
            continue
        relative = path[len(prefix) :]
        if previous_record is not None:
            folder, _, name = relative.rpartition("/")
            if path in previous_record or (name == KUSTOMIZATION and is_generator_folder(folder)):
                owned.add(path)
        elif is_owned(relative, read):
            owned.add(path)
    return frozenset(owned)


def _local(entry: str) -> bool:
    """Whether a kustomization entry names a local path (not a URL or a remote base)."""
    return "://" not in entry and not entry.startswith(("git@", "github.com/", "gitlab.com/"))


@dataclass
class SharedFolder:
    """A cluster's folder as the tip has it, for a backup that owns only its files.

    ``tracked``: its files on the tip (repository path -> blob id); ``read``: a committed file's
    content.
    ``settle`` is told what the backup produced and finds the foreign files to keep (the
    deletion candidates the generator does not own: the change set's ``keep``); ``kustomization`` merges a generated
    kustomization with the committed one. What was kept and the foreign entries pointing at
    nothing are counted for the report.
    """

    root: str
    tracked: Mapping[str, str]
    """Path -> git blob id, on the tip."""
    read: Callable[[str], bytes | None]
    previous_record: Collection[str] | None = None
    read_many: Callable[[Collection[str]], Mapping[str, bytes]] | None = None
    """Reads many committed files at once (``ChangeSet.committed_files``): the candidates the
    rule reads are fetched together before it asks."""
    foreign: set[str] = field(default_factory=set)
    """The tracked files kept because the generator does not own them (after ``settle``)."""
    missing: list[str] = field(default_factory=list)
    """``<kustomization path>: <entry>`` for each foreign entry pointing at nothing."""
    missing_total: int = 0
    _present: set[str] = field(default_factory=set)

    def settle(self, produced: Iterable[str]) -> set[str]:
        """The foreign files among the tracked ones ``produced`` does not hold (to keep as they
        are), remembering every path the new tree will have."""
        self._present = set(produced)
        left = [path for path in self.tracked if path not in self._present]
        fetched: Mapping[str, bytes] = {}
        if self.read_many is not None and self.previous_record is None:
            fetched = self.read_many([path for path in left if self._read_by_rule(path)])
        candidates = {
            path: (
                functools.partial(fetched.get, path)
                if path in fetched
                else functools.partial(self.read, path)
            )
            for path in left
        }
        owned = owned_paths(self.previous_record, candidates, root=self.root)
        self.foreign.update(set(candidates) - owned)
        self._present.update(self.foreign)
        return self.foreign

    def _read_by_rule(self, path: str) -> bool:
        """Whether the rule reads this file (an object's shape, a resource folder's
        kustomization)."""
        relative = path[len(self.root) + 1 :]
        folder, _, name = relative.rpartition("/")
        if name == KUSTOMIZATION:
            return _RESOURCE_FOLDER.fullmatch(folder) is not None
        return _object_shape(relative) is not None

    def kustomization(self, folder: str, generated: Iterable[str]) -> dict[str, Any]:
        """The kustomization of ``folder`` (a repository path): ``generated`` merged with the
        committed one's foreign entries and other keys (``settle`` first)."""
        resources = list(generated)
        made = units.kustomization(resources)
        committed = kube_yaml.load_mapping(self.read(f"{folder}/{KUSTOMIZATION}"))
        if committed is None:
            return made
        listed = committed.get("resources")
        entries = [e for e in listed if isinstance(e, str)] if isinstance(listed, list) else []
        merged = dict(committed)
        merged.update(made)
        seen = set(resources)
        for entry in entries:
            if entry in seen or self._generators(folder, entry):
                continue
            seen.add(entry)
            resources.append(entry)
            if _local(entry) and not self._exists(folder, entry):
                self.missing_total += 1
                if len(self.missing) < MAX_REPORTED:
                    self.missing.append(f"{folder}/{KUSTOMIZATION}: {entry}")
        merged["resources"] = resources
        return merged

    def _target(self, folder: str, entry: str) -> str | None:
        """The entry's path relative to the cluster's folder; None when it leaves it."""
        joined = posixpath.normpath(posixpath.join(folder, entry))
        prefix = f"{self.root}/"
        if joined == self.root:
            return ""
        return joined[len(prefix) :] if joined.startswith(prefix) else None

    def _generators(self, folder: str, entry: str) -> bool:
        """Whether a committed entry is the generator's (listed by it, or dropped with its
        object): a folder it writes a kustomization to, or a file it owned on the tip."""
        if not _local(entry):
            return False
        target = self._target(folder, entry)
        if target is None:
            return False
        if is_generator_folder(target) and not target.endswith((".yaml", ".yml", ".json")):
            return True
        path = f"{self.root}/{target}"
        return path in self.tracked and path not in self.foreign

    def _exists(self, folder: str, entry: str) -> bool:
        target = self._target(folder, entry)
        if target is None:
            return True  # outside the cluster's folder: not ours to check
        path = f"{self.root}/{target}" if target else self.root
        return path in self._present or any(p.startswith(f"{path}/") for p in self._present)

    def kustomization_file(self, folder: str, generated: Iterable[str]) -> bytes:
        """``kustomization`` as a file; the generated one, unread, when the committed file is
        byte for byte what the generator writes (the common case: no read at all)."""
        path = f"{folder}/{KUSTOMIZATION}"
        self._present.add(path)
        listed = list(generated)
        plain = kube_yaml.kustomization_yaml(listed).encode()
        if self.tracked.get(path) in (None, blob_id(plain)):
            return plain
        return kube_yaml.dump(self.kustomization(folder, listed)).encode()
