"""The pydantic models every run makes write their annotations as objects, not text: with
``from __future__ import annotations``, pydantic compiles and evaluates each field's text as it
makes the class (config/types.py says which modules; a model naming itself quotes its name)."""

import __future__

import importlib
import inspect

import pytest
from pydantic import BaseModel

MODULES = (
    "backup2gitops.config.backups",
    "backup2gitops.config.generator",
    "backup2gitops.config.git",
    "backup2gitops.config.model",
    "backup2gitops.config.monitoring",
    "backup2gitops.config.receivers",
    "backup2gitops.config.storage",
    "backup2gitops.config.types",
    "backup2gitops.core.bucket_layout",
    "backup2gitops.core.cleaning.field_managers",
    "backup2gitops.core.cleaning.ignore_rules",
    "backup2gitops.core.cleaning.policy",
    "backup2gitops.core.cleaning.settings",
    "backup2gitops.core.drift.policy",
    "backup2gitops.core.retention_plan",
)


@pytest.mark.parametrize("name", MODULES)
def test_a_model_s_annotations_are_objects(name: str) -> None:
    module = importlib.import_module(name)
    assert vars(module).get("annotations") is not __future__.annotations, name
    models = [
        value
        for value in vars(module).values()
        if inspect.isclass(value) and issubclass(value, BaseModel) and value.__module__ == name
    ]
    assert models, name
    for model in models:
        texts = {
            field: annotation
            for field, annotation in vars(model).get("__annotations__", {}).items()
            if isinstance(annotation, str)
        }
        assert texts == {}, f"{name}.{model.__name__}"
