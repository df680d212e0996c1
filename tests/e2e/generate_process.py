"""``backup2gitops generate`` as a process of its own (the e2e tests that race or kill it)."""

from __future__ import annotations

import sys
from pathlib import Path


def generate_argv(tarball: Path, *, url: str, backup_id: str, cluster: str = "prod") -> list[str]:
    """The command line of ``generate TARBALL --repo URL --cluster CLUSTER --backup-id ID --json``
    under this interpreter."""
    return [
        sys.executable,
        "-m",
        "backup2gitops",
        "generate",
        str(tarball),
        "--repo",
        url,
        "--cluster",
        cluster,
        "--backup-id",
        backup_id,
        "--json",
    ]
