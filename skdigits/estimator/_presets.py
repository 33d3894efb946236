"""Named training recipes: factories of ordinary DigitClassifier parameters.

A preset is not a parameter. ``preset_params("tuned")`` returns the plain
parameters of the recipe, and ``make_pipeline(preset="tuned", epochs=3)`` builds a
pipeline from them with ``epochs=3`` on top: an explicit argument always beats the
preset, and after that the parameters are the whole truth (``get_params()``, a
grid, ``clone`` and the exported metadata all say what is trained).

This module imports nothing heavy, so the command line can list the presets.
"""

from __future__ import annotations

from typing import Any

from ..model_io._bounds import ParameterError

_SEED_RECIPE: dict[str, Any] = {
    "output_activation": "sigmoid",
    "batch_size": 32,
    "epochs": 10,
    "optimizer__learning_rate": 0.001,
    "lr_schedule": "constant",
    "early_stopping": False,
    "augment": None,
    "label_smoothing": 0.0,
}

_TUNED_MLP: dict[str, Any] = {
    "output_activation": "softmax",
    "batch_size": 256,
    "epochs": 30,
    "optimizer__learning_rate": 0.003,
    "lr_schedule": "cosine",
    # A schedule callback acts once per call of the training step: one batch a
    # call keeps the schedule exact (and the measured results). Every preset
    # with a schedule says so.
    "steps_per_execution": 1,
    "early_stopping": True,
    "patience": 5,
    # Random shifts of up to 1.4 px: the single largest gain for this net
    # (+0.7 points); rotations and zoom add as much again to the fit time.
    "augment": 0.5,
    "augmentations": "shift",
    "label_smoothing": 0.1,
}

_TUNED_CNN: dict[str, Any] = {
    "output_activation": "softmax",
    "batch_size": 128,
    "epochs": 6,
    "optimizer__learning_rate": 0.003,
    "lr_schedule": "cosine",
    "steps_per_execution": 1,
    # Six epochs of cosine decay end at the best weights; nothing to stop.
    "early_stopping": False,
    "augment": 0.5,
    "augmentations": "shift",
    "label_smoothing": 0.1,
}

_FAST_CNN: dict[str, Any] = {
    **_TUNED_CNN,
    "conv_filters": (16, 32),
    "dense_units": 256,
    "batch_size": 256,
    # 7 epochs: 99.45 +- 0.04 % over random_state 0, 1, 2 in 65-68 s on two idle
    # cores; 5 epochs gave 99.38 % and 6 gave 99.40 % (README, "Accuracy").
    "epochs": 7,
    "optimizer__learning_rate": 0.01,
    "lr_schedule": "onecycle",
    # "Not a digit": one picture that is no digit per training image, and half a
    # digit typeset or redrawn with a pen (docs, "Confidence"): AUROC 0.991-0.999
    # on held-out non-digits against 0.95-0.99 without, at the same accuracy; half
    # as many rejected 4 points fewer of them, at 99.40 %.
    "outlier_exposure": 1.0,
    "digit_variants": 0.5,
}

#: The fast recipe on two pre-activation ResNets in one model, three stages of two
#: blocks each, 6 epochs: 99.65 / 99.66 / 99.62 % for random_state 0 / 1 / 2. One
#: such net alone gave 99.61 / 99.60 / 99.64 % here, and 99.63 / - / 99.59 % with
#: oneDNN held to AVX2 kernels (another machine's rounding): too close to 99.6 %
#: to rely on (docs, "Benchmarks"). The ResNet has no dense layer, so
#: ``dense_units`` is left out.
_BEST_RESNET: dict[str, Any] = {
    **{name: value for name, value in _FAST_CNN.items() if name != "dense_units"},
    "conv_filters": (16, 32, 64),
    "residual_blocks": 2,
    "epochs": 6,
    "ensemble_size": 2,
}

#: Transformations that model other writers and pens (README, "Accuracy").
_HANDWRITING = "thickness+elastic+shear+shift"

