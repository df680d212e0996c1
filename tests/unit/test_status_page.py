"""core.status and core.status_page: one model, rendered as a page that shows exactly it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest

from backup2gitops.core import health, status, status_page
from backup2gitops.core.alerts import Alert
from backup2gitops.core.events import DriftFinding, GitopsDrifted
from backup2gitops.core.health import BackupMark, CheckResult, CommitMark

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SHA = "89abcdef0123456789abcdef0123456789abcdef"
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def alert(cluster: str, summary: str, *, status_: str = "firing") -> Alert:
    return Alert(
        labels={
            "alertname": "BackupStale",
            "cluster": cluster,
            "component": "backup",
            "severity": "warning",
        },
        annotations={"summary": summary},
        status=status_,  # type: ignore[arg-type]
        starts_at=NOW - timedelta(hours=1),
    )


def drifted(commit: str = SHA, summary: str = "grants cluster-admin") -> GitopsDrifted:
    return GitopsDrifted(
        cluster="edge",
        backup_id="e1",
        commit=commit,
        previous_commit="0" * 40,
        findings=[
            DriftFinding(
                kind="ClusterRoleBinding",
                name="shop-admin",
                rule="rbac-cluster-admin-binding",
                severity="critical",
                summary=summary,
            )
        ],
    )


def report(git_url: str = "https://ghp_TOKEN@github.com/acme/clusters.git") -> status.StatusReport:
    prod = health.cluster_facts(
        cluster="prod",
        newest=BackupMark("prod", "b1", NOW - timedelta(hours=2)),
        commit=CommitMark("prod", "b1", SHA, NOW - timedelta(hours=1)),
        max_age=timedelta(hours=26),
        now=NOW,
    )
    edge = health.cluster_facts(
        cluster="edge",
        newest=BackupMark("edge", "e1", NOW - timedelta(hours=30)),
        commit=None,
        max_age=timedelta(hours=26),
        now=NOW,
    )
    checks = [
        CheckResult("storage", "healthy", 3.2, "bucket backups reachable"),
        CheckResult("freshness/edge", "degraded", 0.0, HOSTILE),
    ]
    notes = status.remember_drift(status.DriftNotes(), drifted(summary=HOSTILE), at=NOW, keep=5)
    assert notes is not None
    return status.build(
        health.build_report(checks, checked_at=NOW),
        [prod, edge],
        git_url=git_url,
        alerts=[
            alert("edge", HOSTILE),
            alert("edge", "resolved one", status_="resolved"),
            alert("", "storage is down"),
        ],
        drift={"edge": notes.notes},
        unmanaged={"prod": 1},
    )


class Text(HTMLParser):
    """The page's text and its tags, as a browser would parse them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.hrefs += [v or "" for k, v in attrs if k == "href"]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parsed(page: str) -> Text:
    parser = Text()
    parser.feed(page)
    return parser


def test_the_model_holds_every_fact_the_page_needs() -> None:
    built = report()
    prod, edge = built.clusters["prod"], built.clusters["edge"]
    assert list(built.clusters) == ["edge", "prod"]
    assert prod.last_backup is not None and prod.last_backup.age_s == 7200
    assert prod.last_commit is not None
    assert prod.last_commit.url == f"https://github.com/acme/clusters/commit/{SHA}"
    assert not prod.stale and edge.stale and edge.max_backup_age == "PT26H"
    assert [a.summary for a in edge.open_alerts] == [HOSTILE]  # the resolved one is not open
    assert [a.summary for a in built.open_alerts] == ["storage is down"]  # no cluster: flow-wide
    assert [d.rule for d in edge.drift] == ["rbac-cluster-admin-binding"]
    assert "TOKEN" not in built.model_dump_json()


def test_the_page_escapes_everything_and_runs_no_script() -> None:
    page = status_page.render(report())
    seen = parsed(page)
    assert "script" not in seen.tags and "img" not in seen.tags
    assert "".join(seen.text).count('<script>alert("x")</script>') == 3  # shown as text, thrice
    assert "onerror=alert(1)>" not in page.replace("&gt;", "")  # only ever escaped


def test_stale_cluster_is_marked_and_the_fresh_one_is_not() -> None:
    page = status_page.render(report())
    rows = dict(
        re.findall(r'<tr class="cluster[^"]*" data-cluster="(\w+)" data-stale="(\w+)"', page)
    )
    assert rows == {"edge": "true", "prod": "false"}
    edge = page[page.index('data-cluster="edge"') : page.index('data-cluster="prod"')]
    assert 'class="badge stale"' in edge and "over the limit" in edge
    prod = page[page.index('data-cluster="prod"') :].split("</tr>")[0]
    assert 'class="badge fresh"' in prod and "over the limit" not in prod


def test_the_page_shows_the_model_values() -> None:
    built = report()
    page = status_page.render(built)
    prod = built.clusters["prod"]
    assert prod.last_commit is not None and prod.last_commit.url is not None
    assert parsed(page).hrefs == [prod.last_commit.url]
    assert f">{SHA[:12]}</a>" in page
    assert '<span data-field="age">2h</span> / <span data-field="max-age">1d2h</span>' in page
    assert '<span data-field="age">1d6h</span>' in page  # edge: 30 h against 26 h
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "1 stale" in page


def test_no_forge_no_link_and_never_the_remote() -> None:
    page = status_page.render(report(git_url="https://user:pw-SECRET@git.example.com/a/b.git"))
    assert parsed(page).hrefs == []
    assert "SECRET" not in page and "git.example.com" not in page


def test_an_empty_status_renders() -> None:
    empty = status.build(health.build_report([], checked_at=NOW), [], git_url="./gitops.git")
    page = status_page.render(empty)
    assert "No cluster configured" in page and 'id="components"' in page


def test_drift_notes_are_kept_once_newest_first_and_bounded() -> None:
    first = status.remember_drift(status.DriftNotes(), drifted("a" * 40), at=NOW, keep=2)
    assert first is not None
    assert status.remember_drift(first, drifted("a" * 40), at=NOW, keep=2) is None  # redelivery
    second = status.remember_drift(first, drifted("b" * 40), at=NOW, keep=2)
    third = status.remember_drift(second or first, drifted("c" * 40), at=NOW, keep=2)
    assert third is not None and [n.commit[0] for n in third.notes] == ["c", "b"]


@pytest.mark.parametrize(
    ("seconds", "text"), [(None, "-"), (0, "0s"), (59, "59s"), (93784, "1d2h3m")]
)
def test_short_duration(seconds: float | None, text: str) -> None:
    assert status.short_duration(seconds) == text


def test_the_objects_changed_by_hand_per_cluster() -> None:
    built = report()
    assert built.clusters["prod"].unmanaged == 1 and built.clusters["edge"].unmanaged is None
    page = status_page.render(built)
    assert 'data-field="unmanaged">1 object changed by hand</td>' in page
    assert 'data-field="unmanaged">unknown</td>' in page
