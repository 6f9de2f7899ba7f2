import numpy as np
import pytest
from sklearn.datasets import load_digits

# Small networks and few epochs: the tests check behaviour, not quality.
FAST = {"n_components": 4, "hidden_layer_sizes": (32,), "max_iter": 3, "n_importance_samples": 20}


@pytest.fixture(scope="session")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y


@pytest.fixture(scope="session")
def small_digits(digits):
    X, y = digits
    return X[:300], y[:300]
