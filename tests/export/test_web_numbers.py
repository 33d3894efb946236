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

from skdigits import DataError
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
const out = cases.map(([width, height, b64, model]) => {
  const grey = Buffer.from(b64, "base64");
  const rgba = new Uint8ClampedArray(width * height * 4).fill(255);
  grey.forEach((v, i) => rgba.fill(v, 4 * i, 4 * i + 3));
  let s;
  try {
    s = segmentNumber(rgba, width, height);
  } catch (err) {
    return { error: err.message };
  }
  if (s === null) return null;
  const reading = model && bestReading(s, Float32Array.from(model.proba), model.scores,
    { classes: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], threshold: model.threshold });
  return { ...s, images: Buffer.from(s.images.buffer).toString("base64"), reading };
});
process.stdout.write(JSON.stringify(out));
"""


def run_segment_mjs(tmp_path, pictures, outputs=None):
    """segment.mjs (and, given the model's outputs for each picture's candidates:
    ``proba``, ``scores`` and ``threshold``, read.mjs) in Node."""
    script = tmp_path / "segment.mjs"
    script.write_text(
        _SCRIPT
        % {"segment": (STATIC / "segment.mjs").as_uri(), "read": (STATIC / "read.mjs").as_uri()}
    )
    outputs = outputs or [None] * len(pictures)
    cases = tmp_path / "cases.json"
    cases.write_text(
        json.dumps(
            [
                [g.shape[1], g.shape[0], base64.b64encode(g.tobytes()).decode(), p]
                for g, p in zip(pictures, outputs, strict=True)
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
    # One digit each, stretched ever wider: one mark, judged by its own shape.
    alone = [
        render([[(100 + 2.2 * (x - 100), y) for x, y in stroke] for stroke in strokes])
        for d in range(10)
        for strokes in [number_strokes([d], height=120 + 8 * d, origin=(100, 40))]
    ]
    return [touching, specks, render(broken), 255 - slanted, single, wide, *small, *alone]


def test_segment_mjs_cuts_119_drawn_numbers_as_segment_number_does(tmp_path):
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
        assert js["marks"] == py.marks.tolist(), f"picture {i}"
        images = np.frombuffer(base64.b64decode(js["images"]), np.float32).reshape(-1, 28, 28)
        assert np.abs(images - py.images).max() <= PIXEL_TOLERANCE, f"picture {i}"
        cut += bool(py.joins.any())
    assert cut >= 20  # touching digits, cut apart, are among them


def test_segment_mjs_refuses_a_page_of_dots_as_segment_number_does(tmp_path):
    """300 marks of one size (none a speck): over the 256 pieces a number may have."""
    dots = np.zeros((280, 840), np.uint8)
    for k in range(300):
        y, x = 10 + 13 * (k // 60), 10 + 13 * (k % 60)
        dots[y : y + 6, x : x + 6] = 255
    with pytest.raises(DataError, match="breaks into 300 pieces of writing, over the limit of 256"):
        segment_number(dots)
    (got,) = run_segment_mjs(tmp_path, [dots])
    assert got["error"] == (
        "the drawing breaks into 300 pieces of writing, over the limit of 256; "
        "clear it and write one number"
    )


class _SeededModel:
    """A stand-in classifier: probabilities and digit scores drawn at random (the scores
    apart from the probabilities), recorded as given, and a digit threshold."""

    classes_ = np.arange(10)

    def __init__(self, seed, threshold):
        self.rng = np.random.default_rng(seed)
        self.digit_threshold_ = threshold
        self.given = []

    def predict_proba(self, images):
        return self.predict_with_score(images)[1]

    def predict_with_score(self, images):
        proba = self.rng.dirichlet(np.full(10, 0.3), len(images)).astype(np.float32)
        score = self.rng.uniform(0.0, 1.0, len(images)).astype(np.float32)
        self.given.append((proba, score))
        return proba.argmax(axis=1), proba, score


def python_reading(model, grey):
    """read_numbers' reading of one picture, or None where it finds no digit in it."""
    try:
        return read_numbers(model, grey)[0]
    except DataError as err:
        if "shows no digit" not in str(err):
            raise
        return None


@pytest.mark.parametrize("threshold", [0.0, 0.8])
def test_read_mjs_takes_the_path_read_numbers_takes(tmp_path, threshold):
    """With the same outputs for the same candidates, read.mjs picks the digits, boxes
    and probabilities Python picks (random outputs: many close paths), leaves out the
    marks Python leaves out as noise, and reads no number where Python finds no digit."""
    pictures = [grey for _, grey in drawn_numbers(60, seed=2)] + hard_cases()
    model = _SeededModel(0, threshold)
    expected = [python_reading(model, grey) for grey in pictures]
    outputs = [
        {"proba": p.astype(float).ravel().tolist(), "scores": s.tolist(), "threshold": threshold}
        for p, s in model.given
    ]
    got = run_segment_mjs(tmp_path, pictures, outputs)
    for i, (js, py) in enumerate(zip(got, expected, strict=True)):
        reading = js["reading"]
        if py is None:
            assert reading is None, f"picture {i}"
            continue
        assert reading["text"] == py.text, f"picture {i}"
        assert [d["box"] for d in reading["digits"]] == [list(d.box) for d in py.digits]
        assert [d["probability"] for d in reading["digits"]] == [d.probability for d in py.digits]
        assert reading["probability"] == pytest.approx(py.probability, rel=1e-12)
    if threshold:  # marks were left out as noise, and all of some pictures
        same_outputs = _SeededModel(0, 0.0)
        unfiltered = [read_numbers(same_outputs, grey)[0].text for grey in pictures]
        shorter = [
            r is not None and len(r.text) < len(u)
            for r, u in zip(expected, unfiltered, strict=True)
        ]
        assert sum(shorter) >= 5
        assert None in expected
