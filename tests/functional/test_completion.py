"""``backup2gitops completion bash|zsh|fish``: each script is loaded by the real shell, and
bash's and fish's completions offer the verbs, the sub-verbs, the options, their choices and
file names for the values that are not choices (the scripts are shtab's, cli/completion.py)."""

from __future__ import annotations

import shlex
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


def complete_in_bash(script: Path, line: str, cwd: Path | None = None) -> list[str]:
    """What bash's completion function offers for ``line`` (the cursor at its end), called as
    bash calls it: COMP_* set, and the command, the current word and the previous word."""
    words = line.split(" ")
    program = (
        f"source {script}\n"
        f"COMP_WORDS=({' '.join(shlex.quote(w) for w in words)})\n"
        f"COMP_CWORD={len(words) - 1}\n"
        f"COMP_LINE={shlex.quote(line)}\n"
        f"COMP_POINT={len(line)}\n"
        f"_shtab_backup2gitops backup2gitops {shlex.quote(words[-1])} {shlex.quote(words[-2])}\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    result = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", program],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        cwd=cwd,
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
    assert result.stdout.strip() == "complete -o bashdefault -F _shtab_backup2gitops backup2gitops"


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


def test_bash_completes_file_names_for_values_that_are_not_choices(
    scripts: dict[str, Path], tmp_path: Path
) -> None:
    (tmp_path / "cluster.yaml").write_text("{}\n")
    (tmp_path / "notes.txt").write_text("\n")
    script = scripts["bash"]
    assert complete_in_bash(script, "backup2gitops generate --config c", tmp_path) == [
        "cluster.yaml"
    ]
    assert complete_in_bash(script, "backup2gitops neat -f ", tmp_path) == [
        "cluster.yaml",
        "notes.txt",
    ]
    # a choice is never a file name
    assert complete_in_bash(script, "backup2gitops neat --secrets r", tmp_path) == ["redact"]


def test_zsh_loads_the_script_after_compinit(scripts: dict[str, Path]) -> None:
    """As the help says: eval "$(backup2gitops completion zsh)" after compinit."""
    if shutil.which("zsh") is None:
        pytest.skip("zsh is installed by scripts/install-test-deps.sh")
    program = (
        "autoload -U compinit && compinit -u -d $TMPDIR/zcompdump\n"
        f'eval "$(<{scripts["zsh"]})"\n'
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
    assert result.stdout.strip() == "_shtab_backup2gitops", result.stdout + result.stderr
    assert result.stderr == ""


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
    assert complete("backup2gitops generate --re") == ["--repo"]
