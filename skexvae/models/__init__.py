"""PyTorch modules of the model: networks, likelihoods, priors and the VAE that joins them."""

from ._likelihoods import (
    LIKELIHOODS,
    BernoulliLikelihood,
    DiscretizedLogisticLikelihood,
    GaussianLikelihood,
)
from ._networks import GatedDense, MLPDecoder, MLPEncoder, he_initialize
from ._priors import ExemplarPrior, GaussianPrior, VampPrior, log_normal_diag
from ._vae import VAE, build_vae

__all__ = [
    "LIKELIHOODS",
    "VAE",
    "BernoulliLikelihood",
    "DiscretizedLogisticLikelihood",
    "ExemplarPrior",
    "GatedDense",
    "GaussianLikelihood",
    "GaussianPrior",
    "MLPDecoder",
    "MLPEncoder",
    "VampPrior",
    "build_vae",
    "he_initialize",
    "log_normal_diag",
]
