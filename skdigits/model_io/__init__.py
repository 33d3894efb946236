"""The ``.skdigits`` file format: a zip of a JSON manifest and a Keras archive.

Bytes and manifest only: every member is bounded and every manifest value
checked before anything is extracted or built, and loading runs no code from
the file. The estimator layer's :func:`skdigits.save_model` and
:func:`skdigits.load_model` are the public way to use it. The bounds on a
classifier's parameters (:data:`PARAMETER_BOUNDS`) live here too: fitting
applies the same table, so nothing is trained that could not be loaded.
"""

from __future__ import annotations

from ._bounds import (
    MAX_CLASSES,
    MAX_CONV_BLOCKS,
    MAX_HIDDEN_UNITS,
    MAX_WEIGHTS,
    PARAMETER_BOUNDS,
    ParameterError,
    Range,
    count_weights,
)
from ._format import (
    FORMAT,
    FORMAT_VERSION,
    MAX_COMPRESSION_RATIO,
    MAX_MEMBER_BYTES,
    SUFFIX,
    load_metadata,
    read_pipeline,
    write_pipeline,
)

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "MAX_CLASSES",
    "MAX_COMPRESSION_RATIO",
    "MAX_CONV_BLOCKS",
    "MAX_HIDDEN_UNITS",
    "MAX_MEMBER_BYTES",
    "MAX_WEIGHTS",
    "PARAMETER_BOUNDS",
    "SUFFIX",
    "ParameterError",
    "Range",
    "count_weights",
    "load_metadata",
    "read_pipeline",
    "write_pipeline",
]
