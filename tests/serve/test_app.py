"""The prediction service as a client sees it: routes, answers, limits and errors.

The model is the shared, once-fitted pipeline exported to ONNX. Requests go
through Starlette's TestClient, which raises any server-side exception, so a
bad request that reached a 500 would fail its test; one module test starts the
real server (``skdigits serve``) on loopback.
"""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pytest
from PIL import Image
from starlette.testclient import TestClient

from skdigits import ModelFileError
from skdigits.cli.main import main
from skdigits.io._images import MAX_IMAGE_PIXELS, load_digit_image
from skdigits.runtime._predictor import OnnxDigitClassifier
from skdigits.serve import create_app
from tests._support.servers import running_server, skdigits_serve

MAX_BODY = 200_000
MAX_BATCH = 16


@pytest.fixture(scope="module")
def model_path(exported_model):
    return exported_model


@pytest.fixture(scope="module")
def clf(model_path):
    return OnnxDigitClassifier(model_path)


@pytest.fixture(scope="module")
def client(model_path):
    app = create_app(model_path, max_body_bytes=MAX_BODY, max_batch=MAX_BATCH)
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="module")
def test_images(small_mnist):
    _, _, X_test, y_test = small_mnist
    return X_test[:64], y_test[:64]


def png_bytes(array: np.ndarray, fmt: str = "PNG", **save) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, fmt, **save)
    return buffer.getvalue()


def paper_digit(image: np.ndarray) -> np.ndarray:
    """An MNIST digit as a person photographs one: dark ink on white, 6x larger, off-centre."""
    big = np.asarray(Image.fromarray(255 - image).resize((168, 168), Image.Resampling.BILINEAR))
    page = np.full((240, 260), 255, dtype=np.uint8)
    page[20:188, 70:238] = big
    return page


# ---------------------------------------------------------------- the happy paths


def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


def test_metadata_is_the_models_onnx_metadata(client, clf):
    r = client.get("/metadata")
    assert r.status_code == 200
    meta = r.json()
    assert meta == json.loads(json.dumps(clf.metadata))
    assert meta["classes"] == list(range(10))
    assert meta["input_name"] == "pixels"


def test_json_single_image_matches_the_classifier(client, clf, test_images):
    X, y = test_images
    r = client.post("/predict", json={"pixels": X[0].tolist()})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    labels, proba = clf.predict_with_proba(X[0])
    assert body["labels"] == labels.tolist() == [y[0]]
    np.testing.assert_allclose(body["probabilities"], proba, rtol=1e-6, atol=1e-9)
    assert body["classes"] == list(range(10))


def test_json_batch_is_mostly_right(client, test_images):
    X, y = test_images
    r = client.post("/predict", json={"pixels": X[:MAX_BATCH].tolist()})
    assert r.status_code == 200
    body = r.json()
    assert len(body["labels"]) == len(body["probabilities"]) == MAX_BATCH
    assert np.mean(np.array(body["labels"]) == y[:MAX_BATCH]) >= 0.8
    np.testing.assert_allclose(np.sum(body["probabilities"], axis=1), 1, atol=1e-5)


def test_json_flat_rows_are_accepted(client, clf, test_images):
    X, _ = test_images
    one = client.post("/predict", json={"pixels": X[0].reshape(-1).tolist()}).json()
    rows = client.post("/predict", json={"pixels": X[:3].reshape(3, -1).tolist()}).json()
    assert one["labels"] == clf.predict(X[:1]).tolist()
    assert rows["labels"] == clf.predict(X[:3]).tolist()


