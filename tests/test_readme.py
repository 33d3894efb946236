"""The README's Python quick start runs as written, so its code cannot rot.

Every ```python block of README.md is executed in order, in one namespace, in a
temporary working directory (the quick start writes an ONNX file). The quick
start trains one epoch on 5,000 MNIST images, so this takes seconds; it needs
MNIST in the data home or a way to fetch it.
"""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def readme_python_blocks() -> list[str]:
    return PYTHON_BLOCK.findall(README.read_text(encoding="utf-8"))


def test_readme_has_a_python_quick_start():
    blocks = readme_python_blocks()
    assert blocks, "README.md has no ```python block to run"
    assert any("make_pipeline" in block for block in blocks)


def test_readme_python_blocks_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__readme__"}
    for number, block in enumerate(readme_python_blocks(), start=1):
        exec(compile(block, f"README.md python block {number}", "exec"), namespace)

    # What the quick start promises: a fitted pipeline that has learnt something,
    # and an ONNX file whose predictor agrees with it.
    assert (tmp_path / "digits.onnx").is_file()
    assert namespace["pipe"].score(namespace["X_test"][:2000], namespace["y_test"][:2000]) > 0.8
    labels = namespace["labels"]
    assert list(labels) == list(namespace["pipe"].predict(namespace["X_test"][:10]))
