"""The whole AWS flow, driven the way AWS drives it, with the real pieces that run here.

The functions are ``sam build``'s artifacts under the Lambda Runtime Interface Emulator and
awslambdaric (tests/e2e/aws/lambda_functions.py), with exactly the environment of the translated
template; AWS is moto's server, provisioned from the translated template
(tests/e2e/aws/provision.py). What the harness does in AWS's place, and nothing more:

* EventBridge Scheduler: the schedule is created in moto from the template; the test reads its
  target input back and invokes the function with it (moto does not fire schedules);
* S3 -> Lambda notifications: the test delivers S3's real payload (tests/events/aws-s3-put.json)
  for a key the bucket's notification filters (read from the template) match; S3 -> EventBridge:
  the real "Object Created" payload is PutEvents'd onto the default bus and routed by the rule;
* EventBridge -> Lambda: each rule's target is an SQS queue standing for the function; the test
  polls it and invokes the function with the EventBridge event it holds.

The git remote is ``git http-backend`` over HTTPS (tests/e2e/git_http.py) with Basic auth and the
token from Secrets Manager; beyond the template's environment the functions get only
``GIT_SSL_CAINFO`` (the test CA). Not real: the git layer is this machine's git linked into a
folder standing for the layer's /opt/bin.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from backup2gitops.core.archive import BackupItem
from tests.e2e.aws import iam
from tests.e2e.aws.cloudformation import REPO, Stack, translate
from tests.e2e.aws.lambda_functions import LambdaFunction, run_function, tree_size
from tests.e2e.aws.provision import MotoSession, Provisioned, provision
from tests.e2e.git_http import git_http_server
from tests.e2e.servers import wait_for
from tests.fixtures.notifications import eventbridge_body, s3_body
from tests.fixtures.velero import write_velero_backup
from tests.git_repos import bare_repository
from tests.kube_apiserver import KubeCluster
from tests.kube_apiserver.pki import make_pki
from tests.recording import Recorder, recording_server

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]

CLUSTER = "aws-e2e"
TOKEN = "aws-e2e-git-token"
GIT_LAYER_ARN = "arn:aws:lambda:us-east-1:123456789012:layer:git:1"
FUNCTIONS = (
    "ClusterBackupFunction",
    "BackupCompleteFunction",
    "GitopsGeneratorFunction",
    "HealthAggregatorFunction",
    "AlertRouterFunction",
)
SCHEMAS = REPO / "schemas"
VELERO_CLUSTER = "legacy"  # VeleroClusterName: the cluster of the Velero bucket's backups
VELERO_BACKUP = "daily-20261207010000"
VELERO_ITEMS = [
    BackupItem(
        "configmaps",
        "shop",
        "settings",
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "settings", "namespace": "shop"},
            "data": {"mode": "velero"},
        },
    ),
    BackupItem(
        "namespaces",
        None,
        "shop",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}},
    ),
]


@dataclass
class AwsStack:
    stack: Stack
    provisioned: Provisioned
    session: Any
    functions: dict[str, LambdaFunction]
    call_log: Path
    recorder: Recorder
    git_root: Path
    events: list[dict[str, Any]] = field(default_factory=list)
    """Every EventBridge event the test took from a target queue, in order."""

    def client(self, service: str) -> Any:
        return self.session.client(service)

    @property
    def bucket(self) -> str:
        return self.stack.physical["BackupBucket"]

    def take(self, function: str, *, expect: int | None = None) -> list[dict[str, Any]]:
        """The EventBridge events waiting in ``function``'s target queue (deleted); with
        ``expect``, wait (bounded) until that many arrived."""
        sqs = self.client("sqs")
        url = self.provisioned.target_queues[function]
        got: list[dict[str, Any]] = []

        def poll() -> bool:
            reply = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            for message in reply.get("Messages", []):
                got.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            return expect is None or len(got) >= expect

        if expect is None:
            poll()
        else:
            wait_for(poll, timeout=120, what=f"{expect} events for {function}")
        self.events.extend(got)
        return got

    def invoke(self, function: str, event: Any) -> Any:
        return self.functions[function].invoke(event)

    def commits(self) -> list[str]:
        proc = subprocess.run(
            ["git", "-C", str(self.git_root / "clusters.git"), "log", "--format=%H %s", "main"],
            capture_output=True,
            text=True,
            check=False,
        )
        return proc.stdout.splitlines() if proc.returncode == 0 else []


def _secret(session: Any, name: str, value: str) -> str:
    return str(session.client("secretsmanager").create_secret(Name=name, SecretString=value)["ARN"])


def _git_layer(folder: Path) -> Path:
    """A folder standing for a git layer (/opt): bin/git, this machine's git."""
    (folder / "bin").mkdir(parents=True)
    git = subprocess.run(["which", "git"], capture_output=True, text=True, check=True).stdout
    (folder / "bin" / "git").symlink_to(git.strip())
    return folder


