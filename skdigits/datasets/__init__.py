"""Data sets: MNIST fetched into a checked cache, and the IDX file format it ships in."""

from ._idx import load_idx, save_idx
from ._mnist import MNIST_FILES, check_mnist_pair, fetch_mnist, get_data_home
from ._npy import load_npy

__all__ = [
    "MNIST_FILES",
    "check_mnist_pair",
    "fetch_mnist",
    "get_data_home",
    "load_idx",
    "load_npy",
    "save_idx",
]
