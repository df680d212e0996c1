"""applied_projection: the fields a server-side applier owns, read from managedFields (FieldsV1).

The managedFields below are as kube-apiserver v1.34.4 wrote them for a Service applied with
``kubectl apply --server-side`` (one nodePort chosen, one allocated) and then updated by a
controller (an ``Update`` entry, which is not a person's).
"""

from __future__ import annotations

from typing import Any

from backup2gitops.core.cleaning import CleaningPolicy, neat
from backup2gitops.core.cleaning.applied_fields import applied_projection

SERVICE: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {
        "name": "api",
        "namespace": "shop",
        "managedFields": [
            {
                "manager": "kubectl",
                "operation": "Apply",
                "apiVersion": "v1",
                "fieldsType": "FieldsV1",
                "fieldsV1": {
                    "f:spec": {
                        "f:ports": {
                            'k:{"port":80,"protocol":"TCP"}': {
                                ".": {},
                                "f:name": {},
                                "f:nodePort": {},
                                "f:port": {},
                                "f:targetPort": {},
                            },
                            'k:{"port":9090,"protocol":"TCP"}': {
                                ".": {},
                                "f:name": {},
                                "f:port": {},
                            },
                        },
                        "f:selector": {},
                        "f:type": {},
                    }
                },
            },
            {
                "manager": "some-controller",
                "operation": "Update",
                "apiVersion": "v1",
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:spec": {"f:clusterIP": {}}},
            },
        ],
    },
    "spec": {
        "type": "NodePort",
        "clusterIP": "10.96.0.12",
        "clusterIPs": ["10.96.0.12"],
        "selector": {"app": "api"},
        "ports": [
            {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080, "nodePort": 30090},
            {
                "name": "metrics",
                "port": 9090,
                "protocol": "TCP",
                "targetPort": 9090,
                "nodePort": 31234,
            },
        ],
    },
}


def test_projection_holds_exactly_the_applied_fields() -> None:
    assert applied_projection(SERVICE) == {
        "spec": {
            "ports": [
                {"name": "http", "port": 80, "targetPort": 8080, "nodePort": 30090},
                {"name": "metrics", "port": 9090},
            ],
            "selector": {"app": "api"},
            "type": "NodePort",
        }
    }


def test_a_chosen_node_port_stays_and_an_allocated_one_goes() -> None:
    ports = neat(SERVICE, policy=CleaningPolicy())["spec"]["ports"]
    assert ports == [
        {"name": "http", "port": 80, "targetPort": 8080, "nodePort": 30090},
        {"name": "metrics", "port": 9090},
    ]


def test_no_apply_entry_means_no_evidence() -> None:
    updated_only = {
        **SERVICE,
        "metadata": {
            **SERVICE["metadata"],
            "managedFields": SERVICE["metadata"]["managedFields"][1:],
        },
    }
    assert applied_projection(updated_only) is None
    assert applied_projection({"metadata": {"managedFields": "garbage"}}) is None
    assert all("nodePort" not in p for p in neat(updated_only)["spec"]["ports"])


def test_set_and_index_keys() -> None:
    obj = {
        "metadata": {
            "managedFields": [
                {
                    "operation": "Apply",
                    "fieldsV1": {"f:spec": {"f:finalizers": {'v:"a"': {}}, "f:args": {"i:1": {}}}},
                }
            ]
        },
        "spec": {"finalizers": ["a", "b"], "args": ["x", "y"]},
    }
    assert applied_projection(obj) == {"spec": {"finalizers": ["a"], "args": ["y"]}}
