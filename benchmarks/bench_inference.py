"""What OnnxDigitClassifier costs over bare onnxruntime, and how much faster it is than Keras.

Measures, side by side in one run, on one ONNX model:

(a) single-image latency of ``OnnxDigitClassifier.predict`` ÷ a bare, tuned
    ``session.run`` (``intra_op_num_threads=1``) on the same model: target ≤ 1.5;
(b) batch throughput (``--batch`` images in one call) ÷ bare onnxruntime with its
    default threads: target ≥ 0.9;
(c) with ``--keras-model PATH.skdigits`` and TensorFlow installed: the speed-up
    over the Keras model's ``model(x, training=False)`` on one image: target ≥ 100;
(d) the wall time of a cold ``python -m skdigits predict MODEL IMAGES.npy``
    (target ≤ 0.4 s) and its ratio to ``python -c "import tensorflow"`` (≤ 0.15).

Calls alternate between the contenders (in (c), blocks of calls), so machine load
affects both alike; each figure is a median. Without ``--model``, a
contract-conformant 784-100-10 MLP is built with ``onnx.helper`` (random weights:
speed does not depend on them).
``--thread-sweep`` also prints per-batch-size timings of one thread versus
onnxruntime's default, the measurement behind OnnxDigitClassifier's routing.

    python benchmarks/bench_inference.py [--model PATH.onnx] [--keras-model PATH.skdigits]
        [--batch 10000] [--thread-sweep]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import onnxruntime as ort

from skdigits.runtime._predictor import OnnxDigitClassifier


def build_fallback_model(path: Path, hidden: int = 100) -> Path:
    """A 784-100-10 MLP honouring the export contract, with seeded random weights."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weights: dict[str, np.ndarray] = {
        "scale": np.array(255.0, dtype=np.float32),
        "rows_shape": np.array([-1, 784], dtype=np.int64),
        "W1": rng.normal(0, 0.05, (784, hidden)).astype(np.float32),
        "b1": rng.normal(0, 0.1, hidden).astype(np.float32),
        "W2": rng.normal(0, 0.3, (hidden, 10)).astype(np.float32),
        "b2": rng.normal(0, 0.1, 10).astype(np.float32),
    }
    nodes = [
        helper.make_node("Div", ["pixels", "scale"], ["scaled"]),
        helper.make_node("Reshape", ["scaled", "rows_shape"], ["rows"]),
        helper.make_node("MatMul", ["rows", "W1"], ["h0"]),
        helper.make_node("Add", ["h0", "b1"], ["h1"]),
        helper.make_node("Relu", ["h1"], ["hidden"]),
        helper.make_node("MatMul", ["hidden", "W2"], ["z0"]),
        helper.make_node("Add", ["z0", "b2"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=-1),
        helper.make_node("ArgMax", ["probabilities"], ["index"], axis=1, keepdims=0),
        helper.make_node("Cast", ["index"], ["label"], to=TensorProto.INT64),
    ]
    graph = helper.make_graph(
        nodes,
        "mlp_784_100_10",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["N", 28, 28])],
        [
            helper.make_tensor_value_info("label", TensorProto.INT64, ["N"]),
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 10]),
        ],
        [numpy_helper.from_array(value, name) for name, value in weights.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    helper.set_model_props(
        model,
        {
            "classes": json.dumps(list(range(10))),
            "input_name": "pixels",
            "input_layout": "NHW",
            "scaling": "x / 255 inside the graph",
            "architecture": "mlp",
            "output_activation": "softmax",
            "hyperparameters": json.dumps({"hidden_units": hidden}),
        },
    )
    onnx.save(model, path)
    return path


def synthetic_images(n: int, seed: int = 0) -> np.ndarray:
    """MNIST-like float32 images: mostly black, some bright pixels, 0-255."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28)).astype(np.float32)
    images[rng.random(images.shape) < 0.8] = 0.0
    return images


def bare_session(
    path: str | bytes, threads: int | None, *, spin: bool = True
) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads is not None:
        options.intra_op_num_threads = threads
    if not spin:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def interleaved(contenders: dict[str, Callable[[], object]], runs: int) -> dict[str, float]:
    """Median seconds per call of each contender, calls alternating."""
    for fn in contenders.values():  # warm-up: first runs allocate
        fn()
        fn()
    times: dict[str, list[float]] = {name: [] for name in contenders}
    clock = time.perf_counter
    for _ in range(runs):
        for name, fn in contenders.items():
            start = clock()
            fn()
            times[name].append(clock() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def in_blocks(contenders: dict[str, Callable[[], object]], runs: int) -> dict[str, float]:
    """Like :func:`interleaved`, but alternating blocks of calls, so that one
    session's spinning threads do not disturb the next call of another."""
    block = max(1, runs // 10)
    times: dict[str, list[float]] = {name: [] for name in contenders}
    clock = time.perf_counter
    for _ in range(10):
        for name, fn in contenders.items():
            fn()
            for _ in range(block):
                start = clock()
                fn()
                times[name].append(clock() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def wall_times(cmd: list[str], runs: int) -> tuple[float, subprocess.CompletedProcess[str]]:
    times, result = [], None
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    for _ in range(runs):
        start = time.perf_counter()
        result = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        times.append(time.perf_counter() - start)
        if result.returncode != 0:
            break
    assert result is not None
    return statistics.median(times), result


Row = tuple[str, str, str, float | None, str, bool | None]


def print_table(rows: list[Row]) -> None:
    header = ("measure", "skdigits", "baseline", "ratio", "target", "result")
    cells = [
        (
            m,
            value,
            base,
            "-" if ratio is None else f"{ratio:.3g}",
            target,
            "-" if ok is None else "PASS" if ok else "MISS",
        )
        for m, value, base, ratio, target, ok in rows
    ]
    widths = [max(len(r[i]) for r in [header, *cells]) for i in range(len(header))]
    for row in [header, *cells]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))


def us(seconds: float) -> str:
    return f"{seconds * 1e6:.1f} µs"


def thread_sweep(path: str) -> None:
    """Median µs per call: one thread, the default, and the default without spinning."""
    sessions = {
        "1 thread": bare_session(path, 1),
        "default": bare_session(path, None),
        "default, no spin": bare_session(path, None, spin=False),
    }
    print(f"\nthread sweep (median µs per call, blocks alternating), cores: {os.cpu_count()}")
    print("images  " + "  ".join(name.rjust(16) for name in sessions))
    for n in (1, 8, 16, 32, 64, 128, 256, 1024, 10_000):
        feed = {"pixels": synthetic_images(n, seed=n)}
        runs = max(20, min(2000, 200_000 // n))
        medians = in_blocks(
            {name: partial(s.run, None, feed) for name, s in sessions.items()}, runs
        )
        print(f"{n:6d}  " + "  ".join(f"{medians[k] * 1e6:16.1f}" for k in sessions))


def measure_latency(clf: OnnxDigitClassifier, path: str, runs: int) -> Row:
    """(a) One image: the predictor against the same single-threaded session, bare."""
    one = synthetic_images(1)
    image = one[0]  # (28, 28), as a user passes it
    tuned = bare_session(path, 1)
    feed = {"pixels": one}
    t = interleaved(
        {"skdigits": lambda: clf.predict(image), "bare": lambda: tuned.run(None, feed)}, runs
    )
    ratio = t["skdigits"] / t["bare"]
    return ("(a) latency, 1 image", us(t["skdigits"]), us(t["bare"]), ratio, "<= 1.5", ratio <= 1.5)


def measure_throughput(clf: OnnxDigitClassifier, path: str, n: int) -> list[Row]:
    """(b) A large batch: images per second against bare onnxruntime's default threads."""
    batch = synthetic_images(n, seed=1)
    batch_u8 = batch.astype(np.uint8)
    default = bare_session(path, None)
    feed = {"pixels": batch}
    t = interleaved(
        {
            "skdigits": lambda: clf.predict(batch),
            "bare": lambda: default.run(None, feed),
            "uint8": lambda: clf.predict(batch_u8),
        },
        max(5, min(30, 300_000 // n)),
    )
    ratio = t["bare"] / t["skdigits"]
    return [
        (
            f"(b) throughput, {n} images",
            f"{n / t['skdigits']:,.0f}/s",
            f"{n / t['bare']:,.0f}/s",
            ratio,
            ">= 0.9",
            ratio >= 0.9,
        ),
        (
            "    same, from uint8 (converted)",
            f"{n / t['uint8']:,.0f}/s",
            f"{n / t['bare']:,.0f}/s",
            t["bare"] / t["uint8"],
            "(info)",
            None,
        ),
    ]


def measure_keras(clf: OnnxDigitClassifier, keras_model: Path | None, runs: int) -> Row:
    """(c) One image through the Keras model of a saved pipeline."""
    name, target = "(c) speed-up over Keras, 1 image", ">= 100"
    if keras_model is None:
        return (name, "skipped: no --keras-model", "", None, target, None)
    if importlib.util.find_spec("tensorflow") is None:
        return (name, "skipped: TensorFlow missing", "", None, target, None)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from skdigits.estimator._saving import load_model

    model = load_model(keras_model)[-1].model_
    one = synthetic_images(1)
    image = one[0]
    x_scaled = (one / np.float32(255)).reshape(1, *model.input_shape[1:])
    # Blocks, not single calls, alternate here: TensorFlow's thread pools keep
    # spinning after each call and would tax whichever call came next.
    t = in_blocks(
        {
            "skdigits": lambda: clf.predict(image),
            "keras": lambda: model(x_scaled, training=False),
        },
        max(50, runs // 10),
    )
    ratio = t["keras"] / t["skdigits"]
    return (name, us(t["skdigits"]), us(t["keras"]), ratio, target, ratio >= 100)


def measure_cold_start(path: str, workdir: Path, runs: int) -> list[Row]:
    """(d) A cold `skdigits predict` against a cold `import tensorflow`."""
    rows: list[Row] = []
    npy = workdir / "images.npy"
    np.save(npy, synthetic_images(3, seed=2).astype(np.uint8))
    name = "(d) `skdigits predict` cold"
    cold, result = wall_times([sys.executable, "-m", "skdigits", "predict", path, str(npy)], runs)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        print(f"(d) `skdigits predict` exited with {result.returncode}, skipped: {last}")
        rows.append((name, f"skipped: exit {result.returncode}", "", None, "<= 0.4 s", None))
    else:
        rows.append((name, f"{cold:.3f} s", "", None, "<= 0.4 s", cold <= 0.4))
        name = "(d) cold ÷ import tensorflow"
        if importlib.util.find_spec("tensorflow") is None:
            rows.append((name, "skipped: TensorFlow missing", "", None, "<= 0.15", None))
        else:
            tf_time, _ = wall_times([sys.executable, "-c", "import tensorflow"], runs)
            ratio = cold / tf_time
            rows.append(
                (name, f"{cold:.3f} s", f"{tf_time:.3f} s", ratio, "<= 0.15", ratio <= 0.15)
            )
    floor, _ = wall_times([sys.executable, "-c", "import numpy, onnxruntime"], runs)
    rows.append(
        ("    python -c 'import numpy, onnxruntime'", f"{floor:.3f} s", "", None, "(info)", None)
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="an exported .onnx model")
    parser.add_argument("--keras-model", type=Path, help="a saved .skdigits pipeline, for (c)")
    parser.add_argument("--batch", type=int, default=10_000, help="images per call in (b)")
    parser.add_argument("--runs", type=int, default=3000, help="single-image calls per contender")
    parser.add_argument(
        "--cold-runs", type=int, default=3, help="runs of each command in (d); 0 skips"
    )
    parser.add_argument(
        "--thread-sweep", action="store_true", help="also time 1 vs default threads"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench_inference_") as tmp:
        run(args, Path(tmp))


def run(args: argparse.Namespace, workdir: Path) -> None:
    if args.model is None:
        model_path = build_fallback_model(workdir / "mlp_784_100_10.onnx")
        print("no --model given: built a contract-conformant 784-100-10 MLP (random weights)")
    else:
        model_path = args.model
    path = str(model_path)
    print(
        f"model {path}; onnxruntime {ort.__version__}, numpy {np.__version__}, "
        f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.2f}"
    )

    clf = OnnxDigitClassifier(path)
    rows = [measure_latency(clf, path, args.runs), *measure_throughput(clf, path, args.batch)]
    rows.append(measure_keras(clf, args.keras_model, args.runs))
    if args.cold_runs > 0:
        rows += measure_cold_start(path, workdir, args.cold_runs)
    print()
    print_table(rows)
    print("(medians; calls alternate between contenders)")
    if args.thread_sweep:
        thread_sweep(path)


if __name__ == "__main__":
    main()
