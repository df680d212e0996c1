"""The core models ``generate`` imports are built when first used (``defer_build``), and the
defaults made from them without validation are what validation makes (issue 21: a run's fixed
cost). A broken definition still fails: the tests that validate each model build it."""

from __future__ import annotations

from backup2gitops.core.cleaning import CleaningPolicy
from backup2gitops.core.cleaning.field_managers import DEFAULT_FIELD_MANAGERS, FieldManagers
from backup2gitops.core.cleaning.preparation import _DEFAULT_POLICY
from backup2gitops.core.cleaning.settings import DEFAULT_SETTINGS, CleaningSettings
from tests.fresh_python import fresh_env, run_python


def test_the_defaults_made_without_validation_are_what_validation_makes() -> None:
    for made, model in (
        (_DEFAULT_POLICY, CleaningPolicy),
        (DEFAULT_SETTINGS, CleaningSettings),
        (DEFAULT_FIELD_MANAGERS, FieldManagers),
    ):
        validated = model.model_validate(made.model_dump(by_alias=True))
        # by value: a test that imports the package again (a fresh ``sys.modules``) leaves
        # this module's defaults of the first import's classes, which ``==`` tells apart
        assert validated.model_dump() == made.model_dump() == model().model_dump()
        assert type(made).__qualname__ == model.__qualname__
        assert made.model_fields_set == set()


def test_importing_what_generate_imports_builds_no_core_model() -> None:
    """In a fresh process: the generation path's modules and the configuration's, imported."""
    code = (
        "import backup2gitops.cli.generate, backup2gitops.generation, backup2gitops.config.model\n"
        "from backup2gitops.core import bucket_layout, retention_plan\n"
        "from backup2gitops.core.cleaning import field_managers, ignore_rules, policy, settings\n"
        "from backup2gitops.core.drift import policy as drift\n"
        "models = [bucket_layout.BackupKey, bucket_layout.BackupKeys, retention_plan.KeepPolicy,"
        " field_managers.FieldManagers, ignore_rules.IgnoreRule, policy.CleaningPolicy,"
        " settings.CleaningSettings, drift.DriftAllow, drift.DriftPolicy]\n"
        "print([m.__name__ for m in models if m.__pydantic_complete__])\n"
    )
    done = run_python(code, env=fresh_env(configured=False))
    assert done.stdout.strip() == "[]"
