"""Every ``sh`` command shown in README.md and docs/ runs as written (in a scratch directory),
so that the documentation stays true. Commands that deploy, install or need a running server
are skipped by the documented list below; everything else must exit 0 with no traceback.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

# Not run here, and why (deployment commands -- kubectl apply, sam deploy, docker build -- are
# shown inline, not in sh blocks; an entry is added here when one is): each is a prefix of one command (the parts of a line split on "&&").
SKIPPED = {
    "python3 -m venv": "makes a virtual environment (tests/functional/test_wheel.py does)",
    ". .venv/bin/activate": "follows the venv",
    "pip install": "needs the network (test_wheel.py installs the built wheel offline)",
    "make test": "the whole suite: this test is part of it",
    "curl ": "needs `backup2gitops serve` running (tests/e2e/test_demo_and_serve.py)",
    "git --git-dir /tmp/b2g": "reads serve's remote (tests/e2e/test_demo_and_serve.py)",
    # docs/release.md: a release and the checks of a published image need GitHub and a registry
    # (tests/deploy/test_release_workflow.py checks the workflow offline)
    "git tag -s v": "signs and pushes a release tag",
    "git push origin v": "signs and pushes a release tag",
    "cosign ": "verifies a published image (needs the registry and Sigstore)",
    "gh attestation ": "verifies a published image (needs GitHub)",
    "docker buildx imagetools ": "reads a published image (needs the registry)",
}


def sh_commands(text: str) -> list[str]:
    """The lines of every fenced ``sh`` block (``\\`` continuations joined)."""
    lines: list[str] = []
    for block in re.findall(r"^```sh\n(.*?)^```", text, re.M | re.S):
        lines += [line for line in block.replace("\\\n", " ").splitlines() if line.strip()]
    return lines


def runnable(line: str) -> str | None:
    parts = [p.strip() for p in line.split("&&")]
    kept = [p for p in parts if not any(p.startswith(prefix) for prefix in SKIPPED)]
    return " && ".join(kept) or None


def test_every_safe_command_in_the_docs_runs(tmp_path: Path) -> None:
    (tmp_path / "functions").symlink_to(ROOT / "functions")  # paths are the checkout's
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BACKUP2GITOPS_"))}
    env.update(
        HOME=str(tmp_path / "home"),
        PYTHONPATH=str(ROOT / "functions"),
        BACKUP2GITOPS_CACHE_DIR=str(tmp_path / "cache"),
        BACKUP2GITOPS_BUCKET="backups",  # as template.yaml sets them for the shipped config
        BACKUP2GITOPS_GIT_URL="https://git.example.com/platform/clusters.git",
    )
    prelude = f'set -o pipefail\nbackup2gitops() {{ "{sys.executable}" -m backup2gitops "$@"; }}\n'
    ran = []
    for document in DOCUMENTS:
        for line in sh_commands(document.read_text()):
            command = runnable(line)
            if command is None:
                continue
            result = subprocess.run(
                ["bash", "-c", prelude + command],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            where = f"{document.name}: {line}"
            assert result.returncode == 0, (
                f"{where}\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
            )
            assert "Traceback" not in result.stderr, where
            ran.append(command)
    assert len(ran) >= 7, ran  # the README's examples are really run, not all skipped
    assert "backup2gitops demo" in ran


def test_the_skip_list_is_used() -> None:
    """A prefix nothing matches any more is a stale entry: remove it."""
    lines = [line for d in DOCUMENTS for line in sh_commands(d.read_text())]
    parts = [p.strip() for line in lines for p in line.split("&&")]
    unused = [prefix for prefix in SKIPPED if not any(p.startswith(prefix) for p in parts)]
    assert unused == []
