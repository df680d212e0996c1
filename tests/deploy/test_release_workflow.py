"""The release and CI workflows (.github/workflows/), checked offline.

* actionlint (github.com/rhysd/actionlint, pinned in scripts/build-actionlint.sh), the linter
  GitHub users run: expressions, contexts, ``needs:``, permission scopes, the inputs of the
  actions it knows, and every ``run:`` script through shellcheck (Debian's, which
  scripts/install-test-deps.sh installs; the test refuses to run without it, because actionlint
  would otherwise skip those checks without a word);
* what actionlint does not check: every ``uses:`` pinned by a full commit SHA with its version in
  a comment, the image signed (cosign keyless, by digest), an SBOM and SLSA provenance attached,
  each job's permissions the minimum it uses;
* the pinning step's own command, run with the real kustomize on a copy of knative/ and triggers/:
  ``kustomize build`` then names the pushed digest on all five Services.

Not covered here (no registry, no GitHub runner): the build, push, signature and pull request
themselves; docs/release.md says how an operator verifies a published image.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from b2g_deploy_checks import REPO, kustomize_build, kustomize_command

WORKFLOWS = REPO / ".github" / "workflows"
RELEASE = WORKFLOWS / "release.yml"
CI = WORKFLOWS / "ci.yml"
IMAGE = "ghcr.io/backup2gitops/backup2gitops"
CLUSTER_BACKUP_IMAGE = "ghcr.io/backup2gitops/backup2gitops-cluster-backup"
SERVICES = {
    "cluster-backup",
    "backup-complete",
    "gitops-generator",
    "health-aggregator",
    "alert-router",
}
USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(\S+)(.*)$")
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"^\s+#\s+v\d+(\.\d+){1,2}\b")


def go_bin(name: str) -> Path:
    gopath = subprocess.run(
        ["go", "env", "GOPATH"], capture_output=True, text=True, check=True, timeout=120
    ).stdout.strip()
    return Path(gopath) / "bin" / name


def load(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text())
    assert isinstance(doc, dict)
    # PyYAML reads the key `on:` as the boolean True (YAML 1.1); GitHub reads it as "on".
    if True in doc:
        doc["on"] = doc.pop(True)
    return doc


def steps(workflow: dict[str, Any], job: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = workflow["jobs"][job]["steps"]
    return found


def actionlint(*paths: Path) -> subprocess.CompletedProcess[str]:
    binary = go_bin("actionlint")
    assert binary.is_file(), "no actionlint: run scripts/build-actionlint.sh (make deps)"
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "no shellcheck: `apt-get install shellcheck` (make deps installs it)"
    return subprocess.run(
        [str(binary), "-no-color", "-oneline", "-shellcheck", shellcheck, *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=REPO,
    )


# --------------------------------------------------------------------------- actionlint


def test_actionlint_finds_nothing_in_the_workflows() -> None:
    proc = actionlint(RELEASE, CI)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actionlint_reports_a_planted_mistake(tmp_path: Path) -> None:
    """The linter really runs its checks here: a misspelt permission scope and a script
    shellcheck faults (an unquoted expansion) are both reported."""
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    broken = tmp_path / ".github" / "workflows" / "release.yml"
    text = RELEASE.read_text().replace("id-token: write", "id-tokens: write", 1)
    text = text.replace('cosign sign --yes --recursive "${IMAGE}@${DIGEST}"', "cd $HOME", 1)
    broken.write_text(text)
    proc = actionlint(broken)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "id-tokens" in proc.stdout, proc.stdout
    assert "SC2086" in proc.stdout, proc.stdout  # shellcheck: double quote to prevent splitting


# --------------------------------------------------------------------------- pins


@pytest.mark.parametrize("path", [RELEASE, CI], ids=lambda p: p.name)
def test_every_action_is_pinned_by_commit_sha_with_its_version(path: Path) -> None:
    seen = 0
    for number, line in enumerate(path.read_text().splitlines(), 1):
        match = USES.match(line)
        if not match:
            continue
        seen += 1
        ref, rest = match.groups()
        assert PINNED.match(ref), f"{path.name}:{number}: {ref} is not pinned by a full SHA"
        assert VERSION_COMMENT.match(rest), f"{path.name}:{number}: no `# vX.Y.Z` after {ref}"
    assert seen


def test_one_sha_per_action_across_the_workflows() -> None:
    pins: dict[str, set[str]] = {}
    for path in (RELEASE, CI):
        for line in path.read_text().splitlines():
            match = USES.match(line)
            if match:
                action, sha = match.group(1).split("@")
                pins.setdefault(action, set()).add(sha)
    assert {a: s for a, s in pins.items() if len(s) > 1} == {}


def test_release_builds_kustomize_at_the_version_the_tests_use() -> None:
    pinned = re.search(
        r'KUSTOMIZE_VERSION="(v[\d.]+)"', (REPO / "scripts" / "install-test-deps.sh").read_text()
    )
    assert pinned
    assert f"sigs.k8s.io/kustomize/kustomize/v5@{pinned.group(1)}" in RELEASE.read_text()


# --------------------------------------------------------------------------- supply chain


def step_using(workflow: dict[str, Any], job: str, action: str) -> dict[str, Any]:
    for step in steps(workflow, job):
        if str(step.get("uses", "")).startswith(action + "@"):
            return step
    raise AssertionError(f"job {job} has no step using {action}")


def run_text(workflow: dict[str, Any], job: str) -> str:
    return "\n".join(str(step.get("run", "")) for step in steps(workflow, job))


def test_release_runs_on_version_tags_only() -> None:
    assert load(RELEASE)["on"] == {"push": {"tags": ["v*"]}}


def build_step(workflow: dict[str, Any], job: str, target: str) -> dict[str, Any]:
    for step in steps(workflow, job):
        uses = str(step.get("uses", ""))
        if uses.startswith("docker/build-push-action@") and step["with"]["target"] == target:
            return step
    raise AssertionError(f"job {job} builds no target {target}")


BUILDS = [
    ("knative", "functions", "linux/amd64,linux/arm64"),
    ("knative", "cluster-backup", "linux/amd64,linux/arm64"),
    ("lambda", "lambda", "linux/${{ matrix.arch }}"),
]


@pytest.mark.parametrize(("job", "target", "platforms"), BUILDS)
def test_each_image_is_built_pushed_and_labelled(job: str, target: str, platforms: str) -> None:
    build = build_step(load(RELEASE), job, target)["with"]
    assert build["platforms"] == platforms
    assert build["push"] is True
    assert build["file"] == "Containerfile"
    args = dict(line.split("=", 1) for line in build["build-args"].splitlines())
    assert set(args) == {"VERSION", "REVISION", "CREATED"}
    assert args["REVISION"] == "${{ github.sha }}"


@pytest.mark.parametrize("target", ["functions", "cluster-backup"])
def test_the_knative_images_carry_buildkit_sbom_and_max_provenance(target: str) -> None:
    build = build_step(load(RELEASE), "knative", target)["with"]
    assert build["sbom"] is True
    assert build["provenance"] == "mode=max"


def test_the_workflow_builds_targets_and_passes_arguments_the_containerfile_has() -> None:
    """The Containerfile's stages and ARGs (helper "image" rewrote it with these names)."""
    containerfile = (REPO / "Containerfile").read_text()
    stages = set(re.findall(r"(?im)^FROM\s+\S+\s+AS\s+(\S+)\s*$", containerfile))
    if "lambda" not in stages:
        pytest.skip(f"this Containerfile has no lambda/functions/cluster-backup stages: {stages}")
    args = set(re.findall(r"(?m)^ARG\s+(\w+)", containerfile))
    assert {target for _, target, _ in BUILDS} <= stages
    assert {"VERSION", "REVISION", "CREATED"} <= args


