from datetime import UTC, datetime

import pytest

from backup2gitops.config import ConfigError, parse_config
from backup2gitops.config.receivers import AlertmanagerReceiverConfig
from backup2gitops.core import alert_rules, alerts, events, routing
from backup2gitops.core.events import Event

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def event(type_: str, data: dict, *, cluster: str | None = "prod", **ext: str) -> Event:
    return Event(
        id=f"id-{type_}",
        source="/backup2gitops/test",
        type=type_,
        time=T0,
        data=data,
        cluster=cluster,
        extensions=ext,
    )


def failed(cluster: str = "prod") -> Event:
    return event(
        events.BACKUP_FAILED,
        {"cluster": cluster, "backup_id": "b1", "code": "corrupt", "message": "bad tar"},
        cluster=cluster,
    )


def tree(routes: list[dict]) -> routing.Route:
    return routing.parse_tree(routes)


def test_backup_failed_alert_labels_and_identity() -> None:
    (alert,) = alert_rules.effects_of(failed()).firing
    assert alert.labels == {
        "alertname": "BackupFailed",
        "cluster": "prod",
        "component": "backup",
        "severity": "critical",
    }
    assert alert.status == "firing"
    assert "b1" in alert.summary and "bad tar" in alert.annotations["description"]
    assert alert.fingerprint == alerts.fingerprint(
        alertname="BackupFailed", cluster="prod", component="backup"
    )
    assert alert.starts_at == T0
    assert alerts.Alert.from_dict(alert.to_dict()) == alert


def test_gitops_generated_resolves_the_clusters_failures() -> None:
    generated = event(
        events.GITOPS_GENERATED,
        {"backup_id": "b2", "cluster": "prod", "repository": "r", "branch": "main", "commit": "c"},
    )
    effects = alert_rules.effects_of(generated)
    assert effects.firing == ()
    fps = {r.fingerprint for r in effects.resolves}
    (fired,) = alert_rules.effects_of(failed()).firing
    assert fired.fingerprint in fps
    (other,) = alert_rules.effects_of(failed("stage")).firing
    assert other.fingerprint not in fps


def health_changed(
    previous: str, status: str, components: dict[str, str], changed: list[str]
) -> Event:
    report = {
        "status": status,
        "checked_at": T0.isoformat(),
        "components": {
            n: {"status": s, "latency_ms": 1.0, "message": "m"} for n, s in components.items()
        },
    }
    return event(
        events.HEALTH_CHANGED,
        {"previous": previous, "current": status, "report": report, "changed_components": changed},
        cluster=None,
    )


def test_health_changed_fires_per_changed_component_and_overall() -> None:
    effects = alert_rules.effects_of(
        health_changed("healthy", "unhealthy", {"git": "unhealthy", "storage": "healthy"}, ["git"])
    )
    names = sorted((a.alertname, a.labels["component"]) for a in effects.firing)
    assert names == [("ComponentUnhealthy", "git"), ("ComponentUnhealthy", "overall")]
    degraded_git = alerts.fingerprint(alertname="ComponentDegraded", cluster="", component="git")
    assert degraded_git in {r.fingerprint for r in effects.resolves}


def test_health_back_to_healthy_resolves_health_alerts_and_staleness() -> None:
    effects = alert_rules.effects_of(
        health_changed("degraded", "healthy", {"freshness/prod": "healthy"}, ["freshness/prod"])
    )
    assert effects.firing == ()
    fps = {r.fingerprint for r in effects.resolves}
    for alertname in ("ComponentUnhealthy", "ComponentDegraded"):
        for component in ("overall", "freshness/prod"):
            assert alerts.fingerprint(alertname=alertname, cluster="", component=component) in fps
    assert alerts.fingerprint(alertname="BackupStale", cluster="prod", component="backup") in fps


def test_unknown_type_fires_one_alert_named_after_its_family() -> None:
    (alert,) = alert_rules.effects_of(
        event("io.backup2gitops.restore.failed", {"message": "boom"})
    ).firing
    assert alert.alertname == "RestoreFailed"
    assert alert.summary == "boom"


