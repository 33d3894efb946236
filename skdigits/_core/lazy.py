"""Packages whose public names load their module on first use.

A package that re-exports names from heavy modules (TensorFlow, scikit-learn)
stays cheap to import: ``skdigits.estimator.PRESETS`` needs no TensorFlow,
``skdigits.estimator.DigitClassifier`` loads it. Module ``__getattr__`` and
``__dir__`` as PEP 562 defines them.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any

from .deps import as_missing_dependency


def lazy_exports(
    package: str, exports: dict[str, list[str]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    exports : dict
        Module (relative to the package, e.g. ``"._classifier"``) → the public
        names it defines.

    Returns
    -------
    tuple
        The two module-level hooks; ``dir(package)`` lists the public names. A missing
        optional dependency raises :class:`~skdigits.MissingDependencyError`
        naming the extra to install.
    """
    home = {name: module for module, names in exports.items() for name in names}
    public = sorted(home)

    def __getattr__(name: str) -> Any:
        module = home.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        try:
            imported = importlib.import_module(module, package)
        except ImportError as err:
            missing = as_missing_dependency(err, feature=f"{package}.{name}")
            if missing is None:
                raise
            raise missing from err
        value = getattr(imported, name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return public

    return __getattr__, __dir__
