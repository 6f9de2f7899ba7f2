"""skexvae: the Exemplar VAE as a scikit-learn estimator."""

from ._estimator import ExemplarVAE

__version__ = "0.1.0.dev0"

__all__ = ["ExemplarVAE", "__version__"]
