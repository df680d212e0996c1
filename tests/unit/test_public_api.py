import importlib

import pytest


@pytest.mark.parametrize(
    "module",
    [
        "backup2gitops.core.bucket_layout",
        "backup2gitops.core.backup_manifest",
        "backup2gitops.core.archive",
        "backup2gitops.sample",
        "backup2gitops.config",
    ],
)
def test_all_names_exist_and_are_complete(module: str) -> None:
    loaded = importlib.import_module(module)
    exported = set(loaded.__all__)
    assert all(hasattr(loaded, name) for name in exported)
    public = {
        name
        for name, value in vars(loaded).items()
        if not name.startswith("_")
        and (getattr(value, "__module__", None) or "").startswith(module)
        and (callable(value) or isinstance(value, type))
    }
    assert public <= exported, public - exported


@pytest.mark.parametrize(
    "module",
    [
        "backup2gitops.core.bucket_layout",
        "backup2gitops.core.backup_manifest",
        "backup2gitops.core.archive",
    ],
)
def test_core_modules_say_they_are_pure(module: str) -> None:
    doc = importlib.import_module(module).__doc__
    assert doc is not None and "PURE" in doc


@pytest.mark.parametrize("module", ["bucket_layout", "backup_manifest", "archive"])
def test_core_modules_import_only_stdlib_and_pydantic(module: str) -> None:
    import ast
    import sys
    from pathlib import Path

    core = Path(__file__).parents[2] / "functions/backup2gitops/core"
    sources = [core / f"{module}.py"] if (core / f"{module}.py").exists() else []
    sources += sorted((core / module).glob("*.py"))  # a package: each of its modules
    assert sources, module
    imported: set[str] = set()
    for node in (node for source in sources for node in ast.walk(ast.parse(source.read_text()))):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module)
    allowed = set(sys.stdlib_module_names) | {"pydantic", "pydantic_core"}
    for name in imported:
        top = name.split(".")[0]
        assert top in allowed or name.startswith("backup2gitops.core"), name
