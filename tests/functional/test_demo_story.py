"""What ``demo`` tells a new user, run as they run it (a subprocess, no server).

The first run says what was read, what was excluded and why, what was committed and in which
order the functions ran; the second says truthfully that nothing changed. The functions' JSON
log lines go to WORKDIR/demo.log unless ``-v``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from tests.functional.test_cli_errors import clean_env


def demo(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "backup2gitops", "demo", "--workdir", str(tmp_path / "w"), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=clean_env(tmp_path),
        cwd=tmp_path,
        check=False,
    )


def test_the_first_run_tells_the_story_and_the_second_that_nothing_changed(
    tmp_path: Path,
) -> None:
    first = demo(tmp_path)
    assert first.returncode == 0, first.stderr
    out = first.stdout
    assert '"level"' not in out + first.stderr  # JSON log lines are in the log file
    log = (tmp_path / "w" / "demo.log").read_text().splitlines()
    assert log and all(json.loads(line)["service"].startswith("backup2gitops.") for line in log)

    read = re.search(r"^Read backup demo/(\S+) \(native format, (\d+) objects", out, re.M)
    assert read, out
    excluded = re.search(r"^Excluded (\d+) objects:$", out, re.M)
    assert excluded, out
    reasons = dict(
        (reason, int(count)) for count, reason in re.findall(r"^ +(\d+)  (\S.*)$", out, re.M)
    )
    assert sum(reasons.values()) == int(excluded.group(1))
    assert reasons["builtin: owned by a controller, which recreates it"] >= 2  # grouped
    assert reasons["policy: secrets are excluded"] >= 1
    committed = re.search(
        r"^Committed \w+ to .*, objects (\d+) added, 0 changed, 0 removed", out, re.M
    )
    assert committed, out
    listed = re.findall(r"^  added     (clusters/\S+)$", out, re.M)
    assert len(listed) == int(committed.group(1)) and "kustomization.yaml" not in " ".join(listed)
    assert int(read.group(2)) == int(excluded.group(1)) + int(committed.group(1))
    order = re.findall(r"^  \d\. (\S+) +got (\S+)", out, re.M)
    assert order[0] == ("backup-complete", "MinIO's")
    assert ("gitops-generator", "backup.completed:") in order
    assert ("health-aggregator", "gitops.generated:") in order
    assert "Alerts: none." in out

    second = demo(tmp_path)
    assert second.returncode == 0, second.stderr
    again = second.stdout
    assert again.startswith(f"Nothing changed. Backup demo/{read.group(1)} was announced again")
    assert "no file written, no new commit" in again
    assert "Committed" not in again and "Excluded" not in again and "clusters/" not in again


def test_json_lists_no_alert_on_a_healthy_run_and_v_prints_the_logs(tmp_path: Path) -> None:
    result = demo(tmp_path, "--json", "-v")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["health"]["status"] == "healthy"
    assert "io.backup2gitops.health.changed" in report["events"]  # first report: unknown -> ok
    assert report["alerts"] == []
    assert report["excluded"] == sum(report["excluded_by_reason"].values()) > 0
    assert '"level":"INFO"' in result.stderr.replace(" ", "")
    assert not (tmp_path / "w" / "demo.log").exists()


def test_yaml_output(tmp_path: Path) -> None:
    result = demo(tmp_path, "-o", "yaml")
    assert result.returncode == 0, result.stderr
    assert "\nnoop: false\n" in result.stdout and "\nexcluded_by_reason:\n" in result.stdout
