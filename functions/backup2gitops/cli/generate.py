"""``backup2gitops generate SOURCE --repo DEST``: one backup into the GitOps repository, now.

SOURCE is a native backup folder (``manifest.json`` + ``resources.tar.gz``), a Velero backup
folder (``velero-backup.json`` + ``<name>.tar.gz``), a tarball, an ``s3://bucket/key`` of a
tarball, or an ``s3://bucket/folder/`` of a backup (credentials and endpoint as in the
configuration). ``--cluster`` that contradicts a native manifest's cluster is refused unless
``--force-cluster``. DEST is where the commit goes:

- a git URL, or a local bare repository: cloned, committed, pushed (fetch-rebase-retry);
- a local work tree: committed in place on its checked-out branch, nothing pushed, as an
  export tool writes into a folder (made with ``git init`` when DEST does not exist or is an
  empty folder);
- a path that does not exist and ends in ``.git``: a bare repository is made and pushed to.

``--dry-run`` reads, cleans, plans and guards exactly as for the commit, then makes none and
pushes nothing (a remote is cloned into the cache; a work tree is left as it is): the report
says what would be added, changed and removed, per unit, and a refusal by a guard exits 1 as it
would. ``--diff`` prints the unified diff of those files instead (``git diff`` style).

The report also counts the objects no GitOps tool manages (no Flux, Argo CD or Helm mark, no
GitOps manager in managedFields: the things people changed by hand) and the files of the
cluster's folder the generator kept because it did not write them (``core.ownership``).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, BinaryIO

from backup2gitops.cli import progress
from backup2gitops.cli.output import add_output_option, emit

if TYPE_CHECKING:
    from backup2gitops.adapters.storage import ObjectStore
    from backup2gitops.core.tree_diff import FileChange
    from backup2gitops.generation import Claims


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("generate", help="write one backup into a GitOps repository")
    parser.add_argument("source", help="backup folder, tarball, or s3://bucket/key.tar.gz")
    parser.add_argument(
        "--repo",
        required=True,
        help="git URL or bare repository (pushed to), or a local work tree or new folder "
        "(committed in, no push); a new path ending in .git is made bare",
    )
    parser.add_argument("--cluster", help="cluster name (default: from the native manifest)")
    parser.add_argument(
        "--force-cluster",
        action="store_true",
        help="commit under --cluster even when the backup's manifest names another cluster",
    )
    parser.add_argument(
        "--backup-id", help="default: from the manifest, else the backup's folder name"
    )
    parser.add_argument("--branch", help="default: the configuration's (main)")
    parser.add_argument("--config", help="configuration file (default: $BACKUP2GITOPS_CONFIG)")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="say what the backup would change (added/changed/removed per unit, the guards' "
        "verdict); nothing is committed or pushed",
    )
    parser.add_argument(
        "--diff",
        action="store_true",
        help="print the unified diff of the files the backup would change (implies --dry-run)",
    )
    add_output_option(parser)
    parser.set_defaults(func=run)


def backup_id_of(archive: PurePosixPath) -> str:
    """The backup a tarball belongs to: its folder for ``<id>/resources.tar.gz`` (native),
    else the file's name without ``.tar.gz`` (Velero's ``<name>/<name>.tar.gz``, a lone file)."""
    from backup2gitops.core.bucket_layout import ARCHIVE_NAME

    if archive.name == ARCHIVE_NAME and archive.parent.name:
        return archive.parent.name
    return archive.name.removesuffix(".tar.gz").removesuffix(".tgz")


def resolve_source(
    source: str, *, args: argparse.Namespace
) -> tuple[Callable[[], BinaryIO], str | None, str, Claims]:
    """(open the tarball, cluster if known, backup id, what the producer claims: the native
    manifest's or ``velero-backup.json``'s counts and time, which the guards check -- as
    backup-complete reads them)."""
    from backup2gitops.generation import Claims

    if source.startswith("s3://"):  # each kind of source imports only what reads it
        from backup2gitops.adapters.storage import open_store
        from backup2gitops.config import load_config

        bucket_and_key = source[5:]
        bucket, _, key = bucket_and_key.partition("/")
        config = load_config(args.config)
        store = open_store(config.storage.model_copy(update={"url": f"s3://{bucket}"}))
        if key.endswith("/") or not key:  # a "folder": the backup in it, as for a local one
            return stored_folder(store, key.strip("/"), source=source)
        return (lambda: store.open_read(key)), None, backup_id_of(PurePosixPath(key)), Claims()
    path = Path(source)
    if path.is_dir():
        manifest_path = path / "manifest.json"
        if manifest_path.is_file():
            from backup2gitops.core.backup_manifest import parse_manifest

            manifest = parse_manifest(manifest_path.read_bytes())
            archive = path / manifest.archive.key
            claims = Claims(
                created_at=manifest.finished_at, items=manifest.resource_count, complete=True
            )
            return (lambda: archive.open("rb")), manifest.cluster, manifest.backup_id, claims
        tarballs = sorted(path.glob("*.tar.gz"))
        if not tarballs:
            raise FileNotFoundError(f"{path} holds neither manifest.json nor a .tar.gz")
        archive = tarballs[0]
        backup_id = backup_id_of(PurePosixPath(archive.resolve()))
        velero_json = path / "velero-backup.json"
        if not velero_json.is_file():
            return (lambda: archive.open("rb")), None, backup_id, Claims()
        from backup2gitops.core.velero_backup import velero_claims

        velero = velero_claims(velero_json.read_bytes())  # ValueError: not a finished backup
        velero_archive = path / f"{velero.name}.tar.gz" if velero.name else archive
        if velero_archive.is_file():
            archive = velero_archive
        claims = Claims(created_at=velero.created_at, items=velero.items, complete=velero.complete)
        return (lambda: archive.open("rb")), None, velero.name or backup_id, claims
    if not path.is_file():
        raise FileNotFoundError(f"no backup at {source}")
    return (lambda: path.open("rb")), None, backup_id_of(PurePosixPath(path.resolve())), Claims()


def stored_folder(
    store: ObjectStore, folder: str, *, source: str
) -> tuple[Callable[[], BinaryIO], str | None, str, Claims]:
    """A backup folder in a bucket (``s3://bucket/backups/prod/<id>/``): a native backup's
    ``manifest.json`` and its archive, else Velero's ``<name>/<name>.tar.gz`` (with its
    ``velero-backup.json``'s claims when it is there)."""
    from backup2gitops.core.backup_manifest import parse_manifest
    from backup2gitops.core.velero_backup import velero_claims
    from backup2gitops.generation import Claims

    base = f"{folder}/" if folder else ""
    if store.stat(f"{base}manifest.json") is not None:
        manifest = parse_manifest(store.read_bytes(f"{base}manifest.json"))
        archive_key = f"{base}{manifest.archive.key}"
        claims = Claims(
            created_at=manifest.finished_at, items=manifest.resource_count, complete=True
        )
        return (lambda: store.open_read(archive_key)), manifest.cluster, manifest.backup_id, claims
    name = PurePosixPath(folder).name
    velero = f"{base}{name}.tar.gz"
    if name and store.stat(velero) is not None:
        claims = Claims()
        if store.stat(f"{base}velero-backup.json") is not None:
            found = velero_claims(store.read_bytes(f"{base}velero-backup.json"))
            claims = Claims(created_at=found.created_at, items=found.items, complete=found.complete)
        return (lambda: store.open_read(velero)), None, name, claims
    raise FileNotFoundError(f"{source} holds neither manifest.json nor {name or 'NAME'}.tar.gz")


def cluster_conflict(asked: str | None, recorded: str | None, *, force: bool) -> str | None:
    """Why ``--cluster`` may not be used, or None: a backup whose manifest names another
    cluster would be committed into the wrong cluster's folder, replacing what is there."""
    if asked is None or recorded is None or asked == recorded or force:
        return None
    return (
        f"--cluster {asked} contradicts the backup's manifest (cluster {recorded}): its objects "
        f"would replace clusters/{asked}/; give --force-cluster to commit them there anyway"
    )


def is_work_tree_target(dest: str) -> bool:
    """True when DEST is a folder to commit in (a work tree, an empty or a new folder), False
    when it is a remote to push to (a URL, a bare repository, a new path ending in ``.git``)."""
    if "://" in dest or dest.startswith("git@"):
        return False
    path = Path(dest)
    if not path.exists():
        return not path.name.endswith(".git")
    is_bare = (path / "HEAD").is_file() and (path / "objects").is_dir()
    return path.is_dir() and not is_bare


def remote_url(dest: str) -> str:
    from backup2gitops.adapters.git import ensure_bare_remote

    if "://" in dest or dest.startswith("git@"):
        return dest
    path = Path(dest)
    return str(path.resolve() if path.exists() else ensure_bare_remote(path))


def print_table(report: Mapping[str, Any]) -> None:
    state = "no-op (already committed)" if report["noop"] else "committed"
    if report.get("reason"):
        state = f"skipped ({report['reason']})"
    if report.get("dry_run"):
        state = "dry run: would commit on"
    print(
        f"{state} {report['commit']} to {report['repository']} ({report['branch']}): "
        f"backup {report['cluster']}/{report['backup_id']}, "
        f"{report['objects']} objects, +{report['added']} ~{report['changed']} "
        f"-{report['removed']}, {report['excluded']} excluded"
    )
    for reason, count in sorted(report["excluded_by_reason"].items(), key=lambda kv: -kv[1]):
        print(f"  {count:6d} excluded: {reason}")
    for unit, counts in sorted(report.get("units", {}).items()):
        print(
            f"  {unit or '(cluster)'}: +{counts['added']} ~{counts['changed']} -{counts['removed']}"
        )
    names = report.get("unmanaged_names", [])
    print(f"  {report['unmanaged']:6d} not managed by any GitOps tool" + (":" if names else ""))
    for name in names:
        print(f"         {name}")
    if report.get("kept_foreign"):
        print(f"  {report['kept_foreign']:6d} files kept: not written by backup2gitops")
    for entry in report.get("missing_entries", []):
        print(f"  kustomization entry pointing at nothing: {entry}")


def unit_counts(changes: Sequence[FileChange], *, cluster: str) -> dict[str, dict[str, int]]:
    """Added, changed and removed object files per unit (``cluster-scoped``,
    ``namespaces/<ns>``; "" for the rest of the folder), from a dry run's changes."""
    from backup2gitops.core import units

    root = f"clusters/{cluster}/"
    counts: dict[str, dict[str, int]] = {}
    for change in changes:
        if units.is_generated(change.path) or not change.path.startswith(root):
            continue
        try:
            unit = units.unit_key(change.path[len(root) :], by="namespace")
        except ValueError:
            unit = ""
        entry = counts.setdefault(unit, {"added": 0, "changed": 0, "removed": 0})
        entry[change.status] += 1
    return counts


def run(args: argparse.Namespace) -> int:
    if shutil.which("git") is None:
        print("generate: git is not installed (not found on PATH)", file=sys.stderr)
        return 1
    from backup2gitops import generation
    from backup2gitops.adapters.git import GitError, GitRemote, LocalWorkTree
    from backup2gitops.adapters.sops_error import SopsError
    from backup2gitops.config import ConfigError, load_config
    from backup2gitops.core.archive import ArchiveError
    from backup2gitops.runtime.context import FunctionContext

    try:
        config = load_config(args.config)
        archive, cluster, backup_id, claims = resolve_source(args.source, args=args)
    except (ConfigError, FileNotFoundError, ValueError) as exc:
        print(f"generate: {exc}", file=sys.stderr)
        return 2
    conflict = cluster_conflict(args.cluster, cluster, force=args.force_cluster)
    if conflict is not None:
        print(f"generate: {conflict}", file=sys.stderr)
        return 2
    cluster = args.cluster or cluster
    if not cluster:
        print("generate: --cluster is required for this source", file=sys.stderr)
        return 2
    backup_id = args.backup_id or backup_id
    failure = None
    show = progress.reporter("generate", enabled=progress.wanted(args.output), first_step="reading")
    with show as reporter:  # gone from the terminal before anything else is printed
        try:
            remote = (
                LocalWorkTree(
                    path=Path(args.repo),
                    branch=args.branch,
                    author_name=config.git.author_name,
                    author_email=config.git.author_email,
                    timeout_s=config.git.timeout_s,
                )
                if is_work_tree_target(args.repo)
                else GitRemote.configured(
                    config.git,
                    cache_dir=FunctionContext(config).cache_dir / "git",
                    url=remote_url(args.repo),
                    branch=args.branch,
                )
            )
            outcome = generation.GenerationJob.configured(
                config,
                archive=archive,
                remote=remote,
                cluster=cluster,
                backup_id=backup_id,
                claims=claims,
                plan_noop=True,
                dry_run=args.dry_run or args.diff,
                diff=args.dry_run or args.diff,  # the per-unit counts come from the changes
                progress=lambda done: reporter.items(done, total=claims.items),
            ).run()
        except (ArchiveError, GitError, SopsError, generation.BackupRefused) as exc:
            failure = str(exc)
    if failure is not None:
        print(f"generate: {failure}", file=sys.stderr)
        return 1
    if args.diff:  # the diff's module, only for a diff: a commit's run does not import it
        from backup2gitops.core.tree_diff import unified

        sys.stdout.write(unified(outcome.commit.changes))
        return 0
    plan = outcome.plan
    report = {
        "commit": outcome.commit.commit,
        "repository": remote.display_url,
        "branch": remote.branch,
        "cluster": cluster,
        "backup_id": backup_id,
        "added": outcome.commit.added,
        "changed": outcome.commit.changed,
        "removed": outcome.commit.removed,
        "objects": outcome.plan.objects,
        "excluded": outcome.plan.excluded,
        "excluded_by_reason": outcome.plan.excluded_by_reason,
        "noop": outcome.commit.noop,
        "reason": outcome.commit.reason,
        "duration_s": round(outcome.duration_s, 3),
        "unmanaged": plan.unmanaged,
        "unmanaged_names": plan.unmanaged_names,
        "kept_foreign": plan.kept_foreign,
        "missing_entries": plan.missing_entries,
        "decoded": plan.decoded,
        "unchanged": plan.unchanged,
    }
    if outcome.commit.dry_run:
        report["dry_run"] = True
        report["units"] = unit_counts(outcome.commit.changes, cluster=cluster)
    emit(
        report,
        output=args.output,
        table=print_table,
        names=lambda r: [f"commit/{r['commit']}"],
    )
    return 0
