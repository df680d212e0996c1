from pathlib import Path

from backup2gitops.adapters.aws_secrets import resolve_secret_arns


def test_arns_become_the_variables_the_configuration_reads() -> None:
    fetched: list[str] = []

    def fetch(arn: str) -> str:
        fetched.append(arn)
        return {"arn:git": "tok", "arn:kube": "apiVersion: v1\nkind: Config\n"}[arn]

    env = {
        "BACKUP2GITOPS_GIT_TOKEN_SECRET_ARN": "arn:git",
        "BACKUP2GITOPS_KUBECONFIG_SECRET_ARN": "arn:kube",
        "BACKUP2GITOPS_SLACK_WEBHOOK_URL_SECRET_ARN": "arn:slack",
        "BACKUP2GITOPS_SLACK_WEBHOOK_URL": "already-set",
        "OTHER_SECRET_ARN": "arn:other",
    }
    assert resolve_secret_arns(env, fetch=fetch) == [
        "BACKUP2GITOPS_GIT_TOKEN",
        "BACKUP2GITOPS_KUBECONFIG",
    ]
    assert env["BACKUP2GITOPS_GIT_TOKEN"] == "tok"
    assert env["BACKUP2GITOPS_SLACK_WEBHOOK_URL"] == "already-set"
    kubeconfig = Path(env["KUBECONFIG"])
    assert kubeconfig.read_text().startswith("apiVersion: v1")
    assert oct(kubeconfig.stat().st_mode & 0o777) == "0o600"
    assert sorted(fetched) == ["arn:git", "arn:kube"]
