"""skdigits uses public Keras, TensorFlow and SciKeras APIs, save in three named places.

If a release of one of them moves a private name that those places need, the
test below names the call that is gone.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import numpy as np
import pytest

import skdigits

PACKAGE = Path(skdigits.__file__).parent

#: (file, function): the only places allowed past the public APIs, each commented.
ALLOWED = {
    ("_tf.py", "framework_random_state"),  # restoring the seeds and op determinism
    ("_training.py", "_initialize_callbacks"),  # SciKeras' list of fit callbacks
    ("_training.py", "_scikeras_seeding"),  # SciKeras' seed, for its seeding without set_seed
}
PRIVATE = re.compile(
    r"keras\.src|tensorflow\.python|\._random_state\b|\._fit_callbacks\b"
    r"|\._predict_callbacks\b|\._user_params\b"
)


def _functions(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def test_no_private_framework_api_outside_the_allowed_functions():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        source = path.read_text()
        lines = source.splitlines()
        allowed_lines: set[int] = set()
        for fn in _functions(ast.parse(source)):
            if (path.name, fn.name) in ALLOWED:
                allowed_lines.update(range(fn.lineno, (fn.end_lineno or fn.lineno) + 1))
        for number, line in enumerate(lines, start=1):
            code = line.split("#", 1)[0]
            if PRIVATE.search(code) and number not in allowed_lines:
                offenders.append(f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("keras.src.backend.common.global_state", "get_global_attribute"),
        ("keras.src.backend.common.global_state", "set_global_attribute"),
        ("keras.src.utils.rng_utils", "GLOBAL_RANDOM_SEED"),
        ("keras.src.random.seed_generator", "GLOBAL_SEED_GENERATOR"),
        ("tensorflow.python.eager.context", "global_seed"),
        ("tensorflow.python.eager.context", "context"),
        ("tensorflow.python.framework.config", "is_op_determinism_enabled"),
        ("tensorflow.python.framework.config", "disable_op_determinism"),
        ("scikeras.wrappers", "BaseWrapper._initialize_callbacks"),
    ],
)
def test_the_private_calls_skdigits_relies_on_still_exist(module, name):
    pytest.importorskip("scikeras")
    from skdigits.nn._tf import import_keras

    import_keras()
    value = importlib.import_module(module)
    for part in name.split("."):
        assert hasattr(value, part), f"{module}.{name} is gone: update skdigits/_tf.py"
        value = getattr(value, part)


def test_export_onnx_is_a_top_level_name():
    from skdigits.export import export_onnx

    assert skdigits.export_onnx is export_onnx
    assert "export_onnx" in dir(skdigits)


def test_seeding_gives_tensorflow_the_global_seed_set_seed_would():
    """A traced random op draws the same numbers inside ``seeded(7)`` as after
    ``tf.random.set_seed(7)``, and the caller's global seed is back afterwards."""
    import tensorflow as tf
    from tensorflow.python.eager import context

    from skdigits.nn._tf import seeded

    def draw():  # a new graph each call, so its op seeds start afresh
        return tf.function(lambda: tf.random.uniform([4]))().numpy()

    before = context.global_seed()
    try:
        tf.random.set_seed(7)
        expected = draw()
        tf.random.set_seed(3)
        with seeded(7):
            got = draw()
        assert context.global_seed() == 3
    finally:
        tf.random.set_seed(before)
    np.testing.assert_array_equal(got, expected)
