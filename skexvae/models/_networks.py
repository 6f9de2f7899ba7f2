"""Encoder and decoder networks: the paper's gated MLP (section 5, supplement B).

Modules here map tensors to tensors and know nothing of priors, likelihoods or
scikit-learn, so that other architectures can replace them behind the same contract:

* an encoder maps ``x`` of shape ``(n, n_features)`` to ``(mean, log_var)``, both of
  shape ``(n, n_components)``, and exposes ``mean(x)`` alone, which the exemplar
  prior calls on many exemplars per step and must therefore be cheap;
* a decoder maps ``z`` of shape ``(n, n_components)`` to the likelihood's
  parameters, shape ``(n, n_outputs)`` with ``n_outputs = n_params * n_features``.

Inputs are always flat rows; convolutional networks (``_conv.py``) reshape them.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from ._numerics import float32


class GatedDense(nn.Module):
    """Gated linear unit ``h = (W1 x + b1) * sigmoid(W2 x + b2)``.

    Both halves come out of one ``Linear`` of twice the width, so each layer is a
    single matrix product instead of two, and ``F.glu`` gates them in one kernel
    (forward and backward) instead of a split, a sigmoid, a product and a concatenation.
    """

    def __init__(self, in_features, out_features):
        super().__init__()
        self.out_features = out_features
        self.linear = nn.Linear(in_features, 2 * out_features)

    def forward(self, x):
        return F.glu(self.linear(x), dim=-1)


def gated_stack(in_features, hidden_layer_sizes):
    layers = []
    for width in hidden_layer_sizes:
        layers.append(GatedDense(in_features, width))
        in_features = width
    return nn.Sequential(*layers), in_features


class GaussianHead(nn.Module):
    """Linear heads for the mean and log-variance of a diagonal Gaussian.

    The log-variance is squashed into ``[-6, 2]`` as in the reference code, which keeps
    early training from collapsing or exploding the variance. The heads run in float32
    under mixed precision: the posterior and the exemplar prior's centres need its
    precision, and these products are small.
    """

    log_var_range = (-6.0, 2.0)

    def __init__(self, in_features, n_components):
        super().__init__()
        self.mean = nn.Linear(in_features, n_components)
        self.log_var = nn.Linear(in_features, n_components)

    @float32
    def forward(self, h):
        return self.mean(h), self.log_var(h).clamp(*self.log_var_range)

    @float32
    def means(self, h):
        return self.mean(h)


class GaussianEncoder(nn.Module):
    """``q(z|x) = N(mean(x), diag(exp(log_var(x))))`` from any feature network ``body``."""

    def __init__(self, body, width, n_components):
        super().__init__()
        self.body = body
        self.head = GaussianHead(width, n_components)

    def forward(self, x):
        return self.head(self.body(x))

    def mean(self, x):
        return self.head.means(self.body(x))


class MLPEncoder(GaussianEncoder):
    """Gated MLP encoder for ``q(z|x)``."""

    def __init__(self, n_features, n_components, hidden_layer_sizes=(300, 300)):
        body, width = gated_stack(n_features, hidden_layer_sizes)
        super().__init__(body, width, n_components)


class MLPDecoder(nn.Module):
    """Gated MLP decoder: ``z`` to ``n_outputs`` likelihood parameters (logits, means, ...)."""

    def __init__(self, n_components, n_outputs, hidden_layer_sizes=(300, 300)):
        super().__init__()
        self.body, width = gated_stack(n_components, hidden_layer_sizes)
        self.head = nn.Linear(width, n_outputs)

    def forward(self, z):
        return self.head(self.body(z))


def he_initialize(module, generator, keep=()):
    """He-normal weights and zero biases on every ``Linear`` and ``Conv2d``.

    Drawing from an explicit generator (not torch's global one) keeps ``fit``
    reproducible under ``random_state`` without touching the user's global seed.
    Layers inside the modules of ``keep`` (the user's own networks) are left as given.
    """
    kept = {id(layer) for part in keep for layer in part.modules()}
    for layer in module.modules():
        if isinstance(layer, nn.Linear | nn.Conv2d) and id(layer) not in kept:
            fan_in = layer.weight[0].numel()
            std = math.sqrt(2.0 / fan_in)
            with torch.no_grad():
                layer.weight.normal_(0.0, std, generator=generator)
                if layer.bias is not None:
                    layer.bias.zero_()
