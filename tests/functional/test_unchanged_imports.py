"""An unchanged backup imports only what it uses (issue 21: imports were 40 % of its run).

``generate`` in a fresh interpreter, on a real bare remote: a backup that is the committed one
again (the same archive under a new Backup-Id: ``generation.unchanged``), and one already on the
branch (``generation.generate``, as gitops-generator's redelivery runs it), never import the
machinery that decodes, cleans, serialises and plans members; a daily backup (one member more)
imports it where it first decodes one (``generation.decoding``). Which modules a process
imported is deterministic: no clock is read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.fixtures.native import native_backup
from tests.fresh_python import run_python
from tests.functional.test_cli_errors import clean_env
from tests.git_repos import bare_repository

DECODING = {
    # the decode branch itself: the files of the members the cache cannot keep, streamed
    "backup2gitops.generation.decoding": "where the decode branch starts (attempt.commit_on)",
    "backup2gitops.generation.pipeline": "place: one item cleaned and placed",
    # a member decoded from its JSON (the index's StatefulSets, CRDs and HPAs too: none here)
    "backup2gitops.core.archive.items": "item_of",
    # cleaning: only a decoded member is cleaned (the policy, settings and index are the
    # configuration's and the member cache's, and stay)
    "backup2gitops.core.cleaning.preparation": "exclusions, neat, the secret policy, transforms",
    "backup2gitops.core.cleaning.ruleset": "every kind's rules, registered",
    "backup2gitops.core.cleaning.context": "what a rule is told about its object",
    "backup2gitops.core.cleaning.exclusions": "why an object is never written",
    "backup2gitops.core.cleaning.fresh": "the cleaned copy",
    "backup2gitops.core.cleaning.secret": "what happens to a Secret's values",
    "backup2gitops.core.cleaning.workloads": "one kind's rules (of many)",
    "backup2gitops.core.cleaning.defaults": "the API defaults, as data",
    # YAML: only a decoded member is serialised (the member cache's files are JSON)
    "yaml": "PyYAML",
    "backup2gitops.core.kube_yaml": "stable YAML bytes",
    "backup2gitops.core.kube_yaml_writer": "its writer",
    # the folder's plan: an unchanged folder stands as committed, its kustomizations with it
    "backup2gitops.core.repo_plan": "the folder's files, a kustomization per unit",
    "backup2gitops.core.entry_points": "the Flux / Argo CD objects",
    "backup2gitops.core.ownership": "the files the generator does not own, kept",
    # drift's comparison (with the decode branch, used when ``drift.enabled``): an unchanged
    # commit changes no object, its comparison is empty
    "backup2gitops.core.drift.comparison": "a commit's objects against the tip's",
    "backup2gitops.core.drift.engine": "the roles a binding refers to",
    # the files that differ from the tip: recorded as the decode branch streams them (and a
    # dry run's diff); ``generate``'s commit imports none
    "backup2gitops.core.tree_diff": "FileChange, DiffRecorder, the unified diff",
}
NOT_ASKED_FOR = {
    # a backup read is written by no one here
    "backup2gitops.core.archive.writer": "ArchiveWriter",
    # sops: no Secret is encrypted without ``cleaning.secrets: sops``
    "backup2gitops.adapters.sops": "the encrypter",
    "backup2gitops.core.sops_files": ".sops.yaml and the Secrets' digests",
}

RUN_CLI = """
import json, sys
from backup2gitops.cli import main
status = main(sys.argv[2:])
with open(sys.argv[1], "w") as out:
    json.dump({"status": status, "modules": sorted(sys.modules)}, out)
"""

REDELIVER = """
import json, sys
from pathlib import Path
from backup2gitops import generation
from backup2gitops.adapters.git import GitRemote
from backup2gitops.core.cleaning import CleaningPolicy
archive, remote, cache, out = sys.argv[1:]
outcome = generation.generate(
    archive=lambda: open(archive, "rb"),
    remote=GitRemote(url=remote, branch="main", cache_dir=Path(cache), author_name="t",
                     author_email="t@example.com"),
    cluster="prod",
    backup_id="b1",
    policy=CleaningPolicy(),
)
with open(out, "w") as file:
    json.dump({"noop": outcome.commit.noop, "modules": sorted(sys.modules)}, file)
"""


def generate(
    tmp_path: Path, archive: Path, remote: Path, backup_id: str
) -> tuple[dict[str, Any], set[str]]:
    """``generate ARCHIVE`` run in-process in a fresh interpreter: its report, and the modules
    it imported."""
    out = tmp_path / f"{backup_id}.json"
    args = (str(out), "generate", str(archive), "--repo", str(remote), "--cluster", "prod")
    # an override, as a deployment sets some: a plain value is read without PyYAML
    env = clean_env(tmp_path, BACKUP2GITOPS__GIT__CACHE_DIR=str(tmp_path / "git-cache"))
    ran = run_python(RUN_CLI, *args, "--backup-id", backup_id, "-o", "json", env=env)
    done = json.loads(out.read_text())
    assert done["status"] == 0
    report: dict[str, Any] = json.loads(ran.stdout)
    return report, set(done["modules"])


def write(tmp_path: Path, name: str, objects: int) -> Path:
    archive = tmp_path / f"{name}.tar.gz"
    archive.write_bytes(native_backup(objects=objects).archive)
    return archive


def test_an_unchanged_backup_imports_nothing_that_decodes_and_a_daily_one_does(
    tmp_path: Path,
) -> None:
    remote = bare_repository(tmp_path / "remote.git")
    base, daily = write(tmp_path, "base", 3), write(tmp_path, "daily", 4)
    _, fresh = generate(tmp_path, base, remote, "b1")
    assert set(DECODING) <= fresh  # the probe can see them

    report, unchanged = generate(tmp_path, base, remote, "b2")
    assert (report["unchanged"], report["decoded"], report["objects"]) == (True, 0, 3)
    assert unchanged & (set(DECODING) | set(NOT_ASKED_FOR)) == set()

    redelivered = tmp_path / "redelivered.json"
    cache = tmp_path / "generator-cache"
    run_python(REDELIVER, str(base), str(remote), str(cache), str(redelivered))
    done = json.loads(redelivered.read_text())
    assert done["noop"] is True
    assert set(done["modules"]) & (set(DECODING) | set(NOT_ASKED_FOR)) == set()

    report, daily_run = generate(tmp_path, daily, remote, "b3")
    assert (report["unchanged"], report["decoded"], report["objects"]) == (False, 1, 4)
    assert set(DECODING) <= daily_run
    assert daily_run & set(NOT_ASKED_FOR) == set()
