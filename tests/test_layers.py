"""The package's import graph: no cycles, the layers and the deploy contract as pyproject says.

The graph is grimp's (import-linter's), which counts imports inside functions too.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph("skdigits", exclude_type_checking_imports=True)


def _edges(graph) -> dict[str, list[str]]:
    return {m: sorted(graph.find_modules_directly_imported_by(m)) for m in sorted(graph.modules)}


def _cycles(edges: dict[str, list[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    modules = sorted(edges)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in modules:
        if start in index:
            continue
        work = [(start, iter(edges[start]))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_module_of_the_package_imports_itself_back(graph):
    assert _cycles(_edges(graph)) == []


def test_the_graph_holds_imports_made_inside_functions(graph):
    # load_predictor imports the .skdigits loader only when it opens such a file.
    assert "skdigits.estimator._saving" in _edges(graph)["skdigits.models"]


def test_the_cycle_check_finds_a_cycle_of_three_modules(graph):
    edges = _edges(graph)
    edges["skdigits._core.errors"] = [*edges["skdigits._core.errors"], "skdigits.models"]
    cycles = _cycles(edges)
    assert len(cycles) == 1
    assert {"skdigits._core.errors", "skdigits.models"} <= set(cycles[0])


def test_the_layers_contract_lists_every_subpackage():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = next(c for c in config["contracts"] if c["type"] == "layers")["layers"]
    package = ROOT / "skdigits"
    subpackages = {f"skdigits.{p.parent.name}" for p in package.glob("*/__init__.py")} | {
        f"skdigits.{p.stem}" for p in package.glob("*.py") if not p.stem.startswith("_")
    }
    assert subpackages == set(layers)


def test_at_most_eight_modules_at_the_top_of_the_package():
    assert len(list((ROOT / "skdigits").glob("*.py"))) <= 8


def test_lint_imports_keeps_every_contract():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--config", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "0 broken" in result.stdout
