"""Optional dependencies: import them on demand with an error naming the extra to install."""

from __future__ import annotations

import importlib
import re
from types import ModuleType

from .errors import MissingDependencyError

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
    "scipy": "train",
    "joblib": "train",
    "distributed": "search",
    "dask": "search",
    "starlette": "serve",
    "uvicorn": "serve",
    "orjson": "serve",
    "multipart": "serve",
    "python_multipart": "serve",
}

_PIP_NAME = {
    "sklearn": "scikit-learn",
    "PIL": "pillow",
    "multipart": "python-multipart",
    "python_multipart": "python-multipart",
}


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
        raise _missing(module.split(".")[0], feature) from err


def as_missing_dependency(err: ImportError, *, feature: str) -> MissingDependencyError | None:
    """The :class:`MissingDependencyError` an ImportError of an optional module means.

    None when the module that failed to import is not one of the optional
    dependencies (then the ImportError is a bug, and must be seen as one).
    """
    name = err.name
    if name is None:  # raised by hand, not by the import system: read the message
        found = re.match(r"No module named '([\w.]+)'", str(err))
        name = found[1] if found else ""
    top = name.split(".")[0]
    if isinstance(err, MissingDependencyError) or top not in _EXTRA_OF:
        return None
    return _missing(top, feature)


def _missing(top: str, feature: str) -> MissingDependencyError:
    extra = _EXTRA_OF.get(top, "train")
    name = _PIP_NAME.get(top, top)
    return MissingDependencyError(
        f"{feature} needs {name}, which is not installed; "
        f'install it with: pip install "skdigits[{extra}]"'
    )
