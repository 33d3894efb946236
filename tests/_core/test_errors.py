"""The errors' two wordings: Python's in the message, the command line's when it prints them."""

from __future__ import annotations

import pickle

from skdigits._core.errors import ModelFileError, SkdigitsError, WriteError, on_command_line


def test_a_message_speaks_python_and_the_command_line_says_its_options():
    err = ModelFileError(
        "site/ already holds files; pass force=True to replace it",
        cli_words={"force=True": "--force"},
    )
    assert str(err) == "site/ already holds files; pass force=True to replace it"
    assert on_command_line(err) == "site/ already holds files; pass --force to replace it"
    assert on_command_line(SkdigitsError("no\n options")) == "no options"
    # Errors cross process boundaries (joblib workers) with their words intact.
    again = pickle.loads(pickle.dumps(err))
    assert on_command_line(again) == on_command_line(err)
    written = pickle.loads(pickle.dumps(WriteError("cannot write m.onnx", path="m.onnx")))
    assert written.path == "m.onnx"
