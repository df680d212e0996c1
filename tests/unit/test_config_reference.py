"""docs/configuration.md is the table generated from the configuration model."""

from pathlib import Path

from backup2gitops.cli.config_reference import reference_markdown
from backup2gitops.config import Config

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_the_reference_is_current() -> None:
    assert DOC.read_text() == reference_markdown(), (
        "run `backup2gitops config reference > docs/configuration.md`"
    )


def test_every_leaf_field_has_a_row() -> None:
    text = reference_markdown()
    for section, model in Config.model_fields.items():
        assert model.annotation is not None
        assert f"`{section}" in text
    for row in ("`generator.cleaning.secrets`", "`alerts.receivers[] (type: slack).url`"):
        assert row in text
