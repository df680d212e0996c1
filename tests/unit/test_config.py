from pathlib import Path

import pytest

from backup2gitops.config import ConfigError, SecretRef, load_config, parse_config


def test_embedded_defaults_are_valid() -> None:
    config = parse_config("{}", {})
    assert config.storage.url.startswith("file://")
    assert config.alerts.receivers[0].type == "console"


def test_variables_expand_with_defaults_and_fail_when_unset() -> None:
    text = "git:\n  url: ${REMOTE}\n  branch: ${BRANCH:-main}\n"
    assert parse_config(text, {"REMOTE": "/srv/r.git"}).git.url == "/srv/r.git"
    assert parse_config(text, {"REMOTE": "/srv/r.git"}).git.branch == "main"
    with pytest.raises(ConfigError, match=r"^git\.url: \$\{REMOTE\} is not set and has no default"):
        parse_config(text, {})


def test_a_variable_in_a_comment_is_only_a_comment() -> None:
    text = (
        "# set ${UNSET_IN_A_COMMENT} to change the branch\n"
        "git:\n"
        "  branch: prod   # or ${ANOTHER_UNSET}\n"
    )
    assert parse_config(text, {}).git.branch == "prod"


def test_a_value_holding_space_hash_is_never_cut() -> None:
    environ = {"AUTHOR": "Ops team #2", "BRANCH": "release #7"}
    text = 'git:\n  author_name: ${AUTHOR}\n  branch: "${BRANCH} #x"\n  author_email: "a #b@c"\n'
    git = parse_config(text, environ).git
    assert git.author_name == "Ops team #2"
    assert git.branch == "release #7 #x"
    assert git.author_email == "a #b@c"


def test_a_default_cut_by_a_comment_is_an_error_not_a_silent_value() -> None:
    with pytest.raises(ConfigError, match=r"^git\.branch: a malformed \$\{\.\.\.\} reference"):
        parse_config("git:\n  branch: ${BRANCH:-a #b}\n", {})
    assert parse_config('git:\n  branch: "${BRANCH:-a #b}"\n', {}).git.branch == "a #b"


def test_a_missing_variable_names_the_field_in_a_list() -> None:
    text = "alerts:\n  receivers:\n    - {name: am, type: alertmanager, url: '${AM_URL}'}\n"
    with pytest.raises(ConfigError, match=r"alerts\.receivers\[0\]\.url: \$\{AM_URL\} is not set"):
        parse_config(text, {})


def test_expanded_values_are_values_not_yaml() -> None:
    """A variable's value is never parsed as YAML: it cannot add keys or structure."""
    environ = {"N": "7", "USER": "x\nextra_key: 1"}
    config = parse_config("git:\n  push_attempts: ${N}\n  token_user: ${USER}\n", environ)
    assert config.git.push_attempts == 7
    assert config.git.token_user == "x\nextra_key: 1"


def test_environment_overrides_nested_fields_as_yaml() -> None:
    env = {"BACKUP2GITOPS__GIT__PUSH_ATTEMPTS": "7", "BACKUP2GITOPS__HEALTH__KUBERNETES": "true"}
    config = parse_config("{}", env)
    assert config.git.push_attempts == 7
    assert config.health.kubernetes is True


def test_an_error_from_an_override_names_the_variable() -> None:
    env = {"BACKUP2GITOPS__GENERATOR__CLEANING__SECRETS": "encrypt"}
    with pytest.raises(ConfigError) as raised:
        parse_config("{}", env)
    assert str(raised.value) == (
        "generator.cleaning.secrets: must be one of exclude, redact, sops, plaintext "
        "(got 'encrypt') (from $BACKUP2GITOPS__GENERATOR__CLEANING__SECRETS)"
    )
    with pytest.raises(
        ConfigError, match=r"git\.branchh: unknown field .*BACKUP2GITOPS__GIT__BRANCHH"
    ):
        parse_config("{}", {"BACKUP2GITOPS__GIT__BRANCHH": "prod"})


def test_validation_errors_name_the_field() -> None:
    with pytest.raises(ConfigError, match=r"git\.push_attempts"):
        parse_config("git: {push_attempts: 0}", {})
    with pytest.raises(ConfigError, match=r"storage\.url"):
        parse_config("storage: {url: ftp://x}", {})
    with pytest.raises(ConfigError, match=r"gti"):
        parse_config("gti: {}", {})


def test_secrets_are_references_resolved_from_env_or_file(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("s3cr3t\n")
    assert SecretRef(file=secret).reveal() == "s3cr3t"
    assert SecretRef(env="TOKEN").reveal({"TOKEN": "abc"}) == "abc"
    assert "abc" not in repr(SecretRef(env="TOKEN"))
    with pytest.raises(ConfigError, match="exactly one"):
        parse_config("git: {token: {env: A, file: /b}}", {})


def test_load_config_reads_the_file_named_by_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("git: {branch: prod}\n")
    assert load_config(environ={"BACKUP2GITOPS_CONFIG": str(path)}).git.branch == "prod"
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml", environ={})
