"""``plan.account``: one item's figures in a ``Plan`` (what the commit message counts)."""

from __future__ import annotations

from backup2gitops.generation.plan import MAX_LISTED_CREDENTIALS, Plan, account


def test_credentials_are_all_counted_and_the_first_ones_listed_in_order() -> None:
    """Objects with none, one or several credentials in clear, past the listing's cap: the
    total counts every one, the list keeps the first ``MAX_LISTED_CREDENTIALS`` as met."""
    plan = Plan(cluster="c")
    met: list[str] = []
    for index in range(60):
        lines = tuple(f"ConfigMap n/c{index}: data.key{k}" for k in range(index % 4))
        met += lines
        account(plan, namespace="n", excluded=None, kind="ConfigMap", credentials=lines)
    account(plan, namespace=None, excluded="event", kind="Event", credentials=("never",))
    assert len(met) > MAX_LISTED_CREDENTIALS
    assert plan.credentials == met[:MAX_LISTED_CREDENTIALS]
    assert plan.credentials_total == len(met)
    assert (plan.objects, plan.excluded, plan.excluded_by_reason) == (60, 1, {"event": 1})
    assert dict(plan.kinds) == {("ConfigMap", "n"): 60}
