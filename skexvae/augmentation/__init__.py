"""Generative data augmentation with an Exemplar VAE (paper section 5.4)."""

from ._augmenter import ExemplarAugmenter
from ._classifier import AugmentedClassifier
from ._sampler import ExemplarSampler
from ._synthesis import default_vae

__all__ = ["AugmentedClassifier", "ExemplarAugmenter", "ExemplarSampler", "default_vae"]
