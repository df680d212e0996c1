"""load_transforms: entry points from the backup2gitops.transforms group."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from typing import Any

import pytest

from backup2gitops import transforms


def tag(obj: dict[str, Any]) -> dict[str, Any]:
    return obj


def untag(obj: dict[str, Any]) -> dict[str, Any]:
    return obj


NOT_CALLABLE = 42


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> None:
    points = [
        EntryPoint(name="untag", value=f"{__name__}:untag", group=transforms.GROUP),
        EntryPoint(name="tag", value=f"{__name__}:tag", group=transforms.GROUP),
        EntryPoint(name="broken", value=f"{__name__}:NOT_CALLABLE", group=transforms.GROUP),
    ]

    def fake_entry_points(*, group: str) -> list[EntryPoint]:
        return [p for p in points if p.group == group]

    monkeypatch.setattr(transforms, "entry_points", fake_entry_points)


@pytest.mark.usefixtures("installed")
def test_named_in_order() -> None:
    assert transforms.load_transforms(["untag", "tag"]) == [untag, tag]
    assert transforms.load_transforms([]) == []


@pytest.mark.usefixtures("installed")
def test_unknown_name() -> None:
    with pytest.raises(transforms.UnknownTransform, match="nope"):
        transforms.load_transforms(["tag", "nope"])


@pytest.mark.usefixtures("installed")
def test_not_callable() -> None:
    with pytest.raises(TypeError):
        transforms.load_transforms(["broken"])


def test_nothing_installed_by_default() -> None:
    assert transforms.load_transforms([]) == []
    assert isinstance(transforms.load_transforms(), list)
