"""The drawing pages' shared parts, inlined where a page's source asks for them.

skdigits has two drawing pages: the one ``skdigits serve`` serves
(``serve/static/index.html``, which asks ``POST /predict``) and the static site of
``skdigits export --web`` (``export/web_static/``, which runs the model in the
browser). Their drawing pad, answer bars and styles are written once, in
``serve/static/drawing.mjs`` and ``serve/static/drawing.css``: a line
``// @include drawing.mjs`` or ``/* @include drawing.css */`` in a page's file is
replaced by that file. Inlined rather than linked, so the served page stays one
self-contained response and the site keeps its few files. Standard library only.
"""

from __future__ import annotations

import re
from importlib import resources

#: The files a page may include, in ``skdigits/serve/static``.
SHARED_FILES = ("drawing.css", "drawing.mjs")

_INCLUDE = re.compile(r"^[ \t]*(?://|/\*) @include ([\w.-]+)(?: \*/)?[ \t]*$", re.MULTILINE)


def inline_shared(source: str) -> str:
    """``source`` with each ``@include NAME`` line replaced by the shared file ``NAME``."""

    def shared(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in SHARED_FILES:
            raise ValueError(f"a page includes {name!r}; the shared files are {SHARED_FILES}")
        path = resources.files("skdigits").joinpath("serve", "static", name)
        return path.read_text(encoding="utf-8").rstrip("\n")

    return _INCLUDE.sub(shared, source)
