"""Every docstring example in the package runs and prints what it claims."""

import doctest
import importlib
import inspect
import pkgutil

import pytest

import skexvae


def _modules_with_examples():
    names = [m.name for m in pkgutil.walk_packages(skexvae.__path__, "skexvae.")]
    modules = [importlib.import_module(name) for name in names]
    return [m for m in modules if ">>>" in inspect.getsource(m)]


@pytest.mark.parametrize("module", _modules_with_examples(), ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