def test_float_pixels_are_accepted(client, clf, test_images):
    X, _ = test_images
    r = client.post("/predict", json={"pixels": (X[0] * 0.999).tolist()})
    assert r.status_code == 200
    assert r.json()["labels"] == clf.predict(X[0] * 0.999).tolist()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_image_upload_is_prepared_as_skdigits_predict_prepares_files(
    client, clf, model_path, test_images, tmp_path, capsys, fmt
):
    X, y = test_images
    data = png_bytes(paper_digit(X[1]), fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    path = tmp_path / f"digit.{fmt.lower()}"
    path.write_bytes(data)
    media_type = f"image/{fmt.lower()}"

    raw = client.post("/predict", content=data, headers={"content-type": media_type})
    form = client.post("/predict", files={"image": (path.name, data, media_type)})
    assert main(["predict", str(model_path), str(path), "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)["predictions"][0]

    expected_labels, expected_proba = clf.predict_with_proba(load_digit_image(path))
    for r in (raw, form):
        assert r.status_code == 200, r.text
        assert r.json()["labels"] == expected_labels.tolist() == [cli["label"]] == [y[1]]
        np.testing.assert_allclose(r.json()["probabilities"][0], expected_proba[0], rtol=1e-6)
        np.testing.assert_allclose(r.json()["probabilities"][0], cli["probabilities"], atol=1e-6)


def test_every_image_says_is_digit_and_digit_score_as_predict_json_does(
    client, model_path, test_images, tmp_path, capsys
):
    X, _ = test_images
    noise = np.random.default_rng(0).integers(0, 256, (2, 28, 28)).astype(np.uint8)
    images = np.concatenate([X[:6], noise])
    np.save(tmp_path / "digits.npy", images)
    assert main(["predict", str(model_path), str(tmp_path / "digits.npy"), "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)
    png = tmp_path / "digit.png"
    png.write_bytes(png_bytes(paper_digit(X[1])))
    assert main(["predict", str(model_path), str(png), "--json"]) == 0
    (cli_png,) = json.loads(capsys.readouterr().out)["predictions"]

    batch = client.post("/predict", json={"pixels": images.tolist(), "scale": 255}).json()
    upload = client.post("/predict", files={"image": ("digit.png", png.read_bytes())}).json()
    single = client.post("/predict", json={"pixels": X[0].tolist()}).json()
    rows = cli["predictions"]
    assert batch["is_digit"] == [row["is_digit"] for row in rows]
    assert batch["digit_score"] == [row["digit_score"] for row in rows]
    assert batch["digit_threshold"] == cli["digit_threshold"] > 0  # the model's own
    assert (upload["is_digit"], upload["digit_score"]) == (
        [cli_png["is_digit"]],
        [cli_png["digit_score"]],
    )
    assert (single["is_digit"], single["digit_score"]) == (
        [rows[0]["is_digit"]],
        [rows[0]["digit_score"]],
    )
    assert all(isinstance(flag, bool) for flag in batch["is_digit"])


def test_accept_all_takes_every_image_for_a_digit(model_path, test_images):
    X, _ = test_images
    noise = np.random.default_rng(0).integers(0, 256, (3, 28, 28))
    pixels = np.concatenate([X[:3], noise]).tolist()
    # A threshold no image reaches but the surest digits: the page's "not a digit" path.
    with TestClient(create_app(model_path, digit_threshold=1.0)) as strict:
        refused = strict.post("/predict", json={"pixels": pixels}).json()
        for query in ("?accept_all=1", "?accept_all=true", "?accept_all"):
            accepted = strict.post(f"/predict{query}", json={"pixels": pixels}).json()
            assert accepted["is_digit"] == [True] * 6, query
            assert accepted["digit_threshold"] == 0
            assert accepted["digit_score"] == refused["digit_score"]
            assert accepted["labels"] == refused["labels"]
        kept = strict.post("/predict?accept_all=0", json={"pixels": pixels}).json()
    assert refused["digit_threshold"] == 1.0
    assert refused["is_digit"] == [score >= 1.0 for score in refused["digit_score"]]
    assert refused["is_digit"][3:] == [False] * 3  # noise is no digit
    assert kept["is_digit"] == refused["is_digit"]


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("?accept_all=maybe", "`accept_all` must be 1 or 0 (true or false), got 'maybe'"),
        ("?accept_all=" + "y" * 3000, "got 'yyyyyyyyyyyyyyyyyyyy...' (3000 characters)"),
        ("?accept_all=1&accept_all=0", "`accept_all` is given twice"),
    ],
    ids=["word", "long", "twice"],
)
def test_a_malformed_accept_all_is_a_400_that_quotes_it_briefly(client, query, fragment):
    r = client.post(f"/predict{query}", json={"pixels": ONE})
    assert r.status_code == 400
    assert fragment in r.json()["error"]
    assert len(r.json()["error"]) < 200


def test_octet_stream_and_missing_content_type_are_read_as_images(client, test_images):
    X, y = test_images
    data = png_bytes(paper_digit(X[1]))
    for headers in ({"content-type": "application/octet-stream"}, {}):
        r = client.post("/predict", content=data, headers=headers)
        assert r.status_code == 200, r.text
        assert r.json()["labels"] == [y[1]]


def test_json_pixels_in_other_conventions_get_the_same_labels(client, test_images):
    X, _ = test_images
    X = X[:8].astype(np.float64)
    expected = client.post("/predict", json={"pixels": X.tolist()}).json()["labels"]
    for variant in (X / 255, 255 - X, (255 - X) / 255):  # auto, as `skdigits predict`
        assert (
            client.post("/predict", json={"pixels": variant.tolist()}).json()["labels"] == expected
        )
    inverted = {"pixels": (255 - X).tolist(), "invert": "yes", "scale": 255}
    assert client.post("/predict", json={**inverted, "invert": "no"}).json()["labels"] != expected
    r = client.post("/predict", json={"pixels": X.tolist(), "scale": "1"})
    assert r.status_code == 422
    assert "scale '1' (--scale 1) says they lie in [0, 1]" in r.json()["error"]
    r = client.post("/predict", json={"pixels": X.tolist(), "invert": "maybe"})
    assert r.status_code == 422
    assert r.json()["error"].startswith('"invert" must be one of')


def test_two_image_fields_get_the_services_own_wording(client, test_images):
    body = png_bytes(test_images[0][0])
    files = [("image", ("a.png", body, "image/png")), ("image", ("b.png", body, "image/png"))]
    r = client.post("/predict", files=files)
    assert r.status_code == 422
    assert r.json() == {
        "error": "the multipart upload holds more than one file; send one image, as the "
        "field 'image', per request"
    }


def test_canvas_png_with_alpha_like_the_drawing_page(client):
    # What canvas.toBlob sends: RGBA, opaque black, a white stroke.
    canvas = np.zeros((280, 280, 4), dtype=np.uint8)
    canvas[..., 3] = 255
    canvas[50:230, 130:150, :3] = 255
    r = client.post("/predict", content=png_bytes(canvas), headers={"content-type": "image/png"})
    assert r.status_code == 200
    assert r.json()["labels"] == [1]


def test_openapi_schema_describes_every_route(client):
    r = client.get("/openapi.json")
    assert r.status_code == 200
    schema = r.json()
    assert schema["openapi"].startswith("3.1")
    assert set(schema["paths"]) == {"/", "/predict", "/read", "/metadata", "/healthz"}
    predict = schema["paths"]["/predict"]["post"]
    assert {"image/png", "image/jpeg", "multipart/form-data", "application/json"} <= set(
        predict["requestBody"]["content"]
    )
    assert {"200", "400", "413", "415", "422"} <= set(predict["responses"])
    read = schema["paths"]["/read"]["post"]
    assert {"image/png", "image/jpeg", "multipart/form-data"} <= set(read["requestBody"]["content"])
    assert [p["name"] for p in read["parameters"]] == ["length"]
    assert {"200", "400", "413", "415", "422"} <= set(read["responses"])

    def refs(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref":
                    yield value
                else:
                    yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    for ref in refs(schema):
        target = schema
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]  # raises KeyError for a dangling reference
    assert list(refs(schema))


def test_index_serves_the_drawing_page(client):
    r = client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    page = r.text
    for needed in ('<canvas id="canvas"', 'id="clear"', 'id="bars"', "pointerdown", "pointerup"):
        assert needed in page
    # The page sends a PNG, so it goes through the same preparation as image files.
    assert '"Content-Type": "image/png"' in page
    # Number mode: a wide canvas whose drawing goes to /read.
    for needed in (
        'id="number-canvas"',
        'width="840" height="280"',
        'roundTrip("number", "read"',
        "readingView",
    ):
        assert needed in page
    # One self-contained response: nothing fetched from elsewhere.
    assert not re.search(r'(src|href)="(https?:)?//|@import|url\(', page)


# ---------------------------------------------------------------- bad requests: all 4xx JSON


def nested(depth: int) -> bytes:
    return b'{"pixels":' + b"[" * depth + b"]" * depth + b"}"


def big_png() -> bytes:
    side = int(MAX_IMAGE_PIXELS**0.5) + 100  # compresses to a few KB
    return png_bytes(np.zeros((side, side), dtype=bool))


def animated_gif() -> bytes:
    frames = [Image.new("L", (28, 28), 0), Image.new("L", (28, 28), 255)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    return buffer.getvalue()


def over_the_limit_in_chunks():
    for _ in range(3):
        yield b"\0" * (MAX_BODY // 2)


ONE = np.zeros((28, 28), dtype=int).tolist()
JSON = {"content-type": "application/json"}
PNG = {"content-type": "image/png"}

BAD_REQUESTS = {
    "malformed JSON": (dict(content=b'{"pixels": [1, 2', headers=JSON), 400, "not valid JSON"),
    "NaN is not JSON": (dict(content=b'{"pixels": NaN}', headers=JSON), 400, "not valid JSON"),
    "empty JSON body": (dict(content=b"", headers=JSON), 400, "body is empty"),
    "empty image body": (dict(content=b"", headers=PNG), 400, "body is empty"),
    "deeply nested JSON": (dict(content=nested(5000), headers=JSON), 400, "not valid JSON"),
    "JSON list, not object": (dict(json=[1, 2]), 422, 'object with "pixels", got a list'),
    "no pixels key": (dict(json={"image": ONE}), 422, 'object with "pixels"'),
    "pixels a number": (dict(json={"pixels": 7}), 422, '"pixels" is a number'),
    "pixels a string": (dict(json={"pixels": "7"}), 422, '"pixels" is a string'),
    "empty pixels": (dict(json={"pixels": []}), 422, "shape (0,)"),
    "27 rows": (dict(json={"pixels": ONE[:27]}), 422, "shape (27, 28)"),
    "batch of 28x27": (dict(json={"pixels": [[r[:27] for r in ONE]] * 2}), 422, "(2, 28, 27)"),
    "ragged rows": (dict(json={"pixels": [*ONE[:27], [0] * 27]}), 422, "unequal length"),
    "64 levels deep": (dict(content=nested(64), headers=JSON), 422, '"pixels"'),
    "strings": (dict(json={"pixels": [["0"] * 28] * 28}), 422, "found strings"),
    "booleans": (dict(json={"pixels": [[False] * 28] * 28}), 422, "found booleans"),
    "nulls": (dict(json={"pixels": [[None] * 28] * 28}), 422, "numbers only"),
    "huge integers": (dict(json={"pixels": [[10**40] * 28] * 28}), 422, "above 255"),
    "above 255": (dict(json={"pixels": [[256] * 28] * 28}), 422, "above 255"),
    "negative": (dict(json={"pixels": [[-1] * 28] * 28}), 422, "negative values"),
    "batch over the limit": (dict(json={"pixels": [ONE] * (MAX_BATCH + 1)}), 413, "limit"),
    "body over the limit": (dict(content=b"\0" * (MAX_BODY + 1), headers=PNG), 413, "limit"),
    "chunked body over the limit": (
        dict(content=over_the_limit_in_chunks(), headers=PNG),
        413,
        "at least",
    ),
    "text sent as PNG": (dict(content=b"hello", headers=PNG), 422, "not a supported image"),
    "truncated PNG": (
        dict(content=png_bytes(np.full((50, 50), 128, np.uint8))[:60], headers=PNG),
        422,
        "image",
    ),
    "huge image": (dict(content=big_png(), headers=PNG), 422, "too large"),
    "blank image": (
        dict(content=png_bytes(np.zeros((80, 80), np.uint8)), headers=PNG),
        422,
        "blank",
    ),
    "animated GIF": (
        dict(content=animated_gif(), headers={"content-type": "image/gif"}),
        422,
        "animated",
    ),
    "unsupported content type": (
        dict(content=b"x=1", headers={"content-type": "application/x-www-form-urlencoded"}),
        415,
        "unsupported Content-Type",
    ),
    "multipart without image": (
        dict(files={"file": ("d.png", b"\x89PNG", "image/png")}),
        422,
        "no field 'image'",
    ),
    "multipart image as text": (
        dict(data={"image": "seven"}, files={"other": ("a", b"")}),
        422,
        "text, not a file",
    ),
    "malformed multipart": (
        dict(
            content=b"--nope\r\n\r\n", headers={"content-type": "multipart/form-data; boundary=x"}
        ),
        400,
        "",
    ),
}


@pytest.mark.parametrize("case", list(BAD_REQUESTS), ids=list(BAD_REQUESTS))
def test_bad_predict_requests_get_4xx_json(client, case):
    request, status, fragment = BAD_REQUESTS[case]
    r = client.post("/predict", **request)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    error = r.json()["error"]
    assert fragment in error
    assert "\n" not in error


@pytest.mark.parametrize(
    ("method", "path", "status", "fragment"),
    [
        ("GET", "/nope", 404, "no route /nope"),
        ("POST", "/predict/", 404, "no route"),
        ("GET", "/predict", 405, "use POST"),
        ("PUT", "/metadata", 405, "use"),
        ("DELETE", "/", 405, "use"),
        ("POST", "/healthz", 405, "use"),
    ],
)
def test_unknown_routes_and_methods_get_4xx_json(client, method, path, status, fragment):
    r = client.request(method, path, follow_redirects=False)
    assert r.status_code == status
    assert r.headers["content-type"] == "application/json"
    assert fragment in r.json()["error"]
    if status == 405:
        assert r.headers["allow"]


def test_a_bug_is_a_json_500_not_an_html_page(model_path, test_images, monkeypatch):
    app = create_app(model_path)

    def broken(X):
        raise RuntimeError("boom")

    monkeypatch.setattr(app.state.classifier, "predict_with_score", broken)
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.post("/predict", json={"pixels": test_images[0][0].tolist()})
    assert r.status_code == 500
    assert r.json() == {"error": "internal error (RuntimeError); please report it"}


# ---------------------------------------------------------------- building the app


@pytest.mark.parametrize(
    "limits", [{"max_body_bytes": 0}, {"max_batch": -1}, {"max_batch": True}, {"max_batch": 2.0}]
)
def test_create_app_refuses_bad_limits(model_path, limits):
    name = next(iter(limits))
    with pytest.raises(ValueError, match=f"`{name}` must be a positive integer"):
        create_app(model_path, **limits)


@pytest.mark.parametrize("threshold", [-0.1, 1.5, float("nan"), True, "0.5"])
def test_create_app_refuses_a_digit_threshold_outside_0_1(model_path, threshold):
    with pytest.raises(ValueError, match=r"`digit_threshold` must be a number in \[0, 1\]"):
        create_app(model_path, digit_threshold=threshold)


def test_create_app_refuses_a_missing_model(tmp_path):
    with pytest.raises(ModelFileError, match=r"missing\.onnx"):
        create_app(tmp_path / "missing.onnx")


def test_serve_command_refuses_a_bad_model_in_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    assert main(["serve", str(bad), "--port", "0"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("skdigits: error: ")
    assert err.count("\n") == 1
    assert "bad.onnx" in err


# ---------------------------------------------------------------- import isolation

BLOCKED = ("tensorflow", "keras", "scikeras", "sklearn", "skl2onnx", "tf2onnx", "onnx")

ISOLATION_SCRIPT = """
import io, json
import numpy as np
from starlette.testclient import TestClient
from skdigits.serve import create_app
from PIL import Image

client = TestClient(create_app(sys.argv[1]))
image = np.zeros((28, 28), dtype=np.uint8)
image[4:24, 13:15] = 255
png = io.BytesIO()
Image.fromarray(image).save(png, "PNG")
answers = [
    client.post("/predict", json={"pixels": image.tolist()}),
    client.post("/predict", content=png.getvalue(), headers={"content-type": "image/png"}),
    client.get("/metadata"),
    client.get("/"),
    client.post("/read", content=png.getvalue(), headers={"content-type": "image/png"}),
]
print(json.dumps({
    "statuses": [r.status_code for r in answers],
    "labels": [answers[0].json()["labels"], answers[1].json()["labels"]],
    "read": answers[4].json()["readings"][0]["digits"][0]["label"],
    "modules": sorted({name.split(".")[0] for name in sys.modules}),
}))
"""


def test_service_imports_no_training_dependency(model_path, run_blocked):
    result = run_blocked(ISOLATION_SCRIPT, BLOCKED, model_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["statuses"] == [200, 200, 200, 200, 200]
    assert report["labels"][0] == report["labels"][1] == [report["read"]]
    loaded = set(report["modules"])
    assert {"onnxruntime", "starlette", "PIL"} <= loaded
    assert not loaded & set(BLOCKED), sorted(loaded & set(BLOCKED))


# ---------------------------------------------------------------- the real server


@pytest.mark.parametrize("workers", [1, 2])
def test_skdigits_serve_answers_on_loopback(model_path, test_images, workers):
    import httpx

    X, y = test_images
    argv = skdigits_serve(
        model_path, "--workers", str(workers), "--log-level", "warning", "--digit-threshold", "1"
    )
    with running_server(argv) as server, httpx.Client(base_url=server.url, timeout=10) as http:
        answers = [http.post("/predict", json={"pixels": X[i].tolist()}).json() for i in range(8)]
        labels = [answer["labels"][0] for answer in answers]
        bad = http.post("/predict", content=b"{", headers=JSON)
        too_big = http.post("/predict", content=b"\0" * (5 * 2**20), headers=PNG)
    assert np.mean(np.array(labels) == y[:8]) >= 0.75
    # --digit-threshold 1 reaches every worker: no score is above it, so no image is a digit.
    assert {answer["digit_threshold"] for answer in answers} == {1.0}
    assert not any(answer["is_digit"][0] for answer in answers)
    assert bad.status_code == 400
    assert bad.json()["error"].startswith("the body is not valid JSON")
    assert too_big.status_code == 413