@pytest.fixture(scope="module")
def aws(
    sam_built: Path,
    moto_endpoint: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[AwsStack]:
    tmp = tmp_path_factory.mktemp("aws-flow")
    session = MotoSession(moto_endpoint)
    git_root = tmp / "git"
    git_root.mkdir()
    bare_repository(git_root / "clusters.git")
    call_log = tmp / "aws-calls.jsonl"
    pki = make_pki(tmp / "pki")
    with (
        recording_server() as recorder,
        git_http_server(
            git_root, user="x-access-token", token=TOKEN, tls=(pki.serving_cert, pki.serving_key)
        ) as (git_base, _seen),
    ):
        parameters = {
            "GitRepositoryUrl": f"{git_base}clusters.git",
            "ClusterName": CLUSTER,
            "GitTokenSecretArn": _secret(session, "b2g/git-token", TOKEN),
            # the cluster's kubeconfig is put in by the test that starts the cluster
            "KubeconfigSecretArn": _secret(session, "b2g/kubeconfig", "not yet"),
            "SlackWebhookSecretArn": _secret(session, "b2g/slack", f"{recorder.url}/slack"),
            "GitLayerArn": GIT_LAYER_ARN,
            "VeleroClusterName": VELERO_CLUSTER,
        }
        stack = Stack("b2g-e2e", translate(), parameters)
        provisioned = provision(stack, session)
        session.client("s3").create_bucket(Bucket=stack.parameters["ExistingBucketName"])
        layer_dirs = {GIT_LAYER_ARN: _git_layer(tmp / "git-layer")}
        functions: dict[str, LambdaFunction] = {}
        # the one variable beyond Lambda's: git trusts the test CA (a forge's certificate
        # chains to Lambda's system store instead)
        extra = {"GIT_SSL_CAINFO": str(pki.ca_cert)}
        with _all_running(
            stack, sam_built, moto_endpoint, layer_dirs, call_log, tmp, functions, extra
        ):
            yield AwsStack(
                stack,
                provisioned,
                session,
                functions,
                call_log,
                recorder,
                git_root,
            )


class _all_running:  # noqa: N801 - a context manager, used as one
    def __init__(
        self,
        stack: Stack,
        build: Path,
        endpoint: str,
        layer_dirs: dict[str, Path],
        call_log: Path,
        log_dir: Path,
        out: dict[str, LambdaFunction],
        extra_env: dict[str, str],
    ) -> None:
        import contextlib

        self.stack_cm = contextlib.ExitStack()
        self.args = (stack, build, endpoint, layer_dirs, call_log, log_dir, out)
        self.extra_env = extra_env

    def __enter__(self) -> None:
        stack, build, endpoint, layer_dirs, call_log, log_dir, out = self.args
        for logical in FUNCTIONS:
            out[logical] = self.stack_cm.enter_context(
                run_function(
                    stack,
                    logical,
                    build=build,
                    endpoint=endpoint,
                    layer_dirs=layer_dirs,
                    call_log=call_log,
                    log_dir=log_dir,
                    extra_env=self.extra_env,
                )
            )

    def __exit__(self, *exc: object) -> None:
        self.stack_cm.close()


def _validate(event: dict[str, Any]) -> None:
    """An EventBridge event from our bus: its detail is a CloudEvent valid against schemas/."""
    import jsonschema

    detail = event["detail"]
    assert event["detail-type"] == detail["type"]
    assert len(json.dumps(detail).encode()) < 256 * 1024  # EventBridge's entry limit
    jsonschema.validate(detail, json.loads((SCHEMAS / "cloudevent.json").read_text()))
    schema = json.loads((SCHEMAS / f"{detail['type']}.json").read_text())
    jsonschema.validate(detail["data"], schema)


def _function_url(path: str) -> dict[str, Any]:
    """A Function URL request (payload format 2.0), as Lambda gives it to the function."""
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"accept": "*/*", "host": "example.lambda-url.us-east-1.on.aws"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "example",
            "domainName": "example.lambda-url.us-east-1.on.aws",
            "http": {
                "method": "GET",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "test",
            },
            "requestId": "id",
            "routeKey": "$default",
            "stage": "$default",
            "time": "07/Dec/2026:02:00:00 +0000",
            "timeEpoch": 1796608800000,
        },
        "isBase64Encoded": False,
    }


