"""What the service documents is what it does, and its messages quote users briefly.

One real server (``skdigits serve`` on loopback) serves a small ONNX model for the
module: every example request of its OpenAPI description is valid against the
description's own schema and is answered 200 with a prediction per image, and
refused requests name the problem without echoing a Python repr or a long string.
"""

from __future__ import annotations

import http.client
import json
import re
from typing import Any

import numpy as np
import pytest

from tests._support.hostile import png
from tests._support.onnx_models import METADATA, build_model
from tests._support.servers import get, post, running_server, skdigits_serve


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    model = build_model(tmp_path_factory.mktemp("contract") / "m.onnx")
    with running_server(skdigits_serve(model, "--log-level", "warning")) as running:
        yield running


@pytest.fixture(scope="module")
def openapi(server) -> dict[str, Any]:
    status, body = get(server.port, "/openapi.json")
    assert status == 200
    return json.loads(body)


def violations(value: Any, schema: dict[str, Any], root: dict[str, Any]) -> list[str]:
    """Where ``value`` breaks ``schema``: the JSON Schema keywords the service's description uses.

    A small validator (no JSON Schema package is a dependency); an unknown keyword
    fails, so the description cannot grow one this check would skip.
    """
    known = {"$ref", "type", "enum", "const", "anyOf", "oneOf", "items", "minItems"}
    known |= {"maxItems", "minimum", "maximum", "required", "properties", "description"}
    known |= {"default", "examples", "contentMediaType", "format"}
    assert set(schema) <= known, set(schema) - known
    if "$ref" in schema:
        target = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return violations(value, target, root)
    kinds = {"array": list, "object": dict, "string": str, "number": int | float}
    kinds |= {"integer": int, "null": type(None), "boolean": bool}
    found: list[str] = []
    if "type" in schema and (
        not isinstance(value, kinds[schema["type"]])
        or isinstance(value, bool) != (schema["type"] == "boolean")
    ):
        return [f"not {schema['type']}: {str(value)[:40]}"]
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"{value!r} not in {schema['enum']}")
    if "const" in schema and value != schema["const"]:
        found.append(f"{value!r} is not {schema['const']!r}")
    for key in ("anyOf", "oneOf"):
        if key in schema:
            matches = sum(not violations(value, option, root) for option in schema[key])
            if matches == 0 or (key == "oneOf" and matches > 1):
                found.append(f"{key}: {matches} of the options match")
    if isinstance(value, list):
        if not schema.get("minItems", 0) <= len(value) <= schema.get("maxItems", len(value)):
            found.append(f"{len(value)} items")
        for item in value if "items" in schema else []:
            found += violations(item, schema["items"], root)
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if number and not schema.get("minimum", value) <= value <= schema.get("maximum", value):
        found.append(f"{value} out of range")
    if isinstance(value, dict):
        found += [f"no {key}" for key in schema.get("required", []) if key not in value]
        for key, sub in schema.get("properties", {}).items():
            found += violations(value[key], sub, root) if key in value else []
    return found


def test_every_documented_request_is_valid_and_answered(server, openapi):
    request = openapi["components"]["schemas"]["PixelsRequest"]
    examples = request["examples"]
    shapes = {(len(e["pixels"]), isinstance(e["pixels"][0], list)) for e in examples}
    assert {(28, True), (784, False), (2, True)} <= shapes  # image, flat row, batches
    assert {"scale", "invert"} <= set(request["properties"])
    for example in examples:
        assert violations(example, request, openapi) == [], example
        status, body = post(server.port, json.dumps(example).encode(), "application/json")
        assert status == 200, (example, body)
        answer = json.loads(body)
        batch = isinstance(example["pixels"][0], list) and len(example["pixels"]) != 28
        n_images = len(example["pixels"]) if batch else 1
        assert len(answer["labels"]) == n_images
        assert len(answer["is_digit"]) == len(answer["digit_score"]) == n_images
        prediction = openapi["components"]["schemas"]["Prediction"]
        assert violations(answer, prediction, openapi) == []


def test_the_documented_prediction_and_accept_all_are_what_predict_answers(openapi, tmp_path):
    from starlette.testclient import TestClient

    from skdigits.serve import create_app

    prediction = openapi["components"]["schemas"]["Prediction"]
    (example,) = prediction["examples"]
    assert violations(example, prediction, openapi) == []
    assert {"is_digit", "digit_score", "digit_threshold"} <= set(prediction["required"])
    for broken in ({"is_digit": [1, 0]}, {"digit_score": [0.97, "0.41"]}, {"digit_threshold": 2}):
        assert violations({**example, **broken}, prediction, openapi), broken

    (parameter,) = openapi["paths"]["/predict"]["post"]["parameters"]
    assert parameter["name"] == "accept_all"
    # A threshold the linear model never reaches: every image is "not a digit" but with accept_all.
    strict = build_model(
        tmp_path / "strict.onnx",
        metadata={**METADATA, "digit_threshold": "0.99"},
        score_output="digit_score",
    )
    image = {"pixels": [[0] * 28] * 28}
    answers = {}
    with TestClient(create_app(strict)) as client:
        for query in ("", *(f"?accept_all={e['value']}" for e in parameter["examples"].values())):
            r = client.post("/predict" + query, json=image)
            assert r.status_code == 200, (query, r.text)
            assert violations(r.json(), prediction, openapi) == [], r.json()
            answers[query] = (r.json()["is_digit"], r.json()["digit_threshold"])
        r = client.post("/predict?accept_all=maybe", json=image)
    assert answers == {
        "": ([False], 0.99),
        "?accept_all=1": ([True], 0),
        "?accept_all=0": ([False], 0.99),
    }
    assert r.status_code == 400
    assert violations(r.json(), {"$ref": "#/components/schemas/Error"}, openapi) == []


