"""Optional dependencies: import them on demand with an error naming the extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

from ._errors import MissingDependencyError

# Which extra brings each optional top-level module.
_EXTRA_OF = {
    "sklearn": "train",
    "scikeras": "train",
    "tensorflow": "train",
    "keras": "train",
    "tf2onnx": "train",
    "onnx": "train",
    "skl2onnx": "train",
    "PIL": "images",
    "matplotlib": "plot",
}

_PIP_NAME = {"sklearn": "scikit-learn", "PIL": "pillow"}


def require(module: str, *, feature: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming the extra.

    Parameters
    ----------
    module : str
        Dotted module name, e.g. ``"tensorflow"``.
    feature : str
        What the caller was trying to do, for the message.
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        top = module.split(".")[0]
        extra = _EXTRA_OF.get(top, "train")
        name = _PIP_NAME.get(top, top)
        raise MissingDependencyError(
            f"{feature} needs {name}, which is not installed; "
            f'install it with: pip install "skdigits[{extra}]"'
        ) from err
