"""Fixtures for the end-to-end tier.

``kube_cluster``: one real etcd + kube-apiserver for the whole session (tests/kube_apiserver), for
tests that can share a server: each works in namespaces of its own and undoes any cluster-wide
change it makes. A test that needs an exact object set or other flags starts its own.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import kube_apiserver
from tests.kube_apiserver import KubeCluster


@pytest.fixture(scope="session")
def kube_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeCluster]:
    if not kube_apiserver.available():
        pytest.skip(kube_apiserver.KUBE_MISSING)
    with kube_apiserver.kube_apiserver(tmp_path_factory.mktemp("kube-shared")) as cluster:
        yield cluster
