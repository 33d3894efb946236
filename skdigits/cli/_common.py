"""Helpers shared by the commands: quiet TensorFlow, output-path checks, data options."""

from __future__ import annotations

import argparse
import logging
import os
import warnings
from pathlib import Path

from .._errors import SkdigitsError


def quiet_tensorflow() -> None:
    """Silence TensorFlow's and Keras' log noise for a command-line user."""
    from .._tf import import_keras

    import_keras(feature="this command")
    import tensorflow as tf

    tf.get_logger().setLevel(logging.ERROR)
    for module in ("tensorflow", "keras", "scikeras", "tf2onnx", "absl"):
        warnings.filterwarnings("ignore", module=module)
        logging.getLogger(module).setLevel(logging.ERROR)


def check_output_path(path: Path, *, force: bool) -> None:
    """Refuse to overwrite an existing file without ``--force``, before any work is done."""
    if path.is_dir():
        raise SkdigitsError(f"output {path} is a directory; pass a file path")
    if path.exists() and not force:
        raise SkdigitsError(f"output {path} already exists; pass --force to overwrite it")
    # The nearest existing folder on the way up: missing ones are created on writing.
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise SkdigitsError(f"cannot write {path}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise SkdigitsError(
            f"cannot write {path}: directory {parent} is not writable; choose another output"
        )


def add_data_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("data")
    group.add_argument(
        "--data-home",
        type=Path,
        help="where MNIST is cached (default: $SKDIGITS_DATA or ~/.cache/skdigits)",
    )
    group.add_argument(
        "--mnist-dir",
        type=Path,
        help="a directory that already holds the four MNIST IDX files (raw or .gz)",
    )
    group.add_argument(
        "--offline",
        action="store_true",
        help="never download; use only the cache and --mnist-dir",
    )


def load_mnist(args: argparse.Namespace, subset: str):
    from ..datasets import fetch_mnist

    return fetch_mnist(
        data_home=args.data_home,
        local_dir=args.mnist_dir,
        subset=subset,
        download_if_missing=not args.offline,
        return_X_y=True,
    )