def test_the_lambda_images_are_single_manifests_with_sbom_attested_beside_them() -> None:
    """Lambda refuses an image index, which BuildKit's attestations would make of the image."""
    workflow = load(RELEASE)
    build = step_using(workflow, "lambda", "docker/build-push-action")["with"]
    assert build["sbom"] is False and build["provenance"] is False
    sbom = step_using(workflow, "lambda", "anchore/sbom-action")["with"]
    assert sbom["image"] == "${{ env.IMAGE }}@${{ steps.build.outputs.digest }}"
    assert "cosign attest --yes --type spdxjson --predicate sbom.spdx.json" in run_text(
        workflow, "lambda"
    )


SIGNED = [
    ("knative", "IMAGE", "DIGEST", "functions"),
    ("knative", "CLUSTER_BACKUP_IMAGE", "CLUSTER_BACKUP_DIGEST", "cluster-backup"),
    ("lambda", "IMAGE", "DIGEST", "build"),
]


@pytest.mark.parametrize(("job", "image", "digest", "step"), SIGNED)
def test_each_image_is_signed_keyless_by_digest_and_attested(
    job: str, image: str, digest: str, step: str
) -> None:
    workflow = load(RELEASE)
    step_using(workflow, job, "sigstore/cosign-installer")
    [signing] = [s for s in steps(workflow, job) if "cosign sign" in str(s.get("run", ""))]
    script = signing["run"]
    assert f'cosign sign --yes --recursive "${{{image}}}@${{{digest}}}"' in script or (
        job == "lambda" and f'cosign sign --yes "${{{image}}}@${{{digest}}}"' in script
    ), script
    assert "--key" not in script  # keyless: the workflow's OIDC identity, no key to keep
    assert signing["env"][digest] == f"${{{{ steps.{step}.outputs.digest }}}}"
    subject = workflow["env"][image]
    attests = [
        s["with"]
        for s in steps(workflow, job)
        if str(s.get("uses", "")).startswith("actions/attest-build-provenance@")
        and s["with"]["subject-digest"] == f"${{{{ steps.{step}.outputs.digest }}}}"
    ]
    assert [a["subject-name"] for a in attests] == [f"${{{{ env.{image} }}}}"], subject
    assert attests[0]["push-to-registry"] is True


