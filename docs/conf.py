"""Sphinx configuration for the skdigits documentation (``make docs``).

The build reads nothing from the network: no intersphinx, and the theme's
assets are the local ones that ship with pydata-sphinx-theme.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# TensorFlow's start-up log would otherwise interleave with Sphinx's output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import skdigits  # noqa: E402

project = "skdigits"
author = "The skdigits developers"
copyright = "skdigits developers, BSD-3-Clause"
version = release = skdigits.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    "make_cli_docs.py",
    "**.ipynb_checkpoints",
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
    "auto_examples/*.zip",
    "auto_examples/*.json",
    "auto_examples/*.md5",
    "sg_execution_times.rst",
]

# API reference: one page per public name, generated into docs/generated.
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": False, "inherited-members": False}
autodoc_typehints = "none"  # numpydoc docstrings carry the types
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

# MyST for the Markdown pages, the generated docs/cli.md among them.
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]
suppress_warnings = ["myst.xref_missing"]

# The examples run during the build, on small slices of MNIST.
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "show_memory": False,
    # The timing pages load jQuery and DataTables from CDNs: leave them out.
    "write_computation_times": False,
    "image_scrapers": ("matplotlib",) if importlib.util.find_spec("matplotlib") else (),
}

html_theme = "pydata_sphinx_theme"
html_title = f"skdigits {release}"
html_static_path: list[str] = []
html_show_sourcelink = False
html_theme_options = {
    # Nothing that would reach the network when a page is opened.
    "icon_links": [],
    "check_switcher": False,
    "show_version_warning_banner": False,
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_context = {"default_mode": "light"}
