"""Networks of the two-level models (HVAE, ConvHVAE) beyond the top encoder."""

import torch
from torch import nn

from ._networks import GatedDense, GaussianHead


class LowerEncoder(nn.Module):
    """``q(z1|x, z2)``: features of ``x`` and of ``z2`` joined by a gated dense layer.

    Parameters
    ----------
    embed : nn.Module
        Flat rows of ``x`` to ``features_width`` features (a gated dense layer for the
        HVAE, a conv stack for the ConvHVAE).
    features_width : int
    n_components : int
        Size of ``z1`` and of ``z2``.
    width : int
        Width of the joint layer.
    """

    def __init__(self, embed, features_width, n_components, width):
        super().__init__()
        self.embed = embed
        self.z2_embedding = GatedDense(n_components, features_width)
        self.joint = GatedDense(2 * features_width, width)
        self.head = GaussianHead(width, n_components)

    def forward(self, features, z2):
        return self.head(self.joint(torch.cat([features, self.z2_embedding(z2)], dim=-1)))


class TwoLevelDecoder(nn.Module):
    """``p(x|z1, z2)``: each latent through a gated dense layer, joined, then ``output``."""

    def __init__(self, n_components, width, output):
        super().__init__()
        self.z1_embedding = GatedDense(n_components, width)
        self.z2_embedding = GatedDense(n_components, width)
        self.output = output

    def forward(self, z1, z2):
        return self.output(torch.cat([self.z1_embedding(z1), self.z2_embedding(z2)], dim=-1))