#: The parameters each preset sets, per architecture. ``"seed"`` is the original
#: recipe exactly; ``"tuned"`` was chosen by search; ``"fast"``, ``"best"``,
#: ``"distilled"`` and ``"robust"`` are the recipes of README, "Accuracy". The
#: MLP presets leave the model's size (``hidden_units``) alone: each trains the
#: 784-100-10 net.
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "seed": {"mlp": _SEED_RECIPE, "cnn": _SEED_RECIPE},
    "tuned": {
        "mlp": _TUNED_MLP,
        "cnn": _TUNED_CNN,
    },
    # A small batch-normalised CNN, large batches and a one-cycle schedule: the
    # CNN's accuracy in a third of its fit time. Half the filters cost little
    # accuracy; a narrow dense layer cost 0.25 points (99.17 % with 64 units).
    "fast": {"cnn": _FAST_CNN},
    # The most accuracy found: two residual nets averaged (its default), 99.64 %
    # mean of three seeds. Its CNN recipe, three fast CNNs in one model, their
    # probabilities averaged, is kept for `architecture="cnn"`: 99.50 %. No single
    # plain CNN tried beat the tuned CNN's 99.44-99.50 % (8 epochs, Dense(256), Conv(32) -> Conv(64)
    # -> Dense(256), the fast net for 12 epochs with rotations and zoom).
    "best": {"resnet": _BEST_RESNET, "cnn": {**_FAST_CNN, "ensemble_size": 3}},
    # The 784-100-10 net trained on the fast CNN's soft targets (fitted first, on
    # the same data, with the same seed, without the preset's label smoothing); the
    # student alone is kept and exported. For random_state 0, from an unsmoothed
    # teacher: alpha 0.5 at T=4 98.96 % (here; 30 epochs 98.84 %), alpha 0.8 98.94 %,
    # alpha 0.15 at T=2 98.67 %; from the smoothed fast CNN itself: alpha 0.15 at T=2
    # 98.75 % (the preset before), alpha 0.5 at T=4 98.43 %. Smoothing flattens the
    # wrong-class probabilities the student is to learn from (README, "Accuracy").
    "distilled": {
        "mlp": {
            "output_activation": "softmax",
            "batch_size": 256,
            "epochs": 60,
            "optimizer__learning_rate": 0.02,
            "lr_schedule": "onecycle",
            "steps_per_execution": 1,
            "early_stopping": False,
            "augment": 0.5,
            "augmentations": "shift",
            "label_smoothing": 0.0,
            "teacher": "fast",
            "distill_temperature": 4.0,
            "distill_alpha": 0.5,
        },
    },
    # Other people's handwriting: pen width, wobble, slant and placement vary in
    # training (each on a random half of every batch), so digits unlike MNIST's
    # are read better; the fast CNN's net, trained longer to absorb them.
    "robust": {
        "cnn": {**_FAST_CNN, "epochs": 10, "augment": 0.5, "augmentations": _HANDWRITING},
    },
}


def preset_params(preset: str, architecture: str | None = None) -> dict[str, Any]:
    """The ``DigitClassifier`` parameters of a named recipe.

    Parameters
    ----------
    preset : {"seed", "tuned", "fast", "best", "distilled", "robust"}
        The recipe.
    architecture : {"mlp", "cnn", "resnet"} or None, default=None
        The net the recipe is for; None means ``"mlp"`` where the preset has one,
        else the preset's first net (``"fast"`` and ``"robust"`` are CNNs,
        ``"best"`` two residual nets, with a CNN ensemble for ``"cnn"``).

    Returns
    -------
    dict
        Ordinary parameters, ``architecture`` included; pass them to
        ``DigitClassifier(**params)`` or ``make_pipeline(**params)``.

    Examples
    --------
    >>> preset_params("tuned")["batch_size"]
    256
    >>> preset_params("tuned", "cnn")["epochs"]
    6
    >>> preset_params("fast")["architecture"]
    'cnn'
    >>> preset_params("best")["architecture"]
    'resnet'
    """
    if preset not in PRESETS:
        raise ParameterError(f"`preset` must be one of {tuple(PRESETS)}, got {preset!r}")
    recipes = PRESETS[preset]
    if architecture is None:
        architecture = "mlp" if "mlp" in recipes else next(iter(recipes))
    if architecture not in recipes:
        raise ParameterError(
            f"preset {preset!r} is for architecture {tuple(recipes)}, got "
            f"`architecture`={architecture!r}"
        )
    return {"architecture": architecture, **recipes[architecture]}


def spelled_out(params: dict[str, Any]) -> dict[str, Any]:
    """Saved parameters with a legacy ``preset`` replaced by the parameters it stood for.

    Files from skdigits 0.1 stored ``preset``, which then replaced parameters at
    fit time; spelling it out gives the parameters that model was trained with.
    """
    if "preset" not in params:
        return params
    rest = {k: v for k, v in params.items() if k != "preset"}
    if params["preset"] is None:
        return rest
    return {**rest, **preset_params(params["preset"], rest.get("architecture"))}
