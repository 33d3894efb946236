"""Plain helpers shared by the tests: model builders, servers, the browser, photos.

Fixtures live in ``tests/conftest.py``; what is here is ordinary functions and
constants that test modules import (``from tests._support.servers import ...``),
so that no test module imports another.
"""

from __future__ import annotations

from pathlib import Path

#: The repository's root folder (the one holding ``skdigits/``, ``docs/`` and ``tests/``).
REPO = Path(__file__).resolve().parents[2]
