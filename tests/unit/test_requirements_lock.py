"""The image's hash-locked requirements (requirements/*.txt, scripts/lock-requirements.sh) still
match pyproject.toml: every dependency pinned to a version its range allows, every pin with its
hashes, kubernetes only in cluster-backup's lock, the pins the locks share equal, awslambdaric
pinned like the tests' Lambda runtime (scripts/install-aws-test-deps.sh)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]
LOCKS = REPO / "requirements"
REGENERATE = "regenerate: pip install uv==0.13.8 && ./scripts/lock-requirements.sh"


def pins(name: str) -> dict[str, Version]:
    """The lock's ``name==version`` lines; each must carry at least one sha256."""
    text = (LOCKS / f"{name}.txt").read_text()
    found: dict[str, Version] = {}
    for entry in re.split(r"\n(?=\S)", text):
        line = entry.split("\n", 1)[0]
        if not line or line.startswith("#"):
            continue
        match = re.match(r"^([A-Za-z0-9._-]+)==([^ \\;]+)", line)
        assert match, f"requirements/{name}.txt: not an exact pin: {line!r}; {REGENERATE}"
        assert "--hash=sha256:" in entry, f"requirements/{name}.txt: {line} has no hash"
        found[canonicalize_name(match[1])] = Version(match[2])
    return found


def project() -> dict[str, object]:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def dependencies() -> list[Requirement]:
    deps = project()["project"]
    assert isinstance(deps, dict)
    return [Requirement(d) for d in deps["dependencies"]]


@pytest.mark.parametrize("lock", ["functions", "cluster-backup"])
def test_lock_pins_every_dependency_within_its_range(lock: str) -> None:
    locked = pins(lock)
    for req in dependencies():
        name = canonicalize_name(req.name)
        if lock == "functions" and name == "kubernetes":
            continue
        assert name in locked, f"requirements/{lock}.txt lacks {req}; {REGENERATE}"
        assert req.specifier.contains(locked[name], prereleases=True), (
            f"requirements/{lock}.txt pins {name}=={locked[name]}, pyproject wants {req}; {REGENERATE}"
        )


def test_kubernetes_only_where_cluster_backup_runs() -> None:
    assert "kubernetes" not in pins("functions")
    assert "kubernetes" in pins("cluster-backup")


def test_shared_pins_are_equal() -> None:
    functions, cluster_backup, lambda_ = pins("functions"), pins("cluster-backup"), pins("lambda")
    for name, version in functions.items():
        assert cluster_backup.get(name) == version, f"{name}: {REGENERATE}"
    for name, version in lambda_.items():
        assert cluster_backup.get(name, version) == version, f"{name}: {REGENERATE}"


def test_awslambdaric_pinned_like_the_tests_runtime() -> None:
    script = (REPO / "scripts" / "install-aws-test-deps.sh").read_text()
    match = re.search(r'^AWSLAMBDARIC_VERSION="([^"]+)"', script, re.MULTILINE)
    assert match
    assert pins("lambda")["awslambdaric"] == Version(match[1]), REGENERATE


def test_build_lock_satisfies_the_build_system() -> None:
    build = pins("build")
    system = project()["build-system"]
    assert isinstance(system, dict)
    for requirement in system["requires"]:
        req = Requirement(requirement)
        name = canonicalize_name(req.name)
        assert name in build, f"requirements/build.txt lacks {req}; {REGENERATE}"
        assert req.specifier.contains(build[name], prereleases=True), REGENERATE
