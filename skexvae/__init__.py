"""skexvae: the Exemplar VAE as a scikit-learn estimator."""

from ._estimator import ExemplarVAE
from ._novelty import ExemplarNoveltyDetector
from .augmentation import AugmentedClassifier, ExemplarAugmenter, ExemplarSampler

__version__ = "0.1.0.dev0"

__all__ = [
    "AugmentedClassifier",
    "ExemplarAugmenter",
    "ExemplarNoveltyDetector",
    "ExemplarSampler",
    "ExemplarVAE",
    "__version__",
]
