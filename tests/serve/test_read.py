"""``POST /read`` as a client sees it, on the real server (``skdigits serve`` on loopback).

The numbers are MNIST test digits the shared session model reads right and surely
on their own, set side by side as ink on paper: what is tested is the route (its
answers, limits and errors), not the model. The server runs with low limits so
each is met by a small request.
"""

from __future__ import annotations

import io
import json
import time

import httpx
import numpy as np
import pytest
from PIL import Image

from skdigits.cli.main import main
from skdigits.runtime import OnnxDigitClassifier
from tests._support.hostile import assert_one_line_message, png
from tests._support.servers import running_server, skdigits_serve

MAX_BATCH = 3
MAX_PIXELS = 1_000_000
MAX_BODY = 300_000


@pytest.fixture(scope="module")
def server(exported_model):
    flags = ["--max-batch", str(MAX_BATCH), "--max-image-pixels", str(MAX_PIXELS)]
    flags += ["--max-body-bytes", str(MAX_BODY), "--log-level", "warning"]
    with running_server(skdigits_serve(exported_model, *flags)) as running:
        yield running


@pytest.fixture(scope="module")
def sure(exported_model, mnist):
    """For each label, test digits the model reads right with probability over 0.97."""
    _, _, X_test, y_test = mnist
    X, y = X_test[:1000], y_test[:1000]
    proba = OnnxDigitClassifier(exported_model).predict_proba(X.astype(np.float32))
    good = (proba.argmax(axis=1) == y) & (proba.max(axis=1) > 0.97)
    return {d: X[good & (y == d)] for d in range(10)}


def written(sure: dict[int, np.ndarray], text: str) -> bytes:
    """A PNG of ``text``: sure digits 8 pixels apart, dark on white, three times as large."""
    line = np.zeros((40, 8), np.uint8)
    for c in text:
        line = np.hstack([line, np.pad(sure[int(c)][0], ((6, 6), (0, 0))), np.zeros((40, 8))])
    page = Image.fromarray((255 - line).astype(np.uint8))
    return png(page.resize((page.width * 3, page.height * 3), Image.Resampling.BILINEAR))


def blank() -> bytes:
    return png(Image.new("L", (300, 120), 255))


def read(server, body: bytes | None = None, query: str = "", **request) -> httpx.Response:
    """``POST /read``: a raw PNG ``body``, or what httpx takes (``files=``, ``content=``...)."""
    if body is not None:
        request = {"content": body, "headers": {"content-type": "image/png"}}
    return httpx.post(f"{server.url}/read{query}", timeout=30, **request)


