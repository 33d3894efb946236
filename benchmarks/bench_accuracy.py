"""Accuracy and fit time of each recipe, and fp32 versus int8 ONNX, measured in one run.

Every model trains on MNIST's 60,000 training images with the last 20 % held
out for validation (the Keras nets hold it out themselves; scikit-learn's
MLPClassifier is fitted on the same first 48,000 images) and is tested on the
10,000 test images. Prints one Markdown table, then the int8 comparison.

    python benchmarks/bench_accuracy.py   # MNIST from the default data home ($SKDIGITS_DATA)
    python benchmarks/bench_accuracy.py --seeds 0 --subset 6000   # a quick smoke run

Fit times depend on the machine's load; the script prints the load average
before and after.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np


def _mean_spread(values: list[float]) -> str:
    if len(values) == 1:
        return f"{100 * values[0]:.2f} %"
    return f"{100 * statistics.mean(values):.2f} ± {100 * statistics.stdev(values):.2f} %"


def _time_str(values: list[float]) -> str:
    return f"{statistics.mean(values):.0f} s" + (f" (n={len(values)})" if len(values) > 1 else "")


def _keras_recipe(params: dict[str, Any]) -> Callable[[int], Any]:
    from skdigits import make_pipeline

    return lambda seed: make_pipeline(random_state=seed, **params)


def _sklearn_mlp(seed: int) -> Any:
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import Pipeline

    from skdigits import PixelScaler

    return Pipeline([("scale", PixelScaler()), ("clf", MLPClassifier((100,), random_state=seed))])


def _throughput(
    model: bytes, images: np.ndarray, *, batch: int, seconds: float, threads: int | None = None
) -> float:
    """Images per second of one onnxruntime session on batches of ``batch`` images.

    ``threads=None`` lets onnxruntime use every core; 1 measures one core.
    """
    from bench_inference import bare_session  # the same session set-up as that benchmark

    session = bare_session(model, threads)
    x = images[:batch].astype(np.float32)
    session.run(["label"], {"pixels": x})  # warm-up
    best = 0.0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = time.perf_counter()
        for _ in range(5):
            session.run(["label"], {"pixels": x})
        best = max(best, 5 * batch / (time.perf_counter() - t))
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--cnn-seeds",
        type=int,
        nargs="+",
        default=[0],
        help="seeds of the one-seed rows (the CNNs and the MLP without augmentation)",
    )
    parser.add_argument("--subset", type=int, default=None, help="first N training images")
    parser.add_argument("--skip", nargs="*", default=[], help="rows to leave out, by label")
    parser.add_argument("--batch", type=int, default=1000, help="ONNX throughput batch size")
    args = parser.parse_args(argv)

    from skdigits import fetch_mnist
    from skdigits.classifier import PRESETS
    from skdigits.export import to_onnx_model
    from skdigits.export.quantize import onnx_accuracy, quantize_int8

    X, y = fetch_mnist(subset="train", return_X_y=True)
    X_test, y_test = fetch_mnist(subset="test", return_X_y=True)
    if args.subset:
        X, y = X[: args.subset], y[: args.subset]
    n_train = int(len(X) * 0.8)

    # The tuned presets include augmentation; "no augmentation" rows use the same
    # settings as plain parameters with augment=None, to show what it adds.
    no_augment = {"augment": None}
    recipes: list[tuple[str, Callable[[int], Any], list[int], bool]] = [
        ("seed recipe (preset='seed')", _keras_recipe({"preset": "seed"}), args.seeds, True),
        ("tuned MLP (preset='tuned')", _keras_recipe({"preset": "tuned"}), args.seeds, True),
        (
            "tuned MLP settings, no augmentation",
            _keras_recipe({**PRESETS["tuned"]["mlp"], **no_augment}),
            args.cnn_seeds,
            True,
        ),
        (
            "CNN, no augmentation",
            _keras_recipe({**PRESETS["tuned"]["cnn"], **no_augment, "architecture": "cnn"}),
            args.cnn_seeds,
            True,
        ),
        (
            "CNN + augmentation (architecture='cnn', preset='tuned')",
            _keras_recipe({"architecture": "cnn", "preset": "tuned"}),
            args.cnn_seeds,
            True,
        ),
        ("sklearn MLPClassifier((100,))", _sklearn_mlp, args.seeds, False),
    ]
    print(f"load average before: {os.getloadavg()}", flush=True)
    rows, exported = [], {}
    for label, make, seeds, keras_net in recipes:
        if any(s in label for s in args.skip):
            continue
        accs, times, epochs = [], [], []
        for seed in seeds:
            pipe = make(seed)
            t = time.perf_counter()
            if keras_net:  # Keras holds out the last 20 % itself
                pipe.fit(X, y)
                epochs.append(len(pipe[-1].history_["loss"]))
            else:
                pipe.fit(X[:n_train], y[:n_train])
            times.append(time.perf_counter() - t)
            accs.append(float(pipe.score(X_test, y_test)))
            print(f"  {label} seed {seed}: {accs[-1]:.4f} in {times[-1]:.0f} s", flush=True)
        if keras_net and "preset='tuned'" in label:
            exported[label] = to_onnx_model(pipe).SerializeToString()
        rows.append((label, _mean_spread(accs), _time_str(times), epochs))
    print(f"load average after: {os.getloadavg()}\n")

    print("| model | test accuracy | fit time | epochs run |")
    print("|---|---|---|---|")
    for label, acc, fit_time, epochs in rows:
        print(f"| {label} | {acc} | {fit_time} | {', '.join(map(str, epochs)) or '-'} |")

    print(
        f"\n| ONNX model | accuracy | images/s, 1 thread | speed-up | "
        f"images/s, all {os.cpu_count()} cores | speed-up |"
    )
    print("|---|---|---|---|---|---|")
    for label, fp32 in exported.items():
        models = {"fp32": fp32}
        for method in ("dynamic", "static"):
            int8 = quantize_int8(fp32, method=method, calibration_images=X[:500])
            models[f"int8 {method}"] = int8.SerializeToString()
        base: dict[int | None, float] = {}
        for kind, data in models.items():
            acc = onnx_accuracy(data, X_test, y_test)
            cells = []
            for threads in (1, None):
                speed = _throughput(data, X_test, batch=args.batch, seconds=3.0, threads=threads)
                base.setdefault(threads, speed)
                cells.append(f"{speed:,.0f} | {speed / base[threads]:.2f}x")
            print(f"| {label.split(' (')[0]} {kind} | {100 * acc:.2f} % | {' | '.join(cells)} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
