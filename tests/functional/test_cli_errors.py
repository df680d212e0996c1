"""The CLI as a user meets it, in a subprocess: one-line errors, exit codes, ``--debug``.

Exit codes (README "Use it"): 0 success, 1 the work failed, 2 usage or invalid configuration.
Each case asserts stderr is one line with no traceback, and the first also that ``--debug``
brings the traceback back.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from backup2gitops.cli import COMMANDS, build_parser, main
from tests.fixtures.native import native_backup

ROOT = Path(__file__).resolve().parents[2]


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """No AWS credentials or config, no configuration file, a throwaway HOME."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "BACKUP2GITOPS_")) and k != "K_SINK"
    }
    env.update(
        HOME=str(tmp_path / "home"),
        AWS_EC2_METADATA_DISABLED="true",
        BACKUP2GITOPS_CACHE_DIR=str(tmp_path / "cache"),
        PYTHONPATH=str(ROOT / "functions"),
    )
    env.update(extra)
    return env


def cli(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "backup2gitops", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env or clean_env(tmp_path),
        cwd=tmp_path,
        check=False,
    )


def one_line_error(result: subprocess.CompletedProcess[str], status: int) -> str:
    assert result.returncode == status, (result.returncode, result.stderr[-3000:])
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def write_config(tmp_path: Path, text: str) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return str(path)


def test_generate_from_s3_without_credentials_is_one_line_and_debug_shows_the_traceback(
    tmp_path: Path,
) -> None:
    args = ("generate", "s3://backups/x/resources.tar.gz", "--repo", str(tmp_path / "r.git"))
    line = one_line_error(cli(tmp_path, *args, "--cluster", "c"), 1)
    assert line.startswith("generate: ") and "NoCredentialsError" in line
    assert "AWS_ACCESS_KEY_ID" in line and "--debug" in line
    debug = cli(tmp_path, "--debug", *args, "--cluster", "c")
    assert debug.returncode == 1 and "Traceback" in debug.stderr
    after_verb = cli(tmp_path, *args, "--cluster", "c", "--debug")
    assert "Traceback" in after_verb.stderr


def test_generate_with_an_invalid_cleaning_names_the_field(tmp_path: Path) -> None:
    config = write_config(tmp_path, "generator: {cleaning: {secrets: encrypt}}\n")
    result = cli(tmp_path, "generate", str(tmp_path), "--repo", "r.git", "--config", config)
    assert "generator.cleaning.secrets" in one_line_error(result, 2)


def test_generate_with_an_unknown_transform_names_it(tmp_path: Path) -> None:
    config = write_config(tmp_path, "generator: {transforms: [no-such-transform]}\n")
    result = cli(tmp_path, "generate", str(tmp_path), "--repo", "r.git", "--config", config)
    assert "unknown transform 'no-such-transform'" in one_line_error(result, 2)


def test_generate_of_a_missing_source_is_a_usage_error(tmp_path: Path) -> None:
    result = cli(tmp_path, "generate", str(tmp_path / "absent.tar.gz"), "--repo", "r.git")
    assert "no backup at" in one_line_error(result, 2)


