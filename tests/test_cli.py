"""The command line's help, and the package's lazy imports that keep it fast."""

import argparse
import subprocess
import sys

import pytest

import skexvae
from skexvae import cli


def _python(code):
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout


def test_help_and_import_do_not_load_torch():
    loaded = _python(
        "import sys, skexvae.cli\n"
        "for argv in (['--help'], ['bench', 'density', '--help'], ['demo', '--help']):\n"
        "    try:\n"
        "        skexvae.cli._parser().parse_args(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(sorted(m for m in ('torch', 'sklearn') if m in sys.modules))"
    )
    assert loaded.strip().splitlines()[-1] == "[]"


def test_public_names_load_on_first_use():
    out = _python(
        "import sys, skexvae\n"
        "assert 'skexvae._estimator' not in sys.modules\n"
        "print(skexvae.ExemplarVAE.__module__, skexvae.datasets.load_mnist.__name__)\n"
        "from skexvae import *\n"
        "print(sorted(set(skexvae.__all__) - set(dir(skexvae))))"
    )
    assert out.splitlines() == ["skexvae._estimator load_mnist", "[]"]


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'ExemplarVea'"):
        skexvae.ExemplarVea  # noqa: B018
    with pytest.raises(AttributeError, match="has no attribute 'run_everything'"):
        skexvae.bench.run_everything  # noqa: B018


def _subparsers(parser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield name, sub
                yield from ((f"{name} {n}", s) for n, s in _subparsers(sub))


def test_every_option_has_help():
    undocumented = [
        (name, action.dest)
        for name, sub in _subparsers(cli._parser())
        for action in sub._actions
        if action.option_strings and not action.help
    ]
    assert undocumented == []


def test_the_description_is_plain_text():
    text = cli._parser().format_help()
    assert "``" not in text and "Exemplar VAE" in text


def test_bench_download_fetches_both_files_before_running(monkeypatch):
    calls = []
    monkeypatch.setattr(
        skexvae.datasets, "load_mnist", lambda home, **kw: calls.append(("load", home, kw))
    )
    monkeypatch.setattr(skexvae.bench, "run_density", lambda home, **kw: calls.append(("run",)))
    assert cli.main(["bench", "density", "--download", "--data-home", "somewhere"]) == 0
    assert calls == [
        ("load", "somewhere", {"split": "train+validation", "download": True}),
        ("load", "somewhere", {"split": "test", "download": True}),
        ("run",),
    ]
