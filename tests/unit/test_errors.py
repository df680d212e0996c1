"""The one error model: every exception class of the package derives from Backup2GitopsError,
and runtime.failures gives each kind its status."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

from backup2gitops.adapters.git import GitError
from backup2gitops.adapters.kube import KubeError
from backup2gitops.adapters.storage import NotFound, StorageError
from backup2gitops.core import errors
from backup2gitops.core.archive import ArchiveError
from backup2gitops.core.integrity import IntegrityError
from backup2gitops.core.repo_layout import UnsafeName
from backup2gitops.runtime.failures import classify

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"
PACKAGES = [
    "backup2gitops",
    "backup_complete",
    "gitops_generator",
    "cluster_backup",
    "health_aggregator",
    "alert_router",
]


def exception_classes() -> list[type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for package in PACKAGES:
        module = importlib.import_module(package)
        names = [package] + [
            info.name
            for info in pkgutil.walk_packages(module.__path__, prefix=f"{package}.")
            if not info.name.startswith("backup2gitops.sample")
            and not info.name.endswith(".__main__")
        ]
        for name in names:
            for _, cls in inspect.getmembers(importlib.import_module(name), inspect.isclass):
                if issubclass(cls, BaseException) and cls.__module__.split(".")[0] in PACKAGES:
                    found[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return list(found.values())


def test_every_exception_of_the_package_derives_from_the_one_base() -> None:
    classes = exception_classes()
    assert len(classes) > 20  # the walk found them
    strays = [c for c in classes if not issubclass(c, errors.Backup2GitopsError)]
    assert strays == []


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (errors.InvalidInput("bad", "m"), 400, "bad"),
        (errors.Unauthorized("unauthorized", "m"), 401, "unauthorized"),
        (errors.TooLarge("body_too_large", "m"), 413, "body_too_large"),
        (errors.Rejected("keys_mismatch", "m"), 422, "keys_mismatch"),
        (errors.Conflict("busy", "m"), 409, "busy"),
        (errors.Transient("down", "m"), 503, "down"),
        (UnsafeName("name '.hidden' starts with '.'"), 422, "unsafe_name"),
        (ArchiveError("truncated", "m"), 422, "archive_truncated"),
        (IntegrityError("m", code="checksum_mismatch"), 422, "checksum_mismatch"),
        (StorageError("m"), 503, "storage_unavailable"),
        (StorageError("m", retryable=False), 422, "storage_error"),
        (NotFound("k"), 422, "not_found"),
        (GitError("auth_failed", "m", retryable=False), 422, "auth_failed"),
        (GitError("git_unavailable", "m", retryable=True), 503, "git_unavailable"),
        (KubeError(0, "m", retryable=True), 503, "kube_unreachable"),
        (KubeError(403, "m", retryable=False), 422, "kube_forbidden"),
        (KeyError("x"), 500, "internal"),
    ],
)
def test_one_map_from_error_to_status(error: BaseException, status: int, code: str) -> None:
    failure = classify(error)
    assert (failure.status, failure.code) == (status, code)
    assert failure.permanent is (400 <= status < 500 and status != 409)
    assert failure.expected is (code != "internal")
