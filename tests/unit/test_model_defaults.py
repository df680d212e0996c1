"""The configuration's models make an empty list with ``core.model_defaults.empty_list``, not
``list``: pydantic asks a default factory for its signature, and ``list``'s is parsed from its
text by ``tokenize``, its pattern compiled on first use (a run's fixed cost)."""

from pydantic import BaseModel

from backup2gitops.config.model import Config
from backup2gitops.config.types import Strict
from backup2gitops.core.drift import DriftPolicy
from tests.fresh_python import fresh_env, run_python


def _models(root: type[BaseModel]) -> set[type[BaseModel]]:
    found = {root}
    for sub in root.__subclasses__():
        found |= _models(sub)
    return found


def test_no_configuration_field_makes_its_default_with_list() -> None:
    models = _models(Strict) | _models(DriftPolicy) | {Config}
    assert len(models) > 20
    for model in models:
        for name, info in model.model_fields.items():
            assert info.default_factory is not list, f"{model.__name__}.{name}"


def test_loading_the_configuration_parses_no_signature_text() -> None:
    """In a fresh process: the configuration loaded (every section's defaults made, ``git``
    validated), and ``tokenize``'s pattern still not compiled."""
    code = (
        "import tokenize\n"
        "from backup2gitops.config import load_config\n"
        "load_config(None)\n"
        "print(tokenize._compile.cache_info().currsize)\n"
    )
    env = fresh_env({"BACKUP2GITOPS__GIT__CACHE_DIR": "/nonexistent/cache"}, configured=False)
    done = run_python(code, env=env)
    assert done.stdout.strip() == "0"
