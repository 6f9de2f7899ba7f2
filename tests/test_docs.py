"""The example in ExemplarVAE's docstring runs and prints what it claims."""

import doctest

import skexvae._estimator


def test_estimator_docstring_example():
    result = doctest.testmod(skexvae._estimator, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
