"""The Keras side: networks, augmentation layers, callbacks, ensembles, distillation,
model reuse and TensorFlow seeding.

Everything here speaks Keras and TensorFlow; the estimator layer above turns it
into a scikit-learn classifier. Importing the package is cheap: each name loads
its module (and TensorFlow) on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._core.lazy import lazy_exports

if TYPE_CHECKING:  # pragma: no cover
    from ._augment import (
        AUGMENTATIONS,
        RandomElastic,
        RandomSlant,
        RandomStrokeWidth,
        augmentation_kinds,
        augmentation_layers,
        layer_seeds,
    )
    from ._callbacks import LearningRateSchedule, training_callbacks
    from ._distill import Distiller, distilling
    from ._ensemble import EnsembleTrainer, FitWrapper, assemble, is_ensemble
    from ._networks import NET_PARAMS, build_cnn, build_mlp, build_network, build_resnet
    from ._tf import import_keras, seed_from, seeded

__all__ = [
    "AUGMENTATIONS",
    "NET_PARAMS",
    "Distiller",
    "EnsembleTrainer",
    "FitWrapper",
    "LearningRateSchedule",
    "RandomElastic",
    "RandomSlant",
    "RandomStrokeWidth",
    "assemble",
    "augmentation_kinds",
    "augmentation_layers",
    "build_cnn",
    "build_mlp",
    "build_network",
    "build_resnet",
    "distilling",
    "import_keras",
    "is_ensemble",
    "layer_seeds",
    "seed_from",
    "seeded",
    "training_callbacks",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "._augment": [
            "AUGMENTATIONS",
            "RandomElastic",
            "RandomSlant",
            "RandomStrokeWidth",
            "augmentation_kinds",
            "augmentation_layers",
            "layer_seeds",
        ],
        "._callbacks": ["LearningRateSchedule", "training_callbacks"],
        "._distill": ["Distiller", "distilling"],
        "._ensemble": ["EnsembleTrainer", "FitWrapper", "assemble", "is_ensemble"],
        "._networks": ["NET_PARAMS", "build_cnn", "build_mlp", "build_network", "build_resnet"],
        "._tf": ["import_keras", "seed_from", "seeded"],
    },
)
