"""How well a score tells digits from non-digits: AUROC per kind, shares kept at a threshold.

For each ONNX model and each score computed from its outputs:

- AUROC of the score between each non-digit kind of ``confidence_sets.py`` and
  MNIST's test digits (1.0: every digit scores above every non-digit), and
  between each digit set and all the non-digits;
- the threshold that keeps 99 % of the validation digits: MNIST training
  images 48,000-59,999, the 20 % tail Keras holds out for ``validation_split``
  when ``skdigits train`` fits on the full set (never the test set);
- at that threshold, the share of each digit set accepted (MNIST test, Liberation
  font digits, drawn strokes) and of each non-digit kind rejected.

Scores, higher meaning "more like a digit":

- ``max_prob``: the top softmax probability (Hendrycks & Gimpel 2017), the baseline;
- ``neg_entropy``: minus the entropy of the probabilities;
- ``digit_score``: the graph's own ``digit_score`` output, when the model has one.

The exported graphs output probabilities, not logits, so logit-based scores
(maximum logit, energy) cannot be computed from them: log-probabilities are the
logits less a per-image constant.

    python benchmarks/confidence_sets.py --out confidence-sets/
    python benchmarks/bench_confidence.py models/mnist.onnx models/fast.onnx --sets confidence-sets/
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from confidence_sets import NONDIGIT_KINDS, write_digits, write_nondigits

from skdigits.datasets import fetch_mnist
from skdigits.io import load_digit_images
from skdigits.runtime import OnnxDigitClassifier

VALIDATION = slice(48_000, 60_000)  # validation_split=0.2 of MNIST's 60,000 training images
KEEP = 0.99


def scores_of(model: Path, X: np.ndarray) -> dict[str, np.ndarray]:
    """Every score the model's outputs allow, for images ``X`` (n, 28, 28) in 0-255."""
    proba = OnnxDigitClassifier(model).predict_proba(X).astype(np.float64)
    clipped = np.clip(proba, 1e-12, 1.0)
    scores = {"max_prob": proba.max(axis=1), "neg_entropy": (proba * np.log(clipped)).sum(axis=1)}
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    if "digit_score" in {o.name for o in session.get_outputs()}:
        name = session.get_inputs()[0].name
        (digit_score,) = session.run(["digit_score"], {name: X.astype(np.float32)})
        scores["digit_score"] = np.asarray(digit_score, dtype=np.float64).ravel()
    return scores


def load_sets(folder: Path, seed: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Digit sets and non-digit kinds as MNIST-layout arrays, read as the CLI reads files."""
    if not (folder / "nondigits").is_dir():
        write_nondigits(folder, seed=seed)
        write_digits(folder, seed=seed)
    X_test, _ = fetch_mnist(subset="test", return_X_y=True)
    digits = {"mnist_test": X_test.astype(np.float32)}
    for name in ("fonts", "strokes"):
        digits[name] = load_digit_images(sorted((folder / "digits" / name).glob("*.png")))
    nondigits = {
        kind: load_digit_images(sorted((folder / "nondigits" / kind).glob("*.png")))
        for kind in NONDIGIT_KINDS
    }
    return digits, nondigits


def auroc(digit_scores: np.ndarray, other_scores: np.ndarray) -> float:
    """AUROC of telling digits (positives) from others; ties count half."""
    truth = np.r_[np.ones(len(digit_scores)), np.zeros(len(other_scores))]
    return float(roc_auc_score(truth, np.r_[digit_scores, other_scores]))


def _share(kept: np.ndarray) -> str:
    return f"{100 * np.mean(kept):.1f} %"


def table(model: Path, digits: dict, nondigits: dict, validation: np.ndarray) -> list[str]:
    """Markdown rows: one per set, two columns (AUROC, share at the threshold) per score."""
    digit_scores = {name: scores_of(model, X) for name, X in digits.items()}
    other_scores = {kind: scores_of(model, X) for kind, X in nondigits.items()}
    valid_scores = scores_of(model, validation)
    names = list(valid_scores)
    thresholds = {s: float(np.quantile(valid_scores[s], 1 - KEEP)) for s in names}
    head = " | ".join(f"{s} AUROC | {s} at threshold" for s in names)
    rows = [f"| set | n | {head} |", "|---|---:|" + "---:|---:|" * len(names)]
    every = {s: np.concatenate([v[s] for v in other_scores.values()]) for s in names}
    for name, scored in digit_scores.items():  # AUROC against every non-digit
        cells = " | ".join(
            f"{auroc(scored[s], every[s]):.3f} | {_share(scored[s] >= thresholds[s])} kept"
            for s in names
        )
        rows.append(f"| digits: {name} | {len(scored[names[0]])} | {cells} |")
    test = digit_scores["mnist_test"]
    for kind, scored in [*other_scores.items(), ("all", every)]:
        cells = " | ".join(
            f"{auroc(test[s], scored[s]):.3f} | {_share(scored[s] < thresholds[s])} rejected"
            for s in names
        )
        rows.append(f"| non-digits: {kind} | {len(scored[names[0]])} | {cells} |")
    rows.append("")
    rows.append(
        "thresholds (99 % of validation digits kept): "
        + ", ".join(f"{s} {t:.4g}" for s, t in thresholds.items())
    )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("models", type=Path, nargs="+", help="ONNX models")
    parser.add_argument("--sets", type=Path, default=Path("confidence-sets"))
    parser.add_argument("--seed", type=int, default=0, help="seed for sets not yet written")
    args = parser.parse_args(argv)
    digits, nondigits = load_sets(args.sets, args.seed)
    X_train, _ = fetch_mnist(subset="train", return_X_y=True)
    validation = X_train[VALIDATION].astype(np.float32)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    print(f"commit {commit}, {platform.processor() or platform.machine()}, {platform.node()}")
    for model in args.models:
        print(f"\n### {model}\n")
        print("\n".join(table(model, digits, nondigits, validation)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
