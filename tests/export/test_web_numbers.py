"""The page's number reader against Python's, in Node: ``segment.mjs`` against
:func:`skdigits.io._segment.segment_number` and ``read.mjs`` against
:func:`skdigits.read_numbers`, on numbers drawn as pen strokes (``tests/_support/web_numbers``).

Both sides see the same greyscale pixels. The page's own run in Chromium, with the
model in onnxruntime-web, is checked in ``test_web.py`` (60 drawn numbers).
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess

import numpy as np
import pytest

from skdigits.io._segment import segment_number
from skdigits.reading import read_numbers
from tests._support import REPO
from tests._support.web_numbers import drawn_numbers, number_strokes, render

STATIC = REPO / "skdigits" / "export" / "web_static"
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="Node.js is not installed (it comes with npm)")

#: JavaScript and Python candidate images agree to this, on 0-255 (as preprocess.mjs does).
PIXEL_TOLERANCE = 1e-3

_SCRIPT = """
import { segmentNumber } from "%(segment)s";
import { bestReading } from "%(read)s";
import { readFileSync } from "node:fs";
const cases = JSON.parse(readFileSync(process.argv[2], "utf8"));
const out = cases.map(([width, height, b64, proba]) => {
  const grey = Buffer.from(b64, "base64");
  const rgba = new Uint8ClampedArray(width * height * 4).fill(255);
  grey.forEach((v, i) => rgba.fill(v, 4 * i, 4 * i + 3));
  const s = segmentNumber(rgba, width, height);
  if (s === null) return null;
  const reading = proba && bestReading(s, Float32Array.from(proba), [0,1,2,3,4,5,6,7,8,9]);
  return { ...s, images: Buffer.from(s.images.buffer).toString("base64"), reading };
});
process.stdout.write(JSON.stringify(out));
"""


def run_segment_mjs(tmp_path, pictures, probas=None):
    """segment.mjs (and, given each picture's probabilities, read.mjs) in Node."""
    script = tmp_path / "segment.mjs"
    script.write_text(
        _SCRIPT
        % {"segment": (STATIC / "segment.mjs").as_uri(), "read": (STATIC / "read.mjs").as_uri()}
    )
    probas = probas or [None] * len(pictures)
    cases = tmp_path / "cases.json"
    cases.write_text(
        json.dumps(
            [
                [g.shape[1], g.shape[0], base64.b64encode(g.tobytes()).decode(), p]
                for g, p in zip(pictures, probas, strict=True)
            ]
        )
    )
    result = subprocess.run(
        [NODE, str(script), str(cases)], capture_output=True, text=True, timeout=600, check=True
    )
    return json.loads(result.stdout)


def hard_cases():
    """Pictures for each thing segmentation must survive, beside the drawn numbers."""
    rng = np.random.default_rng(7)
    touching = render(number_strokes([0, 0, 1, 1], height=180, gap=-0.08, origin=(60, 50)))
    specks = render(number_strokes([3, 8, 5], height=150, gap=0.3, origin=(80, 60)), width=12)
    for x, y in rng.uniform([20, 20], [820, 260], (12, 2)).astype(int):
        specks[y : y + 3, x : x + 3] = 255
    broken = [  # each stroke cut in two with a gap: a 5 with its flag apart, a 4's bar
        part
        for stroke in number_strokes([5, 4, 7], height=170, gap=0.35, origin=(60, 50))
        for part in (stroke[: len(stroke) // 2 + 1], stroke[len(stroke) // 2 + 1 :])
        if len(part) > 1
    ]
    slanted = render(number_strokes([2, 0, 2, 6], height=160, slant=0.45, origin=(40, 60)))
    single = render(number_strokes([8], height=200, origin=(380, 40)), width=20)
    wide = render(number_strokes([2, 3], height=230, gap=-0.12, origin=(200, 25)), width=22)
    # Written small, touching digits are cut along bent paths (large ones, straight).
    small = [
        render(number_strokes(digits, height=80, gap=-0.1, origin=(60, 50)), width=pen)
        for digits, pen in (([2, 3, 5], 5), ([0, 0, 0], 6), ([4, 7, 2], 8))
    ]
    return [touching, specks, render(broken), 255 - slanted, single, wide, *small]


def test_segment_mjs_cuts_109_drawn_numbers_as_segment_number_does(tmp_path):
    pictures = [grey for _, grey in drawn_numbers(100, seed=1)] + hard_cases()
    got = run_segment_mjs(tmp_path, pictures)
    cut = 0
    for i, (js, grey) in enumerate(zip(got, pictures, strict=True)):
        py = segment_number(grey)
        assert js["nPieces"] == py.n_pieces, f"picture {i}"
        assert js["spans"] == py.spans.tolist(), f"picture {i}"
        assert js["boxes"] == py.boxes.tolist(), f"picture {i}"
        assert js["widths"] == py.widths.tolist(), f"picture {i}"
        assert js["joins"] == pytest.approx(py.joins.tolist(), abs=1e-12), f"picture {i}"
        images = np.frombuffer(base64.b64decode(js["images"]), np.float32).reshape(-1, 28, 28)
        assert np.abs(images - py.images).max() <= PIXEL_TOLERANCE, f"picture {i}"
        cut += bool(py.joins.any())
    assert cut >= 20  # touching digits, cut apart, are among them


class _SeededModel:
    """A stand-in classifier: probabilities drawn at random, recorded as given."""

    classes_ = np.arange(10)

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.given = []

    def predict_proba(self, images):
        proba = self.rng.dirichlet(np.full(10, 0.3), len(images)).astype(np.float32)
        self.given.append(proba)
        return proba


def test_read_mjs_takes_the_path_read_numbers_takes(tmp_path):
    """With the same probabilities for the same candidates, read.mjs picks the digits,
    boxes and probabilities Python picks (random probabilities: many close paths)."""
    pictures = [grey for _, grey in drawn_numbers(60, seed=2)] + hard_cases()
    model = _SeededModel(0)
    expected = [read_numbers(model, grey)[0] for grey in pictures]
    probas = [p.astype(np.float64).ravel().tolist() for p in model.given]
    got = run_segment_mjs(tmp_path, pictures, probas)
    for i, (js, py) in enumerate(zip(got, expected, strict=True)):
        reading = js["reading"]
        assert reading["text"] == py.text, f"picture {i}"
        assert [d["box"] for d in reading["digits"]] == [list(d.box) for d in py.digits]
        assert [d["probability"] for d in reading["digits"]] == [d.probability for d in py.digits]
        assert reading["probability"] == pytest.approx(py.probability, rel=1e-12)
