"""Helpers shared by the benchmark scripts: real MNIST or a clear skip, fixed binarization."""

import numpy as np

from skexvae.datasets import load_mnist


def load_mnist_splits(data_home, *splits):
    """``X`` of each split, or None (after saying so) when the MNIST files are absent."""
    try:
        return [load_mnist(data_home, split=split, return_X_y=True)[0] for split in splits]
    except FileNotFoundError as exc:
        print(f"skipped: MNIST not found ({exc})")
        return None


def binarize_once(X, seed=0):
    """One fixed Bernoulli draw of grey images, as held-out data is scored in the paper."""
    rng = np.random.default_rng(seed)
    return (rng.random(X.shape) < X).astype(np.float32)
