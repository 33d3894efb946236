"""Which settings make the CNN fits faster here, and do they change what is learnt?

Each variant fits the same recipe (the ``fast`` preset's CNN, or ``--preset best``'s
ResNet, by default without outliers, so that the convolutions are what is timed) on the
same 48,000 MNIST images, in a fresh interpreter of its own (TensorFlow reads its
thread and oneDNN settings once, when it starts), seeded with the same
``random_state``. The variants run alternately, ``--repeats`` rounds, and the
table prints each one's median fit time, its ratio to the first variant's (``as
is``) and to the seed's own Keras code fitted in the same rounds, and how far its
test probabilities are from the first variant's: a setting that leaves the
arithmetic alone must leave them unchanged (max |Δp| 0, no label changed).

    python benchmarks/bench_cnn_speed.py [--epochs 2] [--repeats 2] [--only as-is onednn-off]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

#: name -> (environment variables, DigitClassifier parameters over the recipe's).
VARIANTS: dict[str, tuple[dict[str, str], dict[str, Any]]] = {
    "as-is": ({}, {}),
    "onednn-off": ({"TF_ENABLE_ONEDNN_OPTS": "0"}, {}),
    "one-interop-thread": ({"TF_NUM_INTEROP_THREADS": "1"}, {}),
    "two-intraop-threads": ({"TF_NUM_INTRAOP_THREADS": "2", "TF_NUM_INTEROP_THREADS": "1"}, {}),
    "no-augmentation": ({}, {"augment": None}),
    "batch-512": ({}, {"batch_size": 512}),
    "unseeded": ({}, {"random_state": None}),
}

_CHILD = """
import json, sys, time
import numpy as np
from skdigits import fetch_mnist, make_pipeline
from skdigits.estimator import preset_params
params = json.loads(sys.argv[1])
X, y = fetch_mnist(subset="train", return_X_y=True)
X_test, y_test = fetch_mnist(subset="test", return_X_y=True)
if params.pop("seed_keras", False):
    sys.path.insert(0, sys.argv[3])
    from seed_keras import fit_seed_keras
    t = time.perf_counter()
    fit_seed_keras(X, y, epochs=10)
    print(json.dumps({"seconds": time.perf_counter() - t}))
    raise SystemExit
preset = params.pop("preset")
pipe = make_pipeline(**{**preset_params(preset), **params})
t = time.perf_counter()
pipe.fit(X, y)
seconds = time.perf_counter() - t
proba = pipe.predict_proba(X_test)
np.save(sys.argv[2], proba)
print(json.dumps({"seconds": seconds, "accuracy": float((proba.argmax(1) == y_test).mean())}))
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="fast", help="the recipe: fast (a CNN) or best")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--only", nargs="*", choices=tuple(VARIANTS), default=None)
    parser.add_argument(
        "--with-outliers", action="store_true", help="keep the preset's outliers and variants"
    )
    return parser


def _run(env: dict[str, str], params: dict[str, Any], out: Path) -> dict[str, Any]:
    here = str(Path(__file__).parent)
    child_env = {**os.environ, **env}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(params), str(out), here],
        env=child_env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    names = args.only or list(VARIANTS)
    if "as-is" not in names:
        names = ["as-is", *names]
    base: dict[str, Any] = {
        "preset": args.preset,
        "epochs": args.epochs,
        "random_state": args.random_state,
    }
    if not args.with_outliers:
        base |= {"outlier_exposure": 0.0, "digit_variants": 0.0}
    work = Path(tempfile.mkdtemp(prefix="bench_cnn_speed_"))
    times: dict[str, list[float]] = {name: [] for name in ["seed-keras", *names]}
    accuracy: dict[str, float] = {}
    print(f"load average before: {os.getloadavg()}", flush=True)
    for round_ in range(args.repeats):
        times["seed-keras"].append(_run({}, {"seed_keras": True}, work / "k.npy")["seconds"])
        for name in names:
            env, params = VARIANTS[name]
            result = _run(env, {**base, **params}, work / f"{name}-{round_}.npy")
            times[name].append(result["seconds"])
            accuracy[name] = result["accuracy"]
            print(
                f"  round {round_} {name}: {result['seconds']:.1f} s, "
                f"{100 * result['accuracy']:.2f} % ({time.strftime('%H:%M:%S')})",
                flush=True,
            )
    print(f"load average after: {os.getloadavg()}\n")
    reference = np.load(work / "as-is-0.npy")
    keras = statistics.median(times["seed-keras"])
    as_is = statistics.median(times["as-is"])
    print(
        f"preset {args.preset!r}, {args.epochs} epochs, random_state {args.random_state}; "
        "the seed's own Keras code "
        f"(10 epochs) fitted {len(times['seed-keras'])} times: median {keras:.1f} s\n"
    )
    print(
        "| variant | median fit | ÷ as is | ÷ seed's Keras code | test accuracy | max abs Δp "
        "against as is | labels changed | same run to run |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name in names:
        runs = [np.load(work / f"{name}-{r}.npy") for r in range(args.repeats)]
        diff = float(np.abs(runs[0] - reference).max())
        changed = int((runs[0].argmax(1) != reference.argmax(1)).sum())
        stable = all(np.array_equal(runs[0], other) for other in runs[1:])
        median = statistics.median(times[name])
        print(
            f"| {name} | {median:.1f} s | {median / as_is:.2f} | {median / keras:.2f} | "
            f"{100 * accuracy[name]:.2f} % | {diff:.2g} | {changed} | {'yes' if stable else 'no'} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
