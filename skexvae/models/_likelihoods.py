"""Observation models ``p(x|z)``: each turns the decoder's output into a log-density.

A likelihood owns any parameters of its own (a learned per-feature scale) and says
which inputs it can score. ``n_params`` is how many numbers per feature it needs from
the decoder: the decoder's output has ``n_params * n_features`` columns, one block of
``n_features`` per parameter.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from ._numerics import float32

_LOG_2PI = math.log(2.0 * math.pi)


class BernoulliLikelihood(nn.Module):
    """Independent Bernoulli pixels; the decoder outputs logits.

    ``log_prob`` is exact for binary ``x``. For grey values in ``[0, 1]`` it is the
    cross-entropy, which is not a normalised density: binarize data before scoring.
    """

    data_range = (0.0, 1.0)
    n_params = 1

    def __init__(self, n_features=None):
        super().__init__()  # no parameters: n_features is taken for a common signature

    @float32
    def log_prob(self, x, logits):
        # The logits form avoids log(0) where sigmoid saturates in float32.
        return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)

    @float32
    def mean(self, logits):
        return torch.sigmoid(logits)

    @float32
    def sample(self, logits, generator=None):
        return torch.bernoulli(torch.sigmoid(logits), generator=generator)


class GaussianLikelihood(nn.Module):
    """Gaussian with the decoder's output as mean and a learned per-feature scale."""

    data_range = (-math.inf, math.inf)
    n_params = 1
    log_scale_range = (-7.0, 5.0)

    def __init__(self, n_features):
        super().__init__()
        self.log_scale = nn.Parameter(torch.zeros(n_features))

    def _log_scale(self):
        return self.log_scale.clamp(*self.log_scale_range)

    @float32
    def log_prob(self, x, loc):
        log_scale = self._log_scale()
        sq = ((x - loc) * torch.exp(-log_scale)) ** 2
        return -(0.5 * (sq + _LOG_2PI) + log_scale).sum(-1)

    @float32
    def mean(self, loc):
        return loc

    @float32
    def sample(self, loc, generator=None):
        noise = torch.randn(loc.shape, generator=generator, dtype=loc.dtype, device=loc.device)
        return loc + noise * torch.exp(self._log_scale())


class DiscretizedLogisticLikelihood(nn.Module):
    """Discretized logistic over 256 levels ``k / 255`` (PixelCNN++ style), 8-bit pixels.

    The decoder gives each pixel a location and a log-scale (``n_params = 2``), as the
    VampPrior and Exemplar VAE code do for grey and colour images. Inputs in ``[0, 1]``
    are rounded to the nearest level. The two end bins take the tails of the
    logistic, so the 256 probabilities sum to exactly one.
    """

    data_range = (0.0, 1.0)
    n_params = 2
    n_levels = 256
    log_scale_range = (-7.0, 2.0)

    def __init__(self, n_features=None):
        super().__init__()  # no parameters: n_features is taken for a common signature

    def _split(self, params):
        loc, log_scale = params.chunk(2, dim=-1)
        return loc, log_scale.clamp(*self.log_scale_range)

    @float32
    def log_prob(self, x, params):
        loc, log_scale = self._split(params)
        last = self.n_levels - 1
        x = torch.round(x * last) / last
        inv_scale = torch.exp(-log_scale)
        half_bin = 0.5 / last
        upper = (x + half_bin - loc) * inv_scale
        lower = (x - half_bin - loc) * inv_scale
        log_cdf_upper = F.logsigmoid(upper)
        log_sf_lower = F.logsigmoid(-lower)
        # log(sigmoid(u) - sigmoid(l)) computed stably as
        # log_sigmoid(u) + log(1 - exp(l - u)) + log_sigmoid(-l).
        interior = log_cdf_upper + log_sf_lower + torch.log(-torch.expm1(lower - upper))
        log_p = torch.where(x <= 0.0, log_cdf_upper, interior)
        log_p = torch.where(x >= 1.0, log_sf_lower, log_p)
        return log_p.sum(-1)

    @float32
    def mean(self, params):
        return self._split(params)[0].clamp(0.0, 1.0)

    @float32
    def sample(self, params, generator=None):
        loc, log_scale = self._split(params)
        u = torch.rand(loc.shape, generator=generator, dtype=loc.dtype, device=loc.device)
        u = u.clamp(1e-6, 1 - 1e-6)
        x = loc + torch.exp(log_scale) * (torch.log(u) - torch.log1p(-u))
        last = self.n_levels - 1
        return torch.round(x.clamp(0.0, 1.0) * last) / last


#: ``likelihood`` name -> its class; each is built from ``n_features`` and says the
#: range of data it models in ``data_range``, which the estimator checks inputs against.
LIKELIHOODS = {
    "bernoulli": BernoulliLikelihood,
    "gaussian": GaussianLikelihood,
    "logistic": DiscretizedLogisticLikelihood,
}
