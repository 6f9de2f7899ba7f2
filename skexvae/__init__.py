"""skexvae: the Exemplar VAE as a scikit-learn estimator."""

from ._lazy import lazy_exports

__version__ = "0.1.0.dev0"

__all__ = [
    "AugmentedClassifier",
    "ExemplarAugmenter",
    "ExemplarNoveltyDetector",
    "ExemplarSampler",
    "ExemplarVAE",
    "__version__",
    "plot_history",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "AugmentedClassifier": ".augmentation",
        "ExemplarAugmenter": ".augmentation",
        "ExemplarNoveltyDetector": "._novelty",
        "ExemplarSampler": ".augmentation",
        "ExemplarVAE": "._estimator",
        "plot_history": "._history",
    },
    submodules=("augmentation", "bench", "datasets", "metrics"),
)