def error(response: httpx.Response, status: int, pattern: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert_one_line_message(response.json()["error"], pattern)


def test_a_number_is_read_with_a_box_round_each_digit(server, sure, exported_model):
    picture = written(sure, "42")
    r = read(server, picture)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["model"] == exported_model.name
    (reading,) = answer["readings"]
    assert reading["input"] == "upload"
    assert reading["text"] == "42"
    assert [d["label"] for d in reading["digits"]] == [4, 2]
    assert reading["probability"] == pytest.approx(
        np.prod([d["probability"] for d in reading["digits"]])
    )
    (x0, y0, x1, y1), (u0, v0, u1, v1) = (d["box"] for d in reading["digits"])
    width, height = Image.open(io.BytesIO(picture)).size
    assert 0 <= x0 < x1 <= u0 < u1 <= width  # apart, left to right, inside the picture
    assert min(y0, v0) >= 0
    assert max(y1, v1) <= height
    assert u0 - x1 >= 3 * 8 - 2  # the gap drawn between them


def test_the_answer_is_what_skdigits_read_json_prints(
    server, sure, exported_model, tmp_path, capsys
):
    path = tmp_path / "42.png"
    path.write_bytes(written(sure, "42"))
    assert main(["read", str(exported_model), str(path), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)["readings"][0]
    (served,) = read(server, files=[("image", ("42.png", path.read_bytes(), "image/png"))]).json()[
        "readings"
    ]
    assert served == {**printed, "input": "42.png"}


def test_several_files_are_read_in_order_and_one_blank_is_a_row_with_its_error(server, sure):
    files = [
        ("image", ("year.png", written(sure, "2026"), "image/png")),
        ("image", ("blank.png", blank(), "image/png")),
        ("image", ("seven.png", written(sure, "7"), "image/png")),
    ]
    r = read(server, files=files)
    assert r.status_code == 200, r.text
    year, empty, seven = r.json()["readings"]
    assert (year["input"], year["text"], len(year["digits"])) == ("year.png", "2026", 4)
    assert (seven["input"], seven["text"]) == ("seven.png", "7")
    assert empty["input"] == "blank.png"
    assert (empty["text"], empty["probability"]) == (None, None)
    assert "digits" not in empty
    assert_one_line_message(empty["error"], r"^image 'blank\.png' is blank: no digit found")


def test_a_blank_page_alone_is_a_422_with_what_to_do(server):
    error(read(server, blank()), 422, r"^image 'upload' is blank: no digit found.*; draw or write")
    error(
        read(server, files=[("image", ("page.png", blank(), "image/png"))]),
        422,
        r"^image 'page\.png' is blank",
    )


def test_what_is_no_image_is_refused_as_predict_refuses_it(server):
    error(read(server, b"hello"), 422, r"^image 'upload' is not a supported image file")
    text = {"content": b"hello", "headers": {"content-type": "text/plain"}}
    error(read(server, **text), 415, r"^unsupported Content-Type 'text/plain'")
    error(read(server, b""), 400, r"^the request body is empty")
    other = {"files": [("picture", ("a.png", blank(), "image/png"))]}
    error(read(server, **other), 422, r"no field 'image' \(fields: 'picture'\)")


def test_length_is_honoured(server, sure):
    picture = written(sure, "42")
    assert read(server, picture, "?length=2").json()["readings"][0]["text"] == "42"
    assert read(server, picture, "?length=1-2").json()["readings"][0]["text"] == "42"
    longer = read(server, picture, "?length=3").json()["readings"][0]
    assert len(longer["text"]) == len(longer["digits"]) == 3
    error(
        read(server, picture, "?length=9"),
        422,
        r"^image 'upload' cannot be read as a number of 9 digits",
    )


@pytest.mark.parametrize("length", ["0", "4-2", "four", "1-2-3", "9999999", ""])
def test_a_malformed_length_is_a_400(server, sure, length):
    error(
        read(server, written(sure, "42"), f"?length={length}"),
        400,
        r"^the query parameter `length` is malformed: .*; e\.g\. \?length=4",
    )


def test_a_length_given_twice_is_a_400(server, sure):
    error(read(server, written(sure, "42"), "?length=2&length=3"), 400, "given twice")


def test_more_files_than_the_batch_limit_are_refused(server, sure):
    files = [("image", (f"{k}.png", written(sure, "7"), "image/png")) for k in range(MAX_BATCH + 1)]
    error(read(server, files=files), 413, rf"more than {MAX_BATCH} files, over the limit")


def test_a_picture_over_the_pixel_limit_is_refused_from_its_header(server):
    side = int(MAX_PIXELS**0.5) + 1
    picture = png(Image.new("L", (side, side), 255))
    error(read(server, picture), 422, rf"is too large: {side}x{side} pixels, over the limit")
    error(read(server, b"\0" * (MAX_BODY + 1)), 413, "over the limit")


def test_a_page_of_thousands_of_marks_is_refused_quickly(server):
    page = np.full((1000, 1000), 255, np.uint8)
    for dy in (0, 1):
        for dx in (0, 1):
            page[5 + dy :: 20, 5 + dx :: 20] = 0  # 2,500 dots of 2x2 pixels
    t0 = time.monotonic()
    r = read(server, png(Image.fromarray(page)))
    seconds = time.monotonic() - t0
    error(r, 422, r"breaks into 2500 pieces of writing, over the limit of 256")
    assert seconds < 10, seconds  # 0.1 s measured alone: a guard against a hang
    print(f"2,500 marks refused in {seconds:.2f} s")


def test_read_is_in_the_routes_a_404_lists(server):
    r = httpx.get(f"{server.url}/nope", timeout=5)
    error(r, 404, r"POST /read")
    error(httpx.get(f"{server.url}/read", timeout=5), 405, "use POST")


def test_a_long_file_name_is_cut_in_the_answer_and_the_message(server, sure):
    name = "n" * 3000 + ".png"
    files = [
        ("image", (name, blank(), "image/png")),
        ("image", ("7.png", written(sure, "7"), "image/png")),
    ]
    r = read(server, files=files)
    assert r.status_code == 200, r.text
    empty, seven = r.json()["readings"]
    assert empty["input"] == "n" * 100
    assert len(empty["error"]) < 300, empty["error"]
    assert seven["text"] == "7"
