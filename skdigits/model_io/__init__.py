"""The ``.skdigits`` file format: a zip of a JSON manifest and a Keras archive.

Bytes and manifest only: every member is bounded and every manifest value
checked before anything is extracted or built, and loading runs no code from
the file. The estimator layer's :func:`skdigits.save_model` and
:func:`skdigits.load_model` are the public way to use it.
"""

from __future__ import annotations

from ._format import (
    FORMAT,
    FORMAT_VERSION,
    MAX_CLASSES,
    MAX_COMPRESSION_RATIO,
    MAX_HIDDEN_UNITS,
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
    "MAX_HIDDEN_UNITS",
    "MAX_MEMBER_BYTES",
    "SUFFIX",
    "load_metadata",
    "read_pipeline",
    "write_pipeline",
]