def _ok(result: Any, *statuses: str) -> Any:
    assert isinstance(result, dict) and "errorType" not in result, result
    assert result.get("status") in statuses, result
    return result


def test_the_scheduled_backup_flows_to_git_health_and_alerts(
    aws: AwsStack, kube_cluster: KubeCluster
) -> None:
    s3 = aws.client("s3")
    aws.client("secretsmanager").put_secret_value(
        SecretId=aws.stack.parameters["KubeconfigSecretArn"],
        SecretString=kube_cluster.kubeconfig.read_text(),
    )
    # 1. the schedule fires with the input template.yaml gives it (read back from Scheduler)
    name = aws.provisioned.schedules["ClusterBackupFunctionDaily"]
    schedule = aws.client("scheduler").get_schedule(Name=name)
    tick = json.loads(schedule["Target"]["Input"])
    assert tick == {"reason": "scheduled", "cluster": CLUSTER}
    _ok(aws.invoke("ClusterBackupFunction", tick), "no_reply")
    listed = s3.list_objects_v2(Bucket=aws.bucket, Prefix=f"backups/{CLUSTER}/")
    (manifest,) = [o["Key"] for o in listed["Contents"] if o["Key"].endswith("manifest.json")]
    flow_from_the_manifest(aws, manifest)


def flow_from_the_manifest(aws: AwsStack, manifest: str) -> None:
    s3 = aws.client("s3")
    # 2. S3 notifies backup-complete (the bucket's notification filters come from the template)
    (route,) = [n for n in aws.provisioned.notifications if n.matches(aws.bucket, manifest)]
    assert route.function == "BackupCompleteFunction"
    notification = s3_body(bucket=aws.bucket, key=manifest)
    _ok(aws.invoke("BackupCompleteFunction", notification), "published")
    (completed,) = aws.take("GitopsGeneratorFunction", expect=1)
    assert completed["detail-type"] == "io.backup2gitops.backup.completed"
    assert completed["detail"]["cluster"] == CLUSTER
    # a redelivered notification announces the same backup (same id): the generator's no-op
    _ok(aws.invoke("BackupCompleteFunction", notification), "published")
    (again,) = aws.take("GitopsGeneratorFunction", expect=1)
    assert again["detail"]["id"] == completed["detail"]["id"]

    # 3. the rule's queue -> gitops-generator: one commit, pushed with the token over git http
    before = aws.commits()
    _ok(aws.invoke("GitopsGeneratorFunction", completed), "published")
    commits = aws.commits()
    assert len(commits) == len(before) + 1, commits
    _ok(aws.invoke("GitopsGeneratorFunction", again), "published", "no_reply")
    assert aws.commits() == commits  # a redelivery commits nothing new
    generated = aws.take("HealthAggregatorFunction", expect=2)
    assert {e["detail-type"] for e in generated} == {"io.backup2gitops.gitops.generated"}
    to_alerts = aws.take("AlertRouterFunction", expect=2)
    assert [e["detail"]["id"] for e in to_alerts] == [e["detail"]["id"] for e in generated]

    # 4. health-aggregator: the generated backup, then its Function URL
    for event in generated:
        _ok(aws.invoke("HealthAggregatorFunction", event), "published", "no_reply")
    health = aws.invoke("HealthAggregatorFunction", _function_url("/health"))
    assert health["statusCode"] == 200, health
    status = aws.invoke("HealthAggregatorFunction", _function_url("/status"))
    assert status["statusCode"] == 200 and CLUSTER in status["body"], status
    metrics = aws.invoke("HealthAggregatorFunction", _function_url("/metrics"))
    assert metrics["statusCode"] == 200 and "backup2gitops_" in metrics["body"], metrics
    health_tick = aws.client("scheduler").get_schedule(
        Name=aws.provisioned.schedules["HealthAggregatorFunctionEvery5Minutes"]
    )
    _ok(
        aws.invoke("HealthAggregatorFunction", json.loads(health_tick["Target"]["Input"])),
        "published",
        "no_reply",
    )

    # 5. a failure reaches Slack once (DynamoDB delivery records); what the health checks
    # announced (health.changed) is routed to alert-router too
    for event in to_alerts + aws.take("AlertRouterFunction"):
        _ok(aws.invoke("AlertRouterFunction", event), "published", "no_reply")
    slack_before = len(aws.recorder.to("/slack"))
    bad = f"backups/{CLUSTER}/20261207t010000z/manifest.json"
    s3.put_object(Bucket=aws.bucket, Key=bad, Body=b"{not json")
    _ok(aws.invoke("BackupCompleteFunction", s3_body(bucket=aws.bucket, key=bad)), "published")
    (failed,) = aws.take("AlertRouterFunction", expect=1)
    assert failed["detail-type"] == "io.backup2gitops.backup.failed"
    assert aws.take("GitopsGeneratorFunction") == []  # only alert-router's rule matches it
    _ok(aws.invoke("AlertRouterFunction", failed), "published", "no_reply")
    aws.recorder.wait_for(slack_before + 1, path="/slack", timeout=120)
    _ok(aws.invoke("AlertRouterFunction", failed), "published", "no_reply")  # redelivered
    assert len(aws.recorder.to("/slack")) == slack_before + 1
    assert "backup" in aws.recorder.to("/slack")[-1].body.decode()
    table = aws.stack.physical["IdempotencyTable"]
    assert aws.client("dynamodb").scan(TableName=table)["Count"] >= 1

    for event in aws.events:
        if event["detail-type"].startswith("io.backup2gitops."):
            _validate(event)
    check_iam(aws)