def four_bars() -> bytes:
    """Four tall bars far apart, dark on white: a number of four digits for any model."""
    from PIL import Image

    page = np.full((80, 400), 255, np.uint8)
    for x in (40, 130, 220, 310):
        page[10:70, x : x + 12] = 0
    return png(Image.fromarray(page))


def test_the_documented_readings_are_what_read_answers(server, openapi):
    from PIL import Image

    readings = openapi["components"]["schemas"]["Readings"]
    (example,) = readings["examples"]
    assert violations(example, readings, openapi) == []
    assert {"text", "digits"} <= set(example["readings"][0])
    assert "error" in example["readings"][1]
    broken = {**example, "readings": [{**example["readings"][0], "text": 2026}]}
    assert violations(broken, readings, openapi)  # the check can fail

    (parameter,) = openapi["paths"]["/read"]["post"]["parameters"]
    assert parameter["name"] == "length"
    for query in ["", *(f"?length={e['value']}" for e in parameter["examples"].values())]:
        status, body = _post_read(server.port, four_bars(), query)
        assert status == 200, (query, body)
        answer = json.loads(body)
        assert violations(answer, readings, openapi) == [], answer
        assert len(answer["readings"][0]["digits"]) == 4
    status, body = _post_read(server.port, png(Image.new("L", (90, 90), 255)))
    assert status == 422
    assert violations(json.loads(body), {"$ref": "#/components/schemas/Error"}, openapi) == []


def _post_read(port: int, body: bytes, query: str = "") -> tuple[int, bytes]:
    return _post(port, f"/read{query}", body, "image/png")


def _post(
    port: int, path: str, body: bytes, content_type: str = "application/json"
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": content_type})
        reply = conn.getresponse()
        return reply.status, reply.read()
    finally:
        conn.close()


def test_the_description_says_how_json_pixels_are_prepared(openapi):
    text = openapi["paths"]["/predict"]["post"]["description"]
    assert "used as they are" not in text
    assert all(word in text for word in ('"scale"', '"invert"', "[0, 1]", "255"))


def test_the_schema_refuses_what_the_service_refuses(openapi):
    request = openapi["components"]["schemas"]["PixelsRequest"]
    for bad in (
        {"pixels": [0] * 783},
        {"pixels": [[0] * 27] * 28},
        {"pixels": [[300] * 28] * 28},
        {"pixels": [[0] * 28] * 28, "scale": "2"},
        {"pixels": [[0] * 28] * 28, "invert": True},
    ):
        assert violations(bad, request, openapi), bad


LONG = "x" * 1_000_000

ECHOES = [
    ({"pixels": [[0] * 28] * 28, "scale": {"a": 1}}, r'"scale" must be one of .*, got an object$'),
    ({"pixels": [[0] * 28] * 28, "invert": [1, 2]}, r'"invert" must be one of .*, got a list$'),
    (
        {"pixels": [[0] * 28] * 28, "scale": LONG},
        r"got 'x{40}\.\.\.' \(1000000 characters\)$",
    ),
    ({"pixels": [[0] * 28] * 28, "scale": "\x1b[31m"}, r"got '\\x1b\[31m'$"),
]


@pytest.mark.parametrize(("document", "pattern"), ECHOES, ids=["dict", "list", "1MB", "escape"])
def test_a_refused_value_is_quoted_short_and_escaped(server, document, pattern):
    status, body = post(server.port, json.dumps(document).encode(), "application/json")
    message = json.loads(body)["error"]
    assert status == 422
    assert re.search(pattern, message), message
    assert len(message) < 200
    assert not re.search(r"<class|np\.|\{'|\x1b", message), message


def test_a_long_content_type_or_field_name_is_not_echoed_whole(server):
    status, body = post(server.port, b"abc", "text/" + "y" * 5000)
    message = json.loads(body)["error"]
    assert status == 415
    assert re.search(r"unsupported Content-Type 'text/y{35}\.\.\.' \(5005 characters\)", message)
    form = (
        b'--b\r\nContent-Disposition: form-data; name="' + b"z" * 3000 + b'"; filename="a.png"'
        b"\r\nContent-Type: image/png\r\n\r\nabc\r\n--b--\r\n"
    )
    status, body = post(server.port, form, "multipart/form-data; boundary=b")
    message = json.loads(body)["error"]
    assert status == 422
    assert re.search(r"\(fields: 'z{40}\.\.\.' \(3000 characters\)\)", message), message


def test_a_blank_drawing_is_answered_with_what_to_do(server):
    from PIL import Image

    canvas = np.zeros((280, 280), np.uint8)
    canvas[100:104, 100:104] = 12  # a smudge, fainter than any stroke
    status, body = post(server.port, png(Image.fromarray(canvas)), "image/png")
    message = json.loads(body)["error"]
    assert status == 422
    assert message.startswith("image 'upload' is blank: no digit found"), message
    assert "draw or write the digit darker" in message
    assert not re.search(r"\d+ of 255|needs \d+|in-memory", message), message
