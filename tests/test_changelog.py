"""Every name CHANGELOG.md says moved can be imported from where it says it went."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

CHANGELOG = Path(__file__).resolve().parent.parent / "CHANGELOG.md"
_ROW = re.compile(r"^\s*\| `(skdigits[\w.]*)`(?: \(([^)]*)\))? \| `(skdigits[\w.]*)` \|$")


def _moves() -> list[tuple[str, str, str]]:
    """(old path, name, new home) for each name the table of moves lists."""
    moves = []
    for line in CHANGELOG.read_text(encoding="utf-8").splitlines():
        match = _ROW.match(line)
        if not match:
            continue
        old, names, new = match.groups()
        if names:
            moves += [(old, name, new) for name in re.findall(r"`(\w+)`", names)]
        elif old.rsplit(".", 1)[-1] == new.rsplit(".", 1)[-1]:  # old.attr -> new.attr
            moves.append((old, new.rsplit(".", 1)[1], new.rsplit(".", 1)[0]))
    return moves


def test_the_changelog_lists_the_moved_public_names():
    names = {name for _, name, _ in _moves()}
    assert {"parse_param", "write_report", "OnnxDigitClassifier", "build_cnn"} <= names
    assert {"TEACHER_LABEL_SMOOTHING", "dask_backend", "load_metadata"} <= names


@pytest.mark.parametrize(("old", "name", "new"), _moves())
def test_a_moved_name_imports_from_its_new_home(old, name, new):
    assert hasattr(importlib.import_module(new), name), f"{old}: {name} is not in {new}"
