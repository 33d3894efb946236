"""The API reference (docs/api.rst) lists every public name, so each gets a page."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

API_RST = Path(__file__).resolve().parent.parent / "docs" / "api.rst"
_SECTIONS = re.split(r"\.\. currentmodule:: ", API_RST.read_text(encoding="utf-8"))[1:]


def test_every_subpackage_has_a_section():
    modules = {section.split("\n", 1)[0].strip() for section in _SECTIONS}
    assert {"skdigits", "skdigits.io", "skdigits.runtime", "skdigits.reading"} <= modules


def test_each_section_lists_its_modules_public_names():
    for section in _SECTIONS:
        module = section.split("\n", 1)[0].strip()
        listed = set(re.findall(r"^   ([A-Za-z_]\w*)$", section, re.MULTILINE))
        public = set(importlib.import_module(module).__all__) - {"__version__"}
        assert public <= listed, f"{module}: not in docs/api.rst: {sorted(public - listed)}"
