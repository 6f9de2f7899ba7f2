"""Data set loaders."""

from ._mnist import load_mnist

__all__ = ["load_mnist"]