# --------------------------------------------------------------------------- permissions


PERMISSIONS = {
    "knative": {
        "contents": "read",
        "packages": "write",
        "id-token": "write",
        "attestations": "write",
    },
    "lambda": {
        "contents": "read",
        "packages": "write",
        "id-token": "write",
        "attestations": "write",
    },
    "pin": {"contents": "write", "pull-requests": "write"},
}


def test_release_permissions_are_per_job_and_minimal() -> None:
    workflow = load(RELEASE)
    assert workflow["permissions"] == {}  # nothing by default: each job says what it uses
    assert {job: spec["permissions"] for job, spec in workflow["jobs"].items()} == PERMISSIONS
    for job, spec in workflow["jobs"].items():
        script = run_text(workflow, job)
        uses = " ".join(str(s.get("uses", "")) for s in spec["steps"])
        signs = "cosign " in script or "attest-build-provenance" in uses
        assert (spec["permissions"].get("id-token") == "write") == signs, job
        pushes = "docker/build-push-action" in uses
        assert (spec["permissions"].get("packages") == "write") == pushes, job


def test_ci_reads_only_and_runs_make_test() -> None:
    workflow = load(CI)
    assert workflow["permissions"] == {"contents": "read"}
    assert all("permissions" not in spec for spec in workflow["jobs"].values())
    assert set(workflow["on"]) == {"push", "pull_request"}
    assert [s["run"] for s in steps(workflow, "test") if "run" in s] == ["make test"]
    assert "make test" in (REPO / ".ci" / "run").read_text()


def test_no_expression_is_spliced_into_a_script() -> None:
    """Values reach `run:` scripts through env: (no `${{ }}` inside a script: script injection)."""
    for path in (RELEASE, CI):
        workflow = load(path)
        for job in workflow["jobs"]:
            for step in steps(workflow, job):
                assert "${{" not in str(step.get("run", "")), (path.name, job, step.get("name"))


# --------------------------------------------------------------------------- pinning knative/base


def service_images(build: Path) -> dict[str, list[str]]:
    return {
        doc["metadata"]["name"]: [c["image"] for c in doc["spec"]["template"]["spec"]["containers"]]
        for doc in kustomize_build(build)
        if doc["kind"] == "Service"
        and doc["apiVersion"].startswith("serving.knative.dev/")
        and doc["metadata"]["name"] in SERVICES
    }


def test_the_pin_step_pins_all_five_services_to_the_digests(tmp_path: Path) -> None:
    """The release's own pinning command, with the real kustomize, on a copy of the tree: each
    Service ends up on the digest of the image it names (cluster-backup's own image, once
    knative/base names it, else the one image)."""
    workflow = load(RELEASE)
    assert workflow["env"]["IMAGE"] == IMAGE
    assert workflow["env"]["CLUSTER_BACKUP_IMAGE"] == CLUSTER_BACKUP_IMAGE
    [pin] = [s for s in steps(workflow, "pin") if s.get("id") == "pin"]
    assert pin["env"] == {
        "DIGEST": "${{ needs.knative.outputs.functions-digest }}",
        "CLUSTER_BACKUP_DIGEST": "${{ needs.knative.outputs.cluster-backup-digest }}",
    }
    shutil.copytree(REPO / "knative", tmp_path / "knative")
    shutil.copytree(REPO / "triggers", tmp_path / "triggers")
    digests = {
        IMAGE: "sha256:" + "0123456789abcdef" * 4,
        CLUSTER_BACKUP_IMAGE: "sha256:" + "fedcba9876543210" * 4,
    }
    named = {
        name: [image.split("@")[0].rsplit(":", 1)[0] for image in images]
        for name, images in service_images(tmp_path / "knative" / "base").items()
    }
    assert set(named) == SERVICES
    assert {image for images in named.values() for image in images} <= set(digests), named
    kustomize = kustomize_command()
    assert Path(kustomize[0]).name == "kustomize", "the step runs the kustomize binary"
    path = os.pathsep.join([str(Path(kustomize[0]).parent), os.environ.get("PATH", "")])
    proc = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", pin["run"]],
        cwd=tmp_path,
        env={
            **os.environ,
            "PATH": path,
            "IMAGE": IMAGE,
            "CLUSTER_BACKUP_IMAGE": CLUSTER_BACKUP_IMAGE,
            "DIGEST": digests[IMAGE],
            "CLUSTER_BACKUP_DIGEST": digests[CLUSTER_BACKUP_IMAGE],
        },
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    expected = {
        name: [f"{image}@{digests[image]}" for image in images] for name, images in named.items()
    }
    for build in (tmp_path / "knative", tmp_path / "knative" / "base"):
        assert service_images(build) == expected
    # Only knative/base/kustomization.yaml changed: the pin is one reviewable hunk.
    changed = [
        str(p.relative_to(tmp_path))
        for p in tmp_path.rglob("*")
        if p.is_file() and p.read_bytes() != (REPO / p.relative_to(tmp_path)).read_bytes()
    ]
    assert changed == ["knative/base/kustomization.yaml"]
