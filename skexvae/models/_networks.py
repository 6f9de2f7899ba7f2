"""Encoder and decoder networks: the paper's gated MLP (section 5, supplement B).

Modules here map tensors to tensors and know nothing of priors, likelihoods or
scikit-learn, so that other architectures can replace them behind the same contract:

* an encoder maps ``x`` of shape ``(n, n_features)`` to ``(mean, log_var)``, both of
  shape ``(n, n_components)``, and exposes ``mean(x)`` alone, which the exemplar
  prior calls on many exemplars per step and must therefore be cheap;
* a decoder maps ``z`` of shape ``(n, n_components)`` to the likelihood's
  parameters, shape ``(n, n_features)``.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn


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


def _gated_stack(in_features, hidden_layer_sizes):
    layers = []
    for width in hidden_layer_sizes:
        layers.append(GatedDense(in_features, width))
        in_features = width
    return nn.Sequential(*layers), in_features


class MLPEncoder(nn.Module):
    """Gated MLP encoder for ``q(z|x) = N(mean(x), diag(exp(log_var(x))))``.

    The log-variance is squashed into ``[-6, 2]`` as in the reference code, which keeps
    early training from collapsing or exploding the posterior variance.
    """

    log_var_range = (-6.0, 2.0)

    def __init__(self, n_features, n_components, hidden_layer_sizes=(300, 300)):
        super().__init__()
        self.body, width = _gated_stack(n_features, hidden_layer_sizes)
        self.mean_head = nn.Linear(width, n_components)
        self.log_var_head = nn.Linear(width, n_components)

    def forward(self, x):
        h = self.body(x)
        log_var = self.log_var_head(h).clamp(*self.log_var_range)
        return self.mean_head(h), log_var

    def mean(self, x):
        return self.mean_head(self.body(x))


class MLPDecoder(nn.Module):
    """Gated MLP decoder: ``z`` to one output per feature (logits, means, ...)."""

    def __init__(self, n_components, n_features, hidden_layer_sizes=(300, 300)):
        super().__init__()
        self.body, width = _gated_stack(n_components, hidden_layer_sizes)
        self.head = nn.Linear(width, n_features)

    def forward(self, z):
        return self.head(self.body(z))


def he_initialize(module, generator):
    """He-normal weights and zero biases on every ``Linear``, drawn from ``generator``.

    Drawing from an explicit generator (not torch's global one) keeps ``fit``
    reproducible under ``random_state`` without touching the user's global seed.
    """
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            std = math.sqrt(2.0 / layer.in_features)
            with torch.no_grad():
                layer.weight.normal_(0.0, std, generator=generator)
                if layer.bias is not None:
                    layer.bias.zero_()
