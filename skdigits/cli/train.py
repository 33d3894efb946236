"""``skdigits train``: fetch MNIST, fit the pipeline, print the report, save the model."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..estimator._presets import PRESETS
from ._common import (
    Command,
    add_data_options,
    check_not_overwriting,
    check_output_path,
    common_options,
    fraction,
    load_mnist,
    positive_int,
    quiet_tensorflow,
)

# The training options in --help order. Each defaults to None: "the preset's
# value, else the classifier's".
_TRAINING_OPTIONS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("--epochs", {"type": positive_int, "help": "default: 10, or the preset's"}),
    ("--batch-size", {"type": positive_int, "help": "default: 32, or the preset's"}),
    ("--hidden-units", {"type": positive_int, "help": "default: 100"}),
    (
        "--learning-rate",
        {"type": float, "help": "Adam's learning rate (default: 0.001, or the preset's)"},
    ),
    (
        "--output-activation",
        {
            "choices": ("softmax", "sigmoid"),
            "help": "'sigmoid' reproduces the original recipe exactly (default: softmax, or "
            "the preset's)",
        },
    ),
    (
        "--validation-split",
        {"type": fraction, "help": "the fraction held out, from 0 to below 1 (default: 0.2)"},
    ),
    (
        "--preset",
        {
            "choices": tuple(PRESETS),
            "help": "a named recipe to start from: 'seed' the original one, 'tuned' the "
            "searched one for the chosen --architecture, 'fast' a CNN, 'best' two residual nets "
            "(or 3 CNNs with --architecture cnn), 'distilled' "
            "the 784-100-10 net taught by the fast CNN, 'robust' for handwriting unlike "
            "MNIST's (see README, 'Accuracy'); any option given explicitly replaces the "
            "preset's value",
        },
    ),
    (
        "--architecture",
        {
            "choices": ("mlp", "cnn", "resnet"),
            "help": "the reference net, the convolutional net or the residual net (default: "
            "mlp, or the preset's)",
        },
    ),
    (
        "--conv-filters",
        {
            "type": int,
            "nargs": "+",
            "metavar": "N",
            "help": "filters of each convolution block (cnn) or the width of each stage "
            "(resnet), first to last, 1 to 4 of them (default: 32 64, or the preset's)",
        },
    ),
    (
        "--residual-blocks",
        {
            "type": int,
            "metavar": "N",
            "help": "residual blocks per stage of the resnet, its depth (default: 1, or the "
            "preset's)",
        },
    ),
    (
        "--augment",
        {
            "type": float,
            "nargs": "?",
            "const": 1.0,
            "metavar": "STRENGTH",
            "help": "random shifts, rotations and zoom while training only; STRENGTH 1.0 "
            "(the value without one) means up to 10%% / 10 degrees / 10%%",
        },
    ),
    (
        "--augment-with",
        {
            "nargs": "+",
            "choices": ("shift", "rotate", "zoom", "shear", "elastic", "thickness"),
            "metavar": "KIND",
            "help": "which transformations --augment applies: shift, rotate, zoom, shear "
            "(slant), elastic (a wobbly hand), thickness (pen width) (default: shift rotate "
            "zoom; shifts alone are the cheapest)",
        },
    ),
    (
        "--ensemble-size",
        {
            "type": int,
            "metavar": "N",
            "help": "average N nets, each from its own seeds and trained on its own loss, in "
            "one model and one ONNX graph (default: 1, or the preset's)",
        },
    ),
    (
        "--teacher",
        {
            "metavar": "PRESET_OR_MODEL",
            "help": "distil from a teacher: a preset trained first on the same images, without "
            "label smoothing (e.g. fast), or a saved .skdigits model (default: none, or "
            "the preset's)",
        },
    ),
    (
        "--label-smoothing",
        {
            "type": float,
            "metavar": "EPS",
            "help": "train towards 1-EPS for the true class instead of 1 (default: 0, or the "
            "preset's)",
        },
    ),
    (
        "--outlier-exposure",
        {
            "type": float,
            "metavar": "RATIO",
            "help": "also train on RATIO pictures that are no digit per training image "
            "(letters, scribbles, textures, fragments, specks) towards equal probabilities, "
            "so that the digit score refuses what is no digit (default: 0, or the preset's)",
        },
    ),
    (
        "--digit-variants",
        {
            "type": float,
            "metavar": "RATIO",
            "help": "also train on RATIO digits per training image typeset in fonts or "
            "redrawn with a pen of one width (default: 0, or the preset's)",
        },
    ),
)


#: The flag of each classifier parameter that has one, for messages.
_FLAGS = {"optimizer__learning_rate": "--learning-rate", "random_state": "--random-state"}


def check_training_options(params: dict[str, Any], preset: str | None, random_state: Any) -> None:
    """Refuse what the classifier would refuse, from the options alone, before MNIST loads.

    The bounds are the table ``fit`` and loading a saved model apply; a teacher
    file is judged from its manifest (a file, a model, of MNIST's ten digits).
    """
    from .._core.errors import SkdigitsError
    from ..estimator._presets import preset_params
    from ..model_io._bounds import PARAMETER_BOUNDS, check_bounds, within_bounds

    for name, value in {**params, "random_state": random_state}.items():
        if name in PARAMETER_BOUNDS and not within_bounds(name, value):
            flag = _FLAGS.get(name, "--" + name.replace("_", "-"))
            raise SkdigitsError(f"{flag} must be {PARAMETER_BOUNDS[name].words}, got {value!r}")
    merged = {**(preset_params(preset, params.get("architecture")) if preset else {}), **params}
    check_bounds(merged)
    teacher = merged.get("teacher")
    if teacher is not None and teacher not in PRESETS:
        from ..estimator._teacher import check_teacher_file

        check_teacher_file(teacher, list(range(10)))


def _add_training_options(parser: argparse.ArgumentParser) -> None:
    for flag, options in _TRAINING_OPTIONS:
        parser.add_argument(flag, default=None, **options)
    parser.add_argument("--random-state", type=int, default=None, help="seed for a repeatable run")
    parser.add_argument(
        "--subset",
        type=positive_int,
        default=None,
        metavar="N",
        help="train on the first N training images only (for a quick trial; at least 10)",
    )
    parser.add_argument(
        "--report",
        type=Path,
        metavar="DIR",
        help="after saving, write the figures and HTML report of `skdigits report` into DIR "
        '(needs: pip install "skdigits[plot]"; --force replaces an earlier report there)',
    )


COMMAND = Command(
    "train",
    help="train on MNIST and save the fitted pipeline",
    # Not a %-format: the formatter only wraps descriptions.
    description="""
        Train the pipeline (PixelScaler + DigitClassifier) on MNIST's 60,000 training
        images (the last 20% held out for validation), report train, validation and test
        accuracy with the test confusion matrix, and save the fitted pipeline.
    """,
    examples=(
        "skdigits train -o model.skdigits                 # the reference recipe, full MNIST",
        "skdigits train --subset 5000 --epochs 2 --force  # a quick trial",
        "skdigits train --preset tuned --architecture cnn -o cnn.skdigits",
    ),
    options=(
        common_options(
            output="where to save the fitted pipeline",
            output_default=Path("model.skdigits"),
            force="overwrite --output (and an earlier --report) if it exists",
        ),
        _add_training_options,
        common_options(json="print the metrics as JSON at the end", quiet=True),
        add_data_options,
    ),
)


def run(args: argparse.Namespace) -> int:
    from .._core.errors import SkdigitsError

    check_output_path(args.output, force=args.force)
    if args.teacher is not None and args.teacher not in PRESETS:
        check_not_overwriting(Path(args.teacher), [args.output], what="teacher")
    if args.report is not None:
        from ..analysis._report import check_report_dir

        check_report_dir(args.report, overwrite=args.force)
    if args.subset is not None and args.subset < 10:
        raise SkdigitsError("--subset must be at least 10 images")
    given = dict(
        hidden_units=args.hidden_units,
        output_activation=args.output_activation,
        optimizer__learning_rate=args.learning_rate,
        batch_size=args.batch_size,
        epochs=args.epochs,
        validation_split=args.validation_split,
        architecture=args.architecture,
        conv_filters=None if args.conv_filters is None else tuple(args.conv_filters),
        residual_blocks=args.residual_blocks,
        augment=args.augment,
        label_smoothing=args.label_smoothing,
        outlier_exposure=args.outlier_exposure,
        digit_variants=args.digit_variants,
        augmentations=None if args.augment_with is None else "+".join(args.augment_with),
        teacher=args.teacher,
        ensemble_size=args.ensemble_size,
    )
    params = {name: value for name, value in given.items() if value is not None}
    check_training_options(params, args.preset, args.random_state)

    X_train, y_train = load_mnist(args, "train")
    X_test, y_test = load_mnist(args, "test")
    if args.subset is not None:
        X_train, y_train = X_train[: args.subset], y_train[: args.subset]

    quiet_tensorflow()
    from ..analysis._training import fit_and_evaluate
    from ..estimator._pipeline import make_pipeline
    from ..estimator._saving import save_model

    verbose = 0 if args.quiet else (1 if sys.stdout.isatty() else 2)
    # Progress only while fitting: prediction stays silent.
    pipeline = make_pipeline(
        args.preset, random_state=args.random_state, verbose=0, fit__verbose=verbose, **params
    )
    if not args.quiet:
        print(
            f"training on {len(X_train)} MNIST images "
            f"({pipeline[-1].validation_split:.0%} held out for validation), "
            f"testing on {len(X_test)}",
            flush=True,
        )
    result = fit_and_evaluate(pipeline, X_train, y_train, X_test, y_test)
    pipeline[-1].set_params(fit__verbose=0)  # a re-fit of the saved model starts quiet

    print(result.format())
    metrics = result.metrics()
    save_model(pipeline, args.output, metadata={"metrics": metrics, "training_data": "MNIST"})
    print(f"\nsaved the fitted pipeline to {args.output}")
    if args.report is not None:
        from ..analysis._report import write_report
        from .report import format_written

        report = write_report(
            pipeline,
            X_test,
            y_test,
            args.report,
            title=f"skdigits report: {args.output.name}",
            overwrite=args.force,
        )
        print(format_written(report))
    if args.json:
        print(json.dumps(metrics))
    return 0
