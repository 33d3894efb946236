"""docs/cli.md shows every command's --help exactly as the parser prints it."""

from __future__ import annotations

import importlib.util

from tests._support import REPO

DOCS = REPO / "docs"


def _generator():
    spec = importlib.util.spec_from_file_location("make_cli_docs", DOCS / "make_cli_docs.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docs_cli_md_is_generated_from_the_current_parser():
    assert (DOCS / "cli.md").read_text() == _generator().render(), (
        "docs/cli.md is stale; run: python docs/make_cli_docs.py"
    )


def test_every_command_has_help_and_examples():
    from skdigits.cli.main import build_parser

    text = _generator().render()
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for name, sub in commands.items():
        assert f"## skdigits {name}\n" in text
        assert sub.epilog, name
        assert sub.epilog.startswith(("examples:", "The grid")), name
        examples = sub.epilog.split("examples:\n", 1)[1].splitlines()
        assert sum(line.startswith(("  skdigits ", "  curl ")) for line in examples) >= 2, name
        assert "%%" not in sub.format_help(), name
        for action in sub._actions:
            if action.help is not None and action.dest != "help":
                assert action.help, (name, action.dest)