@pytest.mark.parametrize(
    ("spec", "value", "expected"),
    [
        ("prod", "prod", True),
        ("prod", "prod-2", False),
        ("prod-*", "prod-2", True),
        ("=~prod|stage", "stage", True),
        ("=~prod", "prod-2", False),  # anchored, like Alertmanager
        ("!=prod", "stage", True),
        ("!=prod", "prod", False),
        ("!=prod-*", "prod-1", False),
        ("!~dev.*", "dev-1", False),
        ("!~dev.*", "prod", True),
        (["prod", "stage"], "stage", True),
        (["prod", "stage"], "dev", False),
    ],
)
def test_matchers(spec: str | list[str], value: str, expected: bool) -> None:
    assert routing.matcher("cluster", spec).matches({"cluster": value}) is expected


def test_alertmanager_string_matchers() -> None:
    m = routing.parse_matcher('severity=~"critical|warning"')
    assert m.matches({"severity": "warning"}) and not m.matches({"severity": "info"})
    assert routing.parse_matcher("cluster!=dev").matches({"cluster": "prod"})
    with pytest.raises(routing.RoutingError):
        routing.parse_matcher("nonsense")
    with pytest.raises(routing.RoutingError):
        routing.matcher("x", "=~(")


def test_first_match_wins_unless_continue() -> None:
    routes = [
        {"match": {"severity": "critical"}, "receivers": ["pager"]},
        {"match": {"cluster": "prod"}, "receivers": ["slack"]},
        {"receivers": ["console"]},
    ]
    (alert,) = alert_rules.effects_of(failed()).firing
    assert routing.route(tree(routes), alert) == ["pager"]
    routes[0]["continue"] = True
    assert routing.route(tree(routes), alert) == ["pager", "slack"]
    (stale,) = alert_rules.effects_of(
        event(events.BACKUP_STALE, {"cluster": "dev", "last_backup_at": None, "max_age": "PT26H"})
    ).firing
    assert routing.route(tree(routes), stale) == ["console"]


def test_nested_routes_fall_back_to_the_parent() -> None:
    routes = [
        {
            "match": {"type": "io.backup2gitops.*.failed"},
            "receivers": ["team"],
            "routes": [{"matchers": ["cluster=~prod.*"], "receivers": ["pager"]}],
        }
    ]
    (prod,) = alert_rules.effects_of(failed("prod-eu")).firing
    (dev,) = alert_rules.effects_of(failed("dev")).firing
    assert routing.route(tree(routes), prod) == ["pager"]
    assert routing.route(tree(routes), dev) == ["team"]
    (stale,) = alert_rules.effects_of(
        event(events.BACKUP_STALE, {"cluster": "prod", "last_backup_at": None, "max_age": "PT1H"})
    ).firing
    assert routing.route(tree(routes), stale) == []


def test_routes_match_event_extensions_and_status() -> None:
    (alert,) = alert_rules.effects_of(
        event(events.BACKUP_FAILED, {"code": "x", "message": "y"}, team="payments")
    ).firing
    routes = [{"match": {"team": "payments", "status": "firing"}, "receivers": ["payments"]}]
    assert routing.route(tree(routes), alert) == ["payments"]
    assert routing.route(tree(routes), alert.resolved(at=T0)) == []


def test_config_validates_routes_and_receivers() -> None:
    config = parse_config(
        """
alerts:
  receivers: [{name: console, type: console}, {name: am, type: alertmanager, url: http://am}]
  routes:
    - match: {severity: critical}
      continue: true
      receivers: [am]
    - receivers: [console]
"""
    )
    assert config.alerts.routes[0].continue_ is True
    assert isinstance(config.alerts.receivers[1], AlertmanagerReceiverConfig)
    assert config.alerts.receivers[1].url == "http://am"
    with pytest.raises(ConfigError, match="unknown receiver"):
        parse_config("alerts: {routes: [{receivers: [nobody]}]}")
    with pytest.raises(ConfigError, match="invalid regex"):
        parse_config("alerts: {routes: [{match: {cluster: '=~('}, receivers: [console]}]}")
    with pytest.raises(ConfigError, match="mtach"):
        parse_config("alerts: {routes: [{mtach: {}, receivers: [console]}]}")