def test_demo_without_git_on_path(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    result = cli(tmp_path, "demo", env=clean_env(tmp_path, PATH=str(empty)))
    assert one_line_error(result, 1) == "demo: git is not installed (not found on PATH)"


def test_generate_without_git_on_path(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    env = clean_env(tmp_path, PATH=str(empty))
    result = cli(tmp_path, "generate", str(tmp_path), "--repo", "r.git", env=env)
    assert "git is not installed" in one_line_error(result, 1)


def test_demo_with_a_workdir_that_cannot_be_made(tmp_path: Path) -> None:
    line = one_line_error(cli(tmp_path, "demo", "--workdir", "/proc/nope"), 1)
    assert line.startswith("demo: cannot use --workdir /proc/nope")


def test_schemas_into_a_closed_pipe_is_quiet(tmp_path: Path) -> None:
    """``schemas | head -1``: the reader has gone; no BrokenPipeError, status 0.

    The pipe's read end is closed before the command starts, so its first write fails, every
    time (a reader that leaves after one line races with a 54 kB write into a 64 kB pipe).
    """
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "backup2gitops", "schemas"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            env=clean_env(tmp_path),
            timeout=120,
            check=False,
        )
    finally:
        os.close(write_end)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_unknown_verb_and_missing_argument_are_usage_errors(tmp_path: Path) -> None:
    line = one_line_error(cli(tmp_path, "frobnicate"), 2)
    assert line.startswith("backup2gitops: argument VERB: invalid choice: 'frobnicate'")
    line = one_line_error(cli(tmp_path, "generate"), 2)
    assert line == (
        "backup2gitops generate: the following arguments are required: source, --repo "
        "(--help shows the usage)"
    )


# verb -> (arguments, exit status, part of the line, whether --debug shows a traceback: only
# where the error is an exception, not a refusal the verb words itself)
EVERY_VERB: dict[str, tuple[tuple[str, ...], int, str, bool]] = {
    "demo": (
        ("demo", "--workdir", "/proc/nope"),
        1,
        "demo: cannot use --workdir /proc/nope",
        False,
    ),
    "serve": (
        ("serve", "--workdir", "/proc/nope"),
        1,
        "/proc/nope: No such file or directory",
        True,
    ),
    "generate": (("generate", "absent.tar.gz", "--repo", "r.git"), 2, "no backup at absent", False),
    "backup": (("backup", "--to", "ftp://x", "--cluster", "prod"), 2, "want file:///path", False),
    "neat": (("neat", "-f", "absent.yaml"), 2, "absent.yaml", False),
    "config": (("config", "validate", "absent.yaml"), 2, "absent.yaml", False),
    "schemas": (("schemas", "--out", "/proc/nope"), 1, "/proc/nope: No such file", True),
    "status": (("status", "--url", "http://127.0.0.1:9"), 2, "did not answer", False),
    "completion": (("completion", "tcsh"), 2, "invalid choice: 'tcsh'", False),
}


@pytest.mark.parametrize("verb", sorted(COMMANDS))
def test_an_error_in_every_verb_is_one_line_on_stderr_without_a_traceback(
    verb: str, tmp_path: Path
) -> None:
    """A verb without a case here fails: each new verb must show its error is one line."""
    args, status, fragment, raised = EVERY_VERB[verb]
    result = cli(tmp_path, *args)
    line = one_line_error(result, status)
    # the verb names itself; config validate names the file, as a linter does
    assert line.startswith((f"{verb}: ", f"backup2gitops {verb}: ", "absent.yaml: ")), line
    assert fragment in line, line
    assert result.stdout == ""
    if raised:
        debug = cli(tmp_path, "--debug", *args)
        assert debug.returncode == status and "Traceback" in debug.stderr


RST = re.compile(r"``|:(?:[a-z]+:)?[a-z]+:`|^\s*\.\. |::\s*$|`[^`\n]+`_", re.MULTILINE)
"""reStructuredText that a docstring would bring into --help: ``literal``, :role:`x`,
.. directives, a literal block's ``::``, `link`_."""


def every_parser() -> list[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    found = []

    def walk(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> None:
        found.append((path, parser))
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, (*path, name))

    walk(build_parser(), ())
    return found


@pytest.mark.parametrize(
    "path", [path for path, _ in every_parser()], ids=lambda p: " ".join(p) or "top"
)
def test_no_help_text_has_rst_markup(
    path: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    """Every verb's and sub-verb's ``--help``, as the command prints it (``neat --help`` did)."""
    with pytest.raises(SystemExit) as exited:
        main([*path, "--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith("usage: backup2gitops")
    assert not RST.findall(text), RST.findall(text)


def test_the_rst_check_finds_markup() -> None:
    for text in ("see ``x``", "a :class:`Config`", ".. note::", "example::\n", "`site`_"):
        assert RST.search(text), text
    assert not RST.search("-o json (default: table); file: PATH, 2026-12-01T02:00:00Z")


def test_backup_to_an_unknown_scheme(tmp_path: Path) -> None:
    result = cli(tmp_path, "backup", "--to", "ftp://x", "--cluster", "prod")
    assert "want file:///path or s3://bucket/prefix" in one_line_error(result, 2)


def test_neat_of_a_missing_file(tmp_path: Path) -> None:
    one_line_error(cli(tmp_path, "neat", "-f", str(tmp_path / "absent.yaml")), 2)


def test_config_validate_of_an_invalid_file(tmp_path: Path) -> None:
    config = write_config(tmp_path, "git: {push_attempts: 0}\n")
    assert "git.push_attempts" in one_line_error(cli(tmp_path, "config", "validate", config), 2)


def test_version(tmp_path: Path) -> None:
    result = cli(tmp_path, "--version")
    assert result.returncode == 0 and result.stdout.startswith("backup2gitops ")


def test_help_imports_no_verb_and_no_sdk(tmp_path: Path) -> None:
    """``backup2gitops --help`` loads the parser only (figures: docs/performance.md)."""
    code = (
        "import sys\n"
        "from backup2gitops.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = ('backup2gitops.config', 'backup2gitops.cli.demo', 'backup2gitops.cli.serve',"
        " 'pydantic', 'flask', 'boto3', 'git', 'yaml', 'kubernetes', 'rich')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=clean_env(tmp_path),
        check=True,
        timeout=120,
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("verb", sorted(COMMANDS))
def test_help_has_no_markup_and_names_the_exit_codes(verb: str, tmp_path: Path) -> None:
    result = cli(tmp_path, verb, "--help")
    assert result.returncode == 0, result.stderr
    assert "``" not in result.stdout and ":func:" not in result.stdout
    assert "exit status: 0 success, 1 failure, 2 usage" in result.stdout


def _verb_parser(parser: argparse.ArgumentParser, verb: str) -> argparse.ArgumentParser:
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    found: argparse.ArgumentParser = subparsers.choices[verb]
    return found


@pytest.mark.parametrize("verb", sorted(COMMANDS))
def test_a_verb_s_parser_built_alone_is_the_one_built_with_all(verb: str) -> None:
    """``VERB ...`` builds VERB's parser only; its help and usage are the ones the whole
    parser has, and ``--help VERB`` (the top level's help) still lists every verb."""
    alone = build_parser([verb, "--help"])
    whole = build_parser()
    assert _verb_parser(alone, verb).format_help() == _verb_parser(whole, verb).format_help()
    assert _verb_parser(alone, verb).format_usage() == _verb_parser(whole, verb).format_usage()
    verbs = next(a for a in alone._actions if a.dest == "verb")
    assert list(verbs.choices or ()) == [verb]  # the other verbs' parsers are not built
    for argv in (["--help", verb], ["--version", verb], ["--debug", "--help", verb]):
        assert build_parser(argv).format_help() == whole.format_help()
    assert build_parser(["--debug", verb]).format_usage() == alone.format_usage()


def test_the_top_level_help_lines_are_the_verbs_own() -> None:
    subparsers = next(a for a in build_parser()._actions if a.dest == "verb")
    helps = {c.dest: c.help for c in subparsers._choices_actions}  # type: ignore[attr-defined]
    assert helps == {verb: help_text for verb, (_, help_text) in COMMANDS.items()}


def test_generate_names_the_backup_by_its_folder(tmp_path: Path) -> None:
    backup = native_backup(cluster="prod", backup_id="20261123t020000z")
    archive = tmp_path / "20261123t020000z" / "resources.tar.gz"
    archive.parent.mkdir()
    archive.write_bytes(backup.archive)
    repo = str(tmp_path / "r.git")
    result = cli(
        tmp_path, "generate", str(archive), "--repo", repo, "--cluster", "prod", "-o", "yaml"
    )
    assert result.returncode == 0, result.stderr
    assert "backup_id: 20261123t020000z\n" in result.stdout
    log = subprocess.run(
        ["git", "--git-dir", repo, "log", "-1", "--format=%s"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "backup 20261123t020000z" in log


def test_a_remote_made_by_generate_clones_without_a_head_warning(tmp_path: Path) -> None:
    """``ensure_bare_remote`` makes ``main`` the remote's HEAD, the branch the tool pushes."""
    backup = native_backup(cluster="prod", backup_id="20261123t020000z")
    archive = tmp_path / "resources.tar.gz"
    archive.write_bytes(backup.archive)
    repo = tmp_path / "r.git"
    env = clean_env(tmp_path, GIT_CONFIG_GLOBAL=str(tmp_path / "gitconfig"))
    (tmp_path / "gitconfig").write_text("[init]\n\tdefaultBranch = master\n")
    result = cli(
        tmp_path, "generate", str(archive), "--repo", str(repo), "--cluster", "prod", env=env
    )
    assert result.returncode == 0, result.stderr
    clone = subprocess.run(
        ["git", "clone", str(repo), str(tmp_path / "clone")],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert "warning" not in clone.stderr.lower(), clone.stderr
    assert (tmp_path / "clone" / "clusters" / "prod").is_dir()
