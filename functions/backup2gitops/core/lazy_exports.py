"""A package's names imported from their modules when first asked for (PEP 562): a package
whose ``__init__`` re-exports its whole API would import all of it with any of its modules.

``core.cleaning``, ``core.drift`` and ``generation`` import their light modules (what the
configuration and an unchanged backup use) as usual and name the rest here; ``from package
import name`` and ``package.name`` work the same for both. Each package imports the lazy names
under ``TYPE_CHECKING`` too, so the type checker sees them as ordinary imports.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping


def lazy_exports(package: str, modules: Mapping[str, str]) -> Callable[[str], object]:
    """The ``__getattr__`` of ``package``: a name of ``modules`` (name -> the module of the
    package defining it) imported from its module the first time it is asked for, then kept
    on the package; any other name is missing, as usual."""

    def package_getattr(name: str) -> object:
        module = modules.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        setattr(sys.modules[package], name, value)
        return value

    return package_getattr
