"""Time from the first git command to ``git_unavailable`` on a remote that accepts the
connection and never answers (issue 22 item 2), on git:// and http://. Not a test.

    python benchmarks/bench_git_deadline.py [--timeout-s 5] [--repeat 3]

Opens a ``GitRemote`` (the clone's fetch is the first network call) with ``git.timeout_s`` set,
and prints, per scheme, the seconds until the error, and whether every connection the server
accepted was closed afterwards (git and its helpers killed, not left holding a socket).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "functions")]

from backup2gitops.adapters.git import GitError, GitRemote  # noqa: E402
from tests.functional.stalled_remote import stalled_remote  # noqa: E402


def time_to_unavailable(scheme: str, timeout_s: float, cache: Path) -> dict[str, object]:
    with stalled_remote() as remote:
        git = GitRemote(
            url=f"{scheme}://127.0.0.1:{remote.port}/gitops.git",
            branch="main",
            cache_dir=cache,
            author_name="bench",
            author_email="bench@example.com",
            timeout_s=timeout_s,
        )
        started = time.perf_counter()
        try:
            with git.open():
                pass
        except GitError as exc:
            code = exc.code
        else:
            code = "no error"
        seconds = time.perf_counter() - started
        closed = remote.wait_until_all_closed(timeout_s=60)
    return {"scheme": scheme, "code": code, "seconds": round(seconds, 2), "closed": closed}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--timeout-s", type=float, default=5.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as name:
        for scheme in ("git", "http"):
            for n in range(args.repeat):
                rows.append(
                    time_to_unavailable(scheme, args.timeout_s, Path(name) / f"{scheme}{n}")
                )
    print(json.dumps({"git.timeout_s": args.timeout_s, "runs": rows}, indent=2))


if __name__ == "__main__":
    main()
