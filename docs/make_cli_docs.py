"""Write docs/cli.md: every command's --help, taken from the parser itself.

    python docs/make_cli_docs.py          # rewrite docs/cli.md
    python docs/make_cli_docs.py --check  # exit 1 if docs/cli.md is stale

``tests/cli/test_docs.py`` runs the check, so the page cannot drift from the code.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

PAGE = Path(__file__).resolve().parent / "cli.md"
WIDTH = 88  # columns the help is wrapped to, whatever the terminal


def render() -> str:
    """The Markdown page: the top-level help, then each command's, in the parser's order."""
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(WIDTH)
    try:
        from skdigits.cli.main import build_parser

        parser = build_parser()
        commands = next(
            a for a in parser._actions if isinstance(a, argparse._SubParsersAction)
        ).choices
        parts = [
            "# The `skdigits` command line\n",
            "Generated from the parser by `python docs/make_cli_docs.py`; do not edit by hand.\n",
            "```text\n$ skdigits --help\n" + parser.format_help() + "```\n",
        ]
        for name, sub in commands.items():
            parts.append(f"## skdigits {name}\n")
            parts.append(f"```text\n$ skdigits {name} --help\n" + sub.format_help() + "```\n")
        return "\n".join(parts)
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the page is current")
    args = parser.parse_args()
    text = render()
    if args.check:
        if not PAGE.exists() or PAGE.read_text() != text:
            print(f"{PAGE} is stale; run: python docs/make_cli_docs.py", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(text)
    print(f"wrote {PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
