"""PyTorch modules of the model: networks, likelihoods, priors and the VAEs that join them."""

from ._build import ARCHITECTURES, CONVOLUTIONAL, ONE_LEVEL, PRIORS, TWO_LEVEL, build_vae
from ._conv import ConvDecoder, ConvEncoder, GatedConv2d
from ._likelihoods import (
    LIKELIHOODS,
    BernoulliLikelihood,
    DiscretizedLogisticLikelihood,
    GaussianLikelihood,
)
from ._networks import GatedDense, MLPDecoder, MLPEncoder, he_initialize
from ._priors import ExemplarPrior, GaussianPrior, Prior, VampPrior, log_normal_diag
from ._spec import ModelSpec
from ._vae import VAE, TwoLevelVAE

__all__ = [
    "ARCHITECTURES",
    "CONVOLUTIONAL",
    "LIKELIHOODS",
    "ONE_LEVEL",
    "PRIORS",
    "TWO_LEVEL",
    "VAE",
    "BernoulliLikelihood",
    "ConvDecoder",
    "ConvEncoder",
    "DiscretizedLogisticLikelihood",
    "ExemplarPrior",
    "GatedConv2d",
    "GatedDense",
    "GaussianLikelihood",
    "GaussianPrior",
    "MLPDecoder",
    "MLPEncoder",
    "ModelSpec",
    "Prior",
    "TwoLevelVAE",
    "VampPrior",
    "build_vae",
    "he_initialize",
    "log_normal_diag",
]
