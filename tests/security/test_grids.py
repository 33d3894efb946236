"""Hostile grids: ``skdigits search`` and the grid-file reader refuse them in one line.

Grids of a billion candidates (counted before any is built, before TensorFlow
loads), devices and FIFOs as ``--grid``, files over 1 MiB, TOML nested past what
tomllib recurses through or past what it reads in reasonable time (dotted keys
cost it quadratic time), integers past 64 bits or 4,300 digits, NaN and infinity,
huge strings and arrays, tables where values belong, learning rates the parameter
table refuses, and the other costs a search multiplies (folds, worker processes,
seeds, scorer names, paths). Then bounded fuzzing of the reader with nested and
huge TOML. The checks are in ``tests/_support/hostile.py``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skdigits import DataError
from skdigits.analysis._search import (
    MAX_CANDIDATES,
    MAX_GRID_FILE_BYTES,
    ParamGridError,
    count_candidates,
    load_grid_toml,
)
from tests._support.files import write
from tests._support.hostile import (
    BOUND_RUNNER,
    FUZZ,
    Case,
    Env,
    MiB,
    assert_one_line_message,
    outcome,
    refusal_test,
)

THOUSAND = ",".join(str(i) for i in range(1, 1001))
#: Three parameters of 1,000 values: a billion candidates.
BILLION = [f"--param={name}={THOUSAND}" for name in ("hidden_units", "batch_size", "epochs")]


def search(env: Env, *args: object) -> list[object]:
    return ["search", "-o", env.tmp / "best.skdigits", *args]


def grid_file(env: Env, text: str | bytes) -> list[object]:
    """``search --grid`` of a file holding ``text``."""
    data = text.encode() if isinstance(text, str) else text
    return search(env, "--grid", write(env.tmp / "grid.toml", data))


def fifo(env: Env) -> list[object]:
    os.mkfifo(env.tmp / "grid.toml")
    return search(env, "--grid", env.tmp / "grid.toml")


NESTED = "a = " + "[" * 5000 + "1" + "]" * 5000
INLINE = "a = " + "{b = " * 3000 + "1" + "}" * 3000
DOTTED = "a" + ".a" * 200_000 + " = 1"
HEADER = "[" + ".".join(["clf"] * 1000) + "]\nx = 1"
# Ten dotted parts (within the bound), then twelve inline tables: 22 levels of tables.
TABLES = ".".join(["t"] * 10) + " = " + "{x = " * 12 + "1" + "}" * 12

CASES: list[Case] = [
    Case(
        "cli",
        "billion-candidates",
        lambda e: search(e, *BILLION),
        1,
        r"the grid holds 1,000,000,000 candidates, more than the 10,000 a search may try.*"
        r"search fewer values",
    ),
    Case(
        "cli",
        "million-candidates-in-a-file",
        lambda e: grid_file(e, f"a = [{THOUSAND}]\nb = [{THOUSAND}]\n"),
        1,
        r"1,000,000 candidates",
    ),
    Case(
        "cli",
        "fits-past-the-bound",
        lambda e: search(
            e, f"--param=hidden_units={THOUSAND}", "--param=epochs=1,2,3,4,5", "--cv", "50"
        ),
        1,
        r"5,000 candidates x 50 folds = 250,000 fits, more than the 100,000",
    ),
    Case("cli", "dev-zero", lambda e: search(e, "--grid", "/dev/zero"), 1, r"not a regular file"),
    Case("cli", "fifo", fifo, 1, r"grid path '.*grid\.toml' is not a regular file"),
    Case(
        "cli",
        "over-1-MiB",
        lambda e: grid_file(e, "# " + "x" * MAX_GRID_FILE_BYTES),
        1,
        r"grid file '.*' has 1,048,578 bytes, more than the 1,048,576",
    ),
    Case("cli", "directory", lambda e: search(e, "--grid", e.tmp), 1, r"is a directory"),
    Case("cli", "not-utf8", lambda e: grid_file(e, b"a = '\xff'"), 1, r"is not UTF-8 text"),
    Case(
        "cli",
        "nested-arrays",
        lambda e: grid_file(e, NESTED),
        1,
        r"nests arrays .* too deeply|not valid TOML",
    ),
    Case(
        "cli",
        "nested-inline-tables",
        lambda e: grid_file(e, INLINE),
        1,
        r"nests arrays or inline tables too deeply",
    ),
    Case(
        "cli",
        "dotted-key-of-200000-parts",
        lambda e: grid_file(e, DOTTED),
        1,
        r"a dotted key of 200,001 parts, more than the 16",
    ),
    Case(
        "cli",
        "table-header-of-1000-parts",
        lambda e: grid_file(e, HEADER),
        1,
        r"a dotted key of 1,000 parts",
    ),
    Case(
        "cli",
        "tables-20-deep",
        lambda e: grid_file(e, TABLES),
        1,
        r"nests tables more than 16 deep",
    ),
    Case(
        "cli",
        "array-20-deep",
        lambda e: grid_file(e, "a = " + "[" * 20 + "1" + "]" * 20),
        1,
        r"`a` nests arrays or tables more than 16 deep",
    ),
    Case(
        "cli",
        "int-of-5000-digits",
        lambda e: grid_file(e, "hidden_units = " + "9" * 5000),
        1,
        r"holds a value TOML cannot hold .*64 bits",
    ),
    Case(
        "cli",
        "int-past-64-bits",
        lambda e: grid_file(e, f"hidden_units = {2**63}"),
        1,
        r"`hidden_units` holds an integer outside TOML's 64-bit range",
    ),
    Case(
        "cli",
        "nan",
        lambda e: grid_file(e, "optimizer.learning_rate = [nan, 0.1]"),
        1,
        r"`optimizer__learning_rate` holds nan; grid values must be finite",
    ),
    Case("cli", "inf", lambda e: grid_file(e, "[clf]\nlearning_rate = -inf"), 1, r"holds -inf"),
    Case(
        "cli",
        "huge-string",
        lambda e: grid_file(e, f'output_activation = "{"x" * 500_000}"'),
        1,
        r"a string of 500,000 characters",
    ),
    Case(
        "cli", "huge-name", lambda e: grid_file(e, f"{'x' * 500_000}-? = 1"), 1, r"not valid TOML"
    ),
    Case(
        "cli",
        "too-many-parameters",
        lambda e: grid_file(e, "".join(f"p{i} = 1\n" for i in range(200))),
        1,
        r"more than the 100 parameters",
    ),
    Case(
        "cli",
        "empty-list",
        lambda e: grid_file(e, "hidden_units = []"),
        1,
        r"`hidden_units` has no values",
    ),
    Case(
        "cli",
        "table-for-a-list",
        lambda e: grid_file(e, "[hidden_units]\na = 1"),
        1,
        r"unknown parameter `clf__hidden_units__a`",
    ),
    Case(
        "cli",
        "array-of-tables",
        lambda e: grid_file(e, "[[hidden_units]]\na = 1"),
        1,
        r"invalid candidate .*`hidden_units` must be",
    ),
    Case(
        "cli",
        "param-int-of-5000-digits",
        lambda e: search(e, "--param", "hidden_units=" + "9" * 5000),
        1,
        r"value '9{23}…' is an integer of 5,000 digits; parameters take integers of at most 19",
    ),
    Case(
        "cli",
        "learning-rate-nan",
        lambda e: search(e, "--param", "optimizer__learning_rate=nan"),
        1,
        r"invalid candidate .*`optimizer__learning_rate` must be",
    ),
    Case(
        "cli",
        "learning-rate-inf",
        lambda e: grid_file(e, "optimizer.learning_rate = [1e400]"),
        1,
        r"holds inf",
    ),
    Case(
        "cli",
        "learning-rate-negative",
        lambda e: search(e, "--param", "optimizer__learning_rate=-1,0.1"),
        1,
        r"invalid candidate \{optimizer__learning_rate=-1\}: `optimizer__learning_rate` must be",
    ),
    Case(
        "cli",
        "cv-10-to-the-9",
        lambda e: search(e, "--cv", str(10**9)),
        1,
        r"--cv must be 2 to 100 folds.*got 1000000000",
    ),
    Case(
        "cli",
        "n-jobs-10-to-the-9",
        lambda e: search(e, "--n-jobs", str(10**9)),
        1,
        r"--n-jobs 1000000000 would start that many worker processes",
    ),
    Case(
        "cli",
        "dask-workers-10-to-the-9",
        lambda e: search(e, "--backend", "dask", "--dask-workers", str(10**9)),
        1,
        r"--dask-workers 1000000000 would start",
    ),
    Case(
        "cli",
        "random-state-of-5000-digits",
        lambda e: search(e, "--random-state", "9" * 5000),
        2,
        r"--random-state: expected a whole number from 0 to 4294967295, got '9{19}…'",
    ),
    Case(
        "cli",
        "random-state-past-32-bits",
        lambda e: search(e, "--random-state", str(2**32)),
        2,
        r"expected a whole number from 0 to 4294967295, got '4294967296'",
    ),
    Case(
        "cli",
        "scoring-of-1-MB",
        lambda e: search(e, "--scoring", "x" * 1_000_000),
        1,
        r"--scoring 'x{39}…' is not a scikit-learn scorer",
    ),
    Case(
        "cli",
        "results-name-too-long",
        lambda e: search(e, "--results", e.tmp / ("r" * 5000)),
        1,
        r"output .*rrrr\.\.\. cannot be used \(File name too long\); pass a shorter",
    ),
]

test_hostile_input_is_refused_with_a_clear_message = refusal_test(CASES)


def test_messages_never_echo_a_huge_value(tmp_path, capsys):
    """A 500,000-character value or name is named in a line of a few hundred characters."""
    from skdigits.cli.main import main

    for text in (f'output_activation = ["{"y" * 100_000}"]', f'"{"z" * 500_000}" = 1'):
        path = write(tmp_path / "grid.toml", text.encode())
        assert main(["search", "--grid", str(path), "-o", str(tmp_path / "m.skdigits")]) == 1
        err = capsys.readouterr().err
        assert err.startswith("skdigits: error: ")
        assert err.count("\n") == 1
        assert len(err) < 1000, len(err)


# ---------------------------------------------------------------- bounded in a fresh interpreter

BOUNDED = {
    # (argv after "search", seconds, peak MB): each refused before MNIST or TensorFlow load.
    "billion-candidates": (BILLION, 10, 300),
    "dev-zero": (["--grid", "/dev/zero"], 10, 300),
    "dotted-key-of-500000-parts": (["--grid", "dotted.toml"], 10, 300),
    "arrays-nested-500000-deep": (["--grid", "nested.toml"], 10, 300),
    "a-million-candidates-in-1-MiB": (["--grid", "wide.toml"], 10, 300),
}


@pytest.mark.parametrize("name", list(BOUNDED))
def test_refused_within_seconds_and_bounded_memory_before_tensorflow(name, tmp_path):
    """In a fresh interpreter under a 1 GiB address-space limit: the one-line error
    arrives within seconds, in bounded memory, and TensorFlow was never imported."""
    argv, seconds, peak_mb = BOUNDED[name]
    write(tmp_path / "dotted.toml", ("a" + ".a" * 500_000 + " = 1").encode())
    write(tmp_path / "nested.toml", ("a = " + "[" * 500_000 + "]" * 500_000)[:MiB].encode())
    wide = "".join(f"p{i} = [{','.join(['1'] * 40_000)}]\n" for i in range(4))
    write(tmp_path / "wide.toml", wide.encode())
    code = (
        f"try:\n    cli({['search', *argv, '-o', 'm.skdigits']!r})\n"
        "finally:\n    import sys; assert 'tensorflow' not in sys.modules, 'TensorFlow loaded'"
    )
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", BOUND_RUNNER, str(1024 * MiB), code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    wall = time.perf_counter() - start
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    kind, message = report["error"]
    assert kind == "SystemExit", message  # an AssertionError: TensorFlow was loaded
    assert message.startswith("1: skdigits: error: "), message
    assert_one_line_message(message, r"candidates|not a regular file|dotted key|nests")
    assert report["seconds"] < seconds, report
    assert wall < seconds + 20, wall  # the interpreter's start and skdigits' imports
    assert report["peak"] < peak_mb * MiB, report
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dotted.toml", "nested.toml", "wide.toml"]


# ---------------------------------------------------------------- bounded fuzzing (hypothesis)

_BARE = st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,8}", fullmatch=True)
# Mostly plain names, so that documents get past the key check to their values.
_KEY = st.one_of(
    _BARE,
    _BARE,
    _BARE,
    st.lists(_BARE, min_size=2, max_size=4).map(".".join),
    st.integers(5, 5000).map(lambda n: ".".join(["k"] * n)),
    st.text(max_size=20).map(json.dumps),
)
_SCALAR = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.integers(1, 6000).map(lambda n: "9" * n),  # past 64 bits, past 4,300 digits
    st.floats().map(repr),  # nan, inf and -inf are TOML too
    st.sampled_from(["nan", "+inf", "-inf", "true", "false", '"none"', "1979-05-27"]),
    st.text(max_size=30).map(json.dumps),
    st.integers(0, 200_000).map(lambda n: '"' + "s" * n + '"'),
)
_VALUE = st.recursive(
    _SCALAR,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5).map(lambda xs: "[" + ", ".join(xs) + "]"),
        st.lists(st.tuples(_BARE, inner), max_size=3).map(
            lambda kv: "{" + ", ".join(f"{k} = {v}" for k, v in kv) + "}"
        ),
    ),
    max_leaves=20,
)
_DEEP = st.integers(1, 20_000).flatmap(
    lambda d: st.sampled_from(["[" * d + "1" + "]" * d, "{a = " * d + "1" + "}" * d])
)
_LINE = st.one_of(
    st.tuples(_KEY, st.one_of(_VALUE, _DEEP)).map(lambda kv: f"{kv[0]} = {kv[1]}"),
    _KEY.map(lambda k: f"[{k}]"),
    _KEY.map(lambda k: f"[[{k}]]"),
    st.integers(1, 30_000).map(lambda n: f"p = [{', '.join(['1'] * n)}]"),
    st.text(max_size=40),
)
_DOCUMENT = st.lists(_LINE, max_size=8).map("\n".join)
_NAME = re.compile(r"(clf|scale)__[A-Za-z_][A-Za-z0-9_]*")


@settings(FUZZ, max_examples=120, deadline=10_000)
@given(text=_DOCUMENT)
def test_fuzzed_grid_files_give_a_grid_or_one_line_data_error(text, tmp_path):
    """Any TOML-ish document: a grid of routed names and non-empty lists whose
    candidates are counted, or a one-line DataError; never another exception, and
    within seconds."""
    path = tmp_path / "grid.toml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    start = time.perf_counter()
    grid = outcome(load_grid_toml, path)
    if isinstance(grid, dict):
        for name, values in grid.items():
            assert _NAME.fullmatch(name), name
            assert isinstance(values, list)
            assert values
        grid = outcome(count_candidates, grid)
    assert time.perf_counter() - start < 5
    if isinstance(grid, Exception):
        assert isinstance(grid, ParamGridError), repr(grid)
        assert isinstance(grid, DataError)
        assert "\n" not in str(grid), str(grid)[:2000]
        assert len(str(grid)) < 1000, str(grid)[:2000]
    else:
        assert 1 <= grid <= MAX_CANDIDATES
