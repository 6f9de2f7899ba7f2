"""Sphinx configuration: the Markdown pages (MyST), the API reference generated from
the numpydoc docstrings, and ``examples/`` as a sphinx-gallery.

Build with ``python -m sphinx -W -c docs . docs/_build/html`` from the repository
root. The source folder is the root, not ``docs/``, so that the pages' links to the
benchmark tables (``../benchmarks/results/*.md``) resolve on the site as they do in
the repository; ``include_patterns`` keeps the rest of the tree out. Gallery examples
whose file names match ``SKEXVAE_DOCS_EXECUTE`` (a regular expression; default: the
ones that take about 30 s on 2 CPU cores) are executed; the others are shown with
their code.
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import skexvae  # noqa: E402

project = "skexvae"
author = "The skexvae developers"
copyright = "2026, the skexvae developers"
version = release = skexvae.__version__

extensions = [
    "myst_parser",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx_gallery.gen_gallery",
]

root_doc = "docs/index"
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
include_patterns = ["docs/**", "benchmarks/results/*.md"]
exclude_patterns = ["docs/_build/**"]
templates_path = ["docs/_templates"]
# The site's front page: docs/index.html, where the root document lands.
html_extra_path = ["_root"]

myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

# The benchmark tables are written by scripts and start at H3.
suppress_warnings = ["myst.header"]
# `name` in a docstring is code, as in scikit-learn's documentation.
default_role = "literal"

autosummary_generate = True
autodoc_default_options = {"inherited-members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "docs/auto_examples",
    "filename_pattern": os.environ.get(
        "SKEXVAE_DOCS_EXECUTE", r"plot_(digits_exemplar_vae|exemplar_attribution)"
    ),
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "show_memory": False,
    "write_computation_times": False,
}

html_theme = "pydata_sphinx_theme"
html_title = f"skexvae {release}"
html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2}

# Tables written by the benchmarks start with their command, not a title; the site
# names each by its path in the repository.
RESULT_FOLDERS = ("benchmarks/results/", "docs/results/")


def _title_result_tables(app, docname, source):
    if docname.startswith(RESULT_FOLDERS) and not source[0].lstrip().startswith("# "):
        source[0] = f"# {docname}.md\n\n{source[0]}"


def setup(app):
    app.connect("source-read", _title_result_tables)
