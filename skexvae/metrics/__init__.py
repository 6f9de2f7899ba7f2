"""Metrics of synthetic data: how close samples sit to their training rows, and their
fidelity and diversity against real data."""

from ._fidelity import FidelityResult, fidelity
from ._memorization import MemorizationResult, memorization

__all__ = ["FidelityResult", "MemorizationResult", "fidelity", "memorization"]