def velero_backup_flows_to_git(aws: AwsStack) -> None:
    velero_bucket = aws.stack.parameters["ExistingBucketName"]
    folder = aws.git_root.parent / "velero" / VELERO_BACKUP
    write_velero_backup(folder, name=VELERO_BACKUP, items=VELERO_ITEMS)
    s3 = aws.client("s3")
    for name in ("velero-backup.json", f"{VELERO_BACKUP}.tar.gz"):  # Velero's order
        key = f"backups/{VELERO_BACKUP}/{name}"
        s3.put_object(Bucket=velero_bucket, Key=key, Body=(folder / name).read_bytes())
    marker = f"backups/{VELERO_BACKUP}/velero-backup.json"
    entry = eventbridge_body(bucket=velero_bucket, key=marker)
    put = aws.client("events").put_events(
        Entries=[
            {
                "Source": entry["source"],
                "DetailType": entry["detail-type"],
                "Detail": json.dumps(entry["detail"]),
                "Resources": entry["resources"],
            }
        ]
    )
    assert put["FailedEntryCount"] == 0
    (routed,) = aws.take("BackupCompleteFunction", expect=1)
    assert routed["detail"]["object"]["key"] == marker
    _ok(aws.invoke("BackupCompleteFunction", routed), "published")
    (completed,) = aws.take("GitopsGeneratorFunction", expect=1)
    data = completed["detail"]["data"]
    assert (data["bucket"], data["cluster"], data["format"]) == (
        velero_bucket,
        VELERO_CLUSTER,
        "velero",
    )
    before = aws.commits()
    _ok(aws.invoke("GitopsGeneratorFunction", completed), "published")
    after = aws.commits()
    assert len(after) == len(before) + 1 and VELERO_CLUSTER in after[0], after
    _ok(aws.invoke("GitopsGeneratorFunction", completed), "published", "no_reply")  # redelivered
    assert aws.commits() == after
    tree = subprocess.run(
        ["git", "-C", str(aws.git_root / "clusters.git"), "ls-tree", "-r", "--name-only", "main"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"clusters/{VELERO_CLUSTER}/" in tree
    aws.take("HealthAggregatorFunction", expect=1)
    aws.take("AlertRouterFunction", expect=1)


def test_a_velero_backup_in_the_existing_bucket_flows_to_git(aws: AwsStack) -> None:
    """S3 -> EventBridge "Object Created" on the default bus -> the rule -> backup-complete ->
    gitops-generator, reading Velero's bucket (ExistingBucketName) with its read-only grant."""
    velero_backup_flows_to_git(aws)
    for event in aws.events:
        if event["detail-type"].startswith("io.backup2gitops."):
            _validate(event)
    check_iam(aws)


def test_an_event_no_function_can_read_is_an_error_not_a_quiet_rejection(aws: AwsStack) -> None:
    """Under RIE the invocation fails (Lambda would retry it, then put it in the dead-letter
    queue with the error): an S3 notification without its s3 object, an EC2 event."""
    for raw in (
        {"Records": [{"eventSource": "aws:s3"}]},
        {
            "detail-type": "EC2 Instance State-change Notification",
            "source": "aws.ec2",
            "id": "1",
            "detail": {},
        },
    ):
        result = aws.invoke("BackupCompleteFunction", raw)
        assert result.get("errorType") == "UnreadableEvent", result
    log = aws.functions["BackupCompleteFunction"].log.read_text()
    assert log.count("unreadable event") >= 2
    assert '"outcome":"unreadable"' in log
    # Our own event type from the bus whose data does not validate: the same, never "rejected"
    malformed = {
        "version": "0",
        "id": "eb-malformed",
        "detail-type": "io.backup2gitops.backup.completed",
        "source": "/backup2gitops/backup-complete",
        "account": "123456789012",
        "time": "2026-11-23T02:00:00Z",
        "region": "eu-west-1",
        "resources": [],
        "detail": {
            "specversion": "1.0",
            "id": "c-malformed",
            "source": "/backup2gitops/backup-complete",
            "type": "io.backup2gitops.backup.completed",
            "data": {"cluster": "prod"},
        },
    }
    result = aws.invoke("GitopsGeneratorFunction", malformed)
    assert result.get("errorType") == "UnreadableEvent", result
    assert "data.backup_id: Field required" in result.get("errorMessage", ""), result


def check_iam(aws: AwsStack) -> None:
    """Every AWS call the functions made so far was allowed by the calling function's role in
    the translated template; prints the calls per function (figures for the docs)."""
    made = iam.calls(aws.call_log)
    assert made, "the call recorder saw no AWS call"
    by_function: dict[str, set[str]] = {}
    for call in made:
        resource = re.sub(r"/[0-9a-f]{32}(\.[a-z]+)*$|/[^/]+\.json$", "/…", call.resource)
        by_function.setdefault(call.function, set()).add(f"{call.action} {resource}")
    print(json.dumps({k: sorted(v) for k, v in sorted(by_function.items())}, indent=1))
    assert iam.denied(aws.stack, made) == []


def test_sizes_of_the_built_functions(sam_built: Path) -> None:
    """Figures for the report (printed): each built function with its layers (limit 250 MB)."""
    from tests.e2e.aws.cloudformation import translate as _translate

    template = _translate()
    for logical in FUNCTIONS:
        layers = template["Resources"][logical]["Properties"].get("Layers", [])
        size = tree_size(sam_built / logical)
        for layer in layers:
            if "Ref" in layer:
                size += tree_size(sam_built / re.sub(r"[0-9a-f]{10}$", "", layer["Ref"]))
        print(f"{logical}: {size / 1e6:.1f} MB with its layers")
        assert size < 250e6


def test_without_a_git_layer_the_generator_fails_at_cold_start_naming_the_fix(
    sam_built: Path, moto_endpoint: str, tmp_path: Path
) -> None:
    """Lambda's python3.12 runtime has no git: GitLayerArn left empty, gitops-generator refuses
    every event with one CRITICAL line naming the parameter (an error: on-failure destination)."""
    session = MotoSession(moto_endpoint)
    stack = Stack(
        "b2g-nogit",
        translate(),
        {"GitRepositoryUrl": "https://git.example.com/x.git", "ClusterName": "c"},
    )
    provision(stack, session)
    with run_function(
        stack,
        "GitopsGeneratorFunction",
        build=sam_built,
        endpoint=moto_endpoint,
        layer_dirs={},
        call_log=tmp_path / "calls.jsonl",
        log_dir=tmp_path,
    ) as generator:
        result = generator.invoke({"reason": "scheduled"})
    assert result.get("errorType") == "ConfigError", result
    assert "GitLayerArn" in result["errorMessage"]
    assert "CRITICAL" in generator.log.read_text()
