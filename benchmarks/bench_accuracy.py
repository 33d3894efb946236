"""Accuracy, fit time, handwriting and ONNX speed of every preset, measured in one run.

Every model trains on MNIST's 60,000 training images with the last 20 % held
out for validation (the Keras nets hold it out themselves; scikit-learn's
MLPClassifier is fitted on the same first 48,000 images) and is tested on the
10,000 test images. Each Keras model is then exported to ONNX (through the
parity gate) and read the non-MNIST digits of ``benchmarks/handwriting.py``
through ``skdigits predict``, as image files, exactly as a user would. Prints
one Markdown table of accuracy, then one of ONNX size and batch throughput,
fp32 against static int8.

    python benchmarks/bench_accuracy.py   # MNIST from the default data home ($SKDIGITS_DATA)
    python benchmarks/bench_accuracy.py --seeds 0 --only fast distilled   # some rows
    python benchmarks/bench_accuracy.py --seeds 0 --subset 6000            # a smoke run

Fit times depend on the machine and its load: before every row the script fits
the seed's own Keras code (``seed_keras.py``: 10 epochs, Keras' defaults, the
same 48,000 images) and prints each row's fit time beside its ratio to the
median of those fits, so that figures from different machines compare. It also
prints the load average before and after. Seeded fits are bit-reproducible, so
accuracies do not depend on the load.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))


def _mean_spread(values: list[float]) -> str:
    if len(values) == 1:
        return f"{100 * values[0]:.2f} %"
    return f"{100 * statistics.mean(values):.2f} ± {100 * statistics.stdev(values):.2f} %"


def _time_str(values: list[float]) -> str:
    return f"{statistics.mean(values):.0f} s" + (f" (n={len(values)})" if len(values) > 1 else "")


def _ratio_str(values: list[float], seed_keras: list[float]) -> str:
    """The mean fit time as a multiple of the seed's Keras code's median fit time."""
    return f"{statistics.mean(values) / statistics.median(seed_keras):.2f}x"


def _fit_seed_keras(X: Any, y: Any) -> float:
    """Seconds to fit the seed's own Keras code (10 epochs, Keras' defaults) on ``X, y``."""
    from seed_keras import fit_seed_keras

    t = time.perf_counter()
    fit_seed_keras(X, y, epochs=10)
    seconds = time.perf_counter() - t
    print(f"  seed's Keras code: {seconds:.0f} s (load {os.getloadavg()[0]:.1f})", flush=True)
    return seconds


def _keras_recipe(preset: str | None, **params: Any) -> Callable[[int], Any]:
    from skdigits import make_pipeline

    return lambda seed: make_pipeline(preset, random_state=seed, **params)


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


def speed_table(
    exported: dict[str, tuple[str, bytes]],
    calibration: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    *,
    batch: int,
) -> list[dict[str, Any]]:
    """Print size, accuracy and batch throughput of each fp32 model and its static int8 twin."""
    from skdigits.export.quantize import onnx_accuracy, quantize_int8

    print(
        f"\n| ONNX model | size | accuracy | images/s, 1 thread | speed-up | "
        f"images/s, all {os.cpu_count()} cores | speed-up |"
    )
    print("|---|---|---|---|---|---|---|", flush=True)
    speed_rows: list[dict[str, Any]] = []
    for key, (label, fp32) in exported.items():
        int8 = quantize_int8(fp32, method="static", calibration_images=calibration)
        models = {"fp32": fp32, "int8 static": int8.SerializeToString()}
        base: dict[int | None, float] = {}
        for kind, data in models.items():
            acc = onnx_accuracy(data, X_test, y_test)
            cells, speeds = [], []
            for threads in (1, None):
                speed = _throughput(data, X_test, batch=batch, seconds=3.0, threads=threads)
                base.setdefault(threads, speed)
                speeds.append(speed)
                cells.append(f"{speed:,.0f} | {speed / base[threads]:.2f}x")
            print(
                f"| {label.split(' (')[0]} {kind} | {len(data) / 1024:,.0f} KiB | "
                f"{100 * acc:.2f} % | {' | '.join(cells)} |",
                flush=True,
            )
            speed_rows.append(
                {"key": key, "kind": kind, "bytes": len(data), "accuracy": acc, "speeds": speeds}
            )
    return speed_rows


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--cnn-seeds",
        type=int,
        nargs="+",
        default=None,
        help="seeds of the slow rows (tuned, best and robust CNN; default: --seeds)",
    )
    parser.add_argument(
        "--row-seeds",
        nargs="*",
        default=[],
        metavar="KEY=S1,S2",
        help="seeds for one row, replacing --seeds / --cnn-seeds (e.g. fast=0,1,2)",
    )
    parser.add_argument("--subset", type=int, default=None, help="first N training images")
    parser.add_argument("--only", nargs="*", default=None, help="rows to run, by key")
    parser.add_argument("--skip", nargs="*", default=[], help="rows to leave out, by key")
    parser.add_argument("--batch", type=int, default=1000, help="ONNX throughput batch size")
    parser.add_argument("--handwriting", type=Path, default=None, help="where to write the sets")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--models-dir", type=Path, default=None, help="keep the ONNX models here")
    parser.add_argument("--skip-speed", action="store_true", help="no ONNX speed table")
    parser.add_argument(
        "--speed-of",
        type=Path,
        nargs="*",
        default=None,
        metavar="ONNX",
        help="train nothing: print the speed table of these fp32 models",
    )
    return parser


def _recipes(
    args: argparse.Namespace,
) -> list[tuple[str, str, Callable[[int], Any], list[int], bool]]:
    """(key, label, make(seed), seeds, Keras net?) for each row to run, in run order."""
    cnn = {"architecture": "cnn"}
    cnn_seeds = args.cnn_seeds or args.seeds
    # The rows whose fit time has a target (fast, distilled, best) run last.
    recipes: list[tuple[str, str, Callable[[int], Any], list[int], bool]] = [
        ("seed", "seed recipe (preset='seed')", _keras_recipe("seed"), args.seeds, True),
        ("tuned", "tuned MLP (preset='tuned')", _keras_recipe("tuned"), args.seeds, True),
        ("sklearn", "sklearn MLPClassifier((100,))", _sklearn_mlp, args.seeds, False),
        (
            "tuned-cnn",
            "tuned CNN (preset='tuned', architecture='cnn')",
            _keras_recipe("tuned", **cnn),
            cnn_seeds,
            True,
        ),
        ("robust", "robust CNN (preset='robust')", _keras_recipe("robust"), cnn_seeds, True),
        ("fast", "fast CNN (preset='fast')", _keras_recipe("fast"), args.seeds, True),
        (
            "distilled",
            "distilled MLP (preset='distilled', teacher fitted inside)",
            _keras_recipe("distilled"),
            args.seeds,
            True,
        ),
        ("best", "best: two ResNets (preset='best')", _keras_recipe("best"), cnn_seeds, True),
        (
            "resnet",
            "one ResNet (preset='best', ensemble_size=1)",
            _keras_recipe("best", ensemble_size=1),
            cnn_seeds,
            True,
        ),
        (
            "best-cnn",
            "three fast CNNs in one model (preset='best', architecture='cnn')",
            _keras_recipe("best", **cnn),
            cnn_seeds,
            True,
        ),
        (
            "resnet-wide",
            "one wider, shallower ResNet (preset='best', ensemble_size=1, "
            "conv_filters=(32, 64, 128), residual_blocks=1)",
            _keras_recipe("best", ensemble_size=1, conv_filters=(32, 64, 128), residual_blocks=1),
            cnn_seeds,
            True,
        ),
    ]
    row_seeds = {
        key: [int(seed) for seed in seeds.split(",")]
        for key, seeds in (item.split("=", 1) for item in args.row_seeds)
    }
    recipes = [(k, lab, make, row_seeds.get(k, seeds), ker) for k, lab, make, seeds, ker in recipes]
    if args.only is not None:  # in the order asked for
        recipes.sort(key=lambda r: args.only.index(r[0]) if r[0] in args.only else -1)
    return recipes


def _run_row(
    key: str,
    label: str,
    make: Callable[[int], Any],
    seeds: list[int],
    keras_net: bool,
    X: Any,
    y: Any,
    X_test: Any,
    y_test: Any,
    n_train: int,
) -> tuple[dict[str, Any], Any]:
    """Fit and score one row's recipe for each seed: the row and the last seed's pipeline."""
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
        print(
            f"  {label} seed {seed}: {accs[-1]:.4f} in {times[-1]:.0f} s "
            f"(load {os.getloadavg()[0]:.1f}, {time.strftime('%H:%M:%S')})",
            flush=True,
        )
    row = {
        "key": key,
        "label": label,
        "accuracies": accs,
        "fit_seconds": times,
        "epochs": epochs,
        "handwriting": {},
    }
    return row, pipe


def _print_table(
    rows: list[dict[str, Any]], handwriting: dict[str, Any], seed_keras: list[float]
) -> None:
    """The README's accuracy table, one line per row."""
    sets = list(handwriting)
    print(
        f"The seed's own Keras code, fitted {len(seed_keras)} times in this run: median "
        f"{statistics.median(seed_keras):.0f} s (from {min(seed_keras):.0f} to "
        f"{max(seed_keras):.0f} s)\n"
    )
    print(
        "| model | test accuracy | fit time | ÷ seed's Keras code | epochs run | "
        + " | ".join(f"{name} ({len(handwriting[name])} images)" for name in sets)
        + " |"
    )
    print("|---|---|---|---|---|" + "---|" * len(sets))
    for row in rows:
        hand_cells = " | ".join(
            f"{100 * row['handwriting'][n]:.1f} %" if n in row["handwriting"] else "-" for n in sets
        )
        print(
            f"| {row['label']} | {_mean_spread(row['accuracies'])} | "
            f"{_time_str(row['fit_seconds'])} | {_ratio_str(row['fit_seconds'], seed_keras)} | "
            f"{', '.join(map(str, row['epochs'])) or '-'} | "
            f"{hand_cells} |"
        )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)

    from handwriting import predict_accuracy, write_sets

    from skdigits import fetch_mnist
    from skdigits.export import export_onnx

    X, y = fetch_mnist(subset="train", return_X_y=True)
    X_test, y_test = fetch_mnist(subset="test", return_X_y=True)
    if args.speed_of is not None:
        print(f"load average before: {os.getloadavg()}", flush=True)
        models = {path.stem: (path.stem, path.read_bytes()) for path in args.speed_of}
        speed_table(models, X[:500], X_test, y_test, batch=args.batch)
        print(f"load average after: {os.getloadavg()}")
        return 0
    if args.subset:
        X, y = X[: args.subset], y[: args.subset]
    n_train = int(len(X) * 0.8)
    work = args.models_dir or Path(tempfile.mkdtemp(prefix="bench_accuracy_"))
    work.mkdir(parents=True, exist_ok=True)
    handwriting = write_sets(args.handwriting or work / "handwriting")

    recipes = _recipes(args)
    print(f"load average before: {os.getloadavg()}", flush=True)
    rows, exported, seed_keras = [], {}, []
    for key, label, make, seeds, keras_net in recipes:
        if key in args.skip or (args.only is not None and key not in args.only):
            continue
        seed_keras.append(_fit_seed_keras(X, y))
        row, pipe = _run_row(key, label, make, seeds, keras_net, X, y, X_test, y_test, n_train)
        if keras_net:  # the last seed's model, through the parity gate, as a user has it
            path = export_onnx(pipe, work / f"{key}.onnx", check_samples=X_test[:1000], force=True)
            exported[key] = (label, path.read_bytes())
            row["handwriting"] = {
                name: predict_accuracy(path, files) for name, files in handwriting.items()
            }
        rows.append(row)
        if args.json:
            args.json.write_text(json.dumps({"rows": rows, "seed_keras": seed_keras}, indent=2))
    seed_keras.append(_fit_seed_keras(X, y))
    print(f"load average after: {os.getloadavg()}\n")

    _print_table(rows, handwriting, seed_keras)

    if not args.skip_speed:
        speed_rows = speed_table(exported, X[:500], X_test, y_test, batch=args.batch)
        if args.json:
            args.json.write_text(
                json.dumps({"rows": rows, "seed_keras": seed_keras, "onnx": speed_rows}, indent=2)
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
