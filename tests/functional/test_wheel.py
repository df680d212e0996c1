"""The package as a user installs it: the built wheel, in a fresh virtual environment, run
from outside the checkout. Every file a verb reads (Triggers, sample, default configuration)
must be package data, or ``demo`` fails here.

The wheel is built offline (``pip wheel --no-build-isolation``: setuptools and wheel come from
the dev extras) and installed with ``--no-deps`` into a venv that sees the already-installed
dependencies (``--system-site-packages``, and those of the Python running the test when that is
itself a venv), so no network is needed.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, capture_output=True, text=True, cwd=cwd, env=env, timeout=600, check=False
    )


def see_the_dependencies_of_this_python(python: Path) -> None:
    """Make the venv of ``python`` see the site-packages of the Python running this test.

    ``system_site_packages`` means the *base* interpreter's: when this test runs inside a venv
    (the README's ``make test``), the dependencies live in that venv, which the new one would
    not see. A ``.pth`` file appends them after the venv's own site-packages, so the wheel
    installed there is still the ``backup2gitops`` imported, never the checkout's."""
    inner = run(
        str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))",
        cwd=python.parent, env={},
    )  # fmt: skip
    outer = [*site.getsitepackages(), site.getusersitepackages()]
    (Path(inner.stdout.strip()) / "_dependencies_of_the_test_python.pth").write_text(
        "".join(f"{path}\n" for path in outer if Path(path).is_dir())
    )


def test_the_wheel_carries_what_its_verbs_need_and_demo_runs_from_it(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "BACKUP2GITOPS_"))}
    env["HOME"] = str(tmp_path / "home")
    env["BACKUP2GITOPS_CACHE_DIR"] = str(tmp_path / "cache")
    # built from a copy of what the build reads: nothing stale (build/, *.egg-info) gets in
    source = tmp_path / "source"
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    for folder in ("functions", "triggers"):
        shutil.copytree(ROOT / folder, source / folder, symlinks=True, ignore=skip)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    dist = tmp_path / "dist"
    build = run(
        sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
        "--no-index", "-w", str(dist), str(source), cwd=tmp_path, env=env,
    )  # fmt: skip
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    (wheel,) = dist.glob("backup2gitops-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "backup2gitops/triggers/kustomization.yaml",
        "backup2gitops/triggers/gitops-generator-backup-completed.yaml",
        "backup2gitops/config.yaml",
        "backup2gitops/sample/__init__.py",
        "gitops_generator/handler.py",
    ):
        assert needed in names, needed
    assert any(n.startswith("backup2gitops/sample/resources/") for n in names)

    env_dir = tmp_path / "venv"
    venv.create(env_dir, system_site_packages=True, with_pip=False)
    python = env_dir / "bin" / "python"
    see_the_dependencies_of_this_python(python)
    install = run(
        sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
        "--no-index", str(wheel), cwd=tmp_path, env=env,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr[-3000:]
    where = run(
        str(python), "-c", "import backup2gitops; print(backup2gitops.__file__)",
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert where.stdout.startswith(str(env_dir)), where.stdout + where.stderr  # not the checkout

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    script = env_dir / "bin" / "backup2gitops"
    demo = run(str(script), "demo", "--json", cwd=outside, env=env)
    assert demo.returncode == 0, demo.stderr[-3000:]
    report = json.loads(demo.stdout)
    assert report["commit"] and report["objects"] > 20 and not report["dead_letters"]
    assert Path(report["workdir"]).parent == outside
    shipped = env_dir.glob("lib/python*/site-packages/backup2gitops/config.yaml")
    lambda_env = env | {  # the variables template.yaml sets
        "BACKUP2GITOPS_BUCKET": "backups",
        "BACKUP2GITOPS_GIT_URL": "https://git.example.com/platform/clusters.git",
    }
    validate = run(
        str(script), "config", "validate", str(next(shipped)), cwd=outside, env=lambda_env
    )
    assert validate.returncode == 0, validate.stderr
    version = run(str(script), "--version", cwd=outside, env=env)
    assert version.stdout.strip() == "backup2gitops 0.1.0"
