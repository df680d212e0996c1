"""``backup2gitops completion bash|zsh|fish``: each script is loaded by the real shell, and
bash's completion function offers the verbs, the sub-verbs, the options and their choices."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from backup2gitops.cli import COMMANDS
from tests.functional.test_cli_errors import clean_env


@pytest.fixture(scope="module")
def scripts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("completion")
    found = {}
    for shell in ("bash", "zsh", "fish"):
        result = subprocess.run(
            [sys.executable, "-m", "backup2gitops", "completion", shell],
            capture_output=True,
            text=True,
            env=clean_env(folder),
            check=True,
            timeout=120,
        )
        found[shell] = folder / f"backup2gitops.{shell}"
        found[shell].write_text(result.stdout)
    return found


def complete_in_bash(script: Path, line: str) -> list[str]:
    """What bash's completion function offers for ``line`` (the cursor at its end)."""
    words = line.split(" ")
    program = (
        f"source {script}\n"
        f"COMP_WORDS=({' '.join(repr(w) for w in words)})\n"
        f"COMP_CWORD={len(words) - 1}\n"
        "_backup2gitops\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    result = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", program],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert result.stderr == ""
    return sorted(result.stdout.split())


def test_bash_loads_the_script_and_complete_shows_it(scripts: dict[str, Path]) -> None:
    result = subprocess.run(
        [
            "bash",
            "--norc",
            "--noprofile",
            "-c",
            f"source {scripts['bash']}; complete -p backup2gitops",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert result.stdout.strip() == "complete -o filenames -F _backup2gitops backup2gitops"


def test_bash_completes_the_verbs_sub_verbs_options_and_choices(scripts: dict[str, Path]) -> None:
    script = scripts["bash"]
    assert complete_in_bash(script, "backup2gitops ") == sorted(COMMANDS)
    assert complete_in_bash(script, "backup2gitops ge") == ["generate"]
    assert complete_in_bash(script, "backup2gitops --debug con") == ["config"]
    assert complete_in_bash(script, "backup2gitops config ") == ["rbac", "reference", "validate"]
    assert complete_in_bash(script, "backup2gitops generate --re") == ["--repo"]
    assert complete_in_bash(script, "backup2gitops demo -o ") == ["json", "name", "table", "yaml"]
    assert complete_in_bash(script, "backup2gitops config validate --output y") == ["yaml"]
    assert complete_in_bash(script, "backup2gitops completion ") == ["bash", "fish", "zsh"]
    # the value of an option is not taken for a verb: "config" here is a file name
    assert "--repo" in complete_in_bash(script, "backup2gitops generate --config config --r")


def test_zsh_loads_the_script_after_compinit(scripts: dict[str, Path]) -> None:
    if shutil.which("zsh") is None:
        pytest.skip("zsh is installed by scripts/install-test-deps.sh")
    program = (
        "autoload -U compinit && compinit -u -d $TMPDIR/zcompdump\n"
        f"source {scripts['zsh']}\n"
        "print -r -- ${_comps[backup2gitops]}\n"
    )
    result = subprocess.run(
        ["zsh", "-f", "-c", program],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={"TMPDIR": str(scripts["zsh"].parent), "PATH": "/usr/bin:/bin"},
    )
    assert "_backup2gitops" in result.stdout, result.stdout + result.stderr


def test_fish_loads_the_script_and_completes_the_verbs(scripts: dict[str, Path]) -> None:
    if shutil.which("fish") is None:
        pytest.skip("fish is installed by scripts/install-test-deps.sh")
    home = scripts["fish"].parent / "home"
    home.mkdir(exist_ok=True)
    env = {"HOME": str(home), "XDG_CONFIG_HOME": str(home), "PATH": "/usr/bin:/bin"}

    def complete(line: str) -> list[str]:
        result = subprocess.run(
            ["fish", "--no-config", "-c", f"source {scripts['fish']}; complete -C {line!r}"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
            env=env,
        )
        return sorted(entry.split("\t")[0] for entry in result.stdout.splitlines())

    assert complete("backup2gitops ") == sorted(COMMANDS)
    assert complete("backup2gitops config ") == ["rbac", "reference", "validate"]
    assert complete("backup2gitops demo --output ") == ["json", "name", "table", "yaml"]
    assert complete("backup2gitops completion ") == ["bash", "fish", "zsh"]
