"""Convolutional networks of the ConvHVAE (Tomczak & Welling 2018, used by the paper).

Rows stay flat outside: each network reshapes its input to ``image_shape =
(channels, height, width)`` (channels first, row-major, as torch lays out images) and
returns flat rows, so the estimator remains a scikit-learn transformer on feature
vectors and the exemplar prior sees the same contract as with the MLP.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from ._networks import GatedDense, GaussianEncoder

# (out_channels, kernel, stride) of the VampPrior code's encoder stacks; padding keeps
# the size at stride 1 and halves it (rounding up) at stride 2.
ENCODER_LAYERS = ((32, 7, 1), (32, 3, 2), (64, 5, 1), (64, 3, 2), (6, 3, 1))
SMALL_KERNEL_LAYERS = ((32, 3, 1), (32, 3, 2), (64, 3, 1), (64, 3, 2), (6, 3, 1))
DECODER_CHANNELS = 64
DECODER_DEPTH = 4


class GatedConv2d(nn.Module):
    """Gated convolution ``h = conv1(x) * sigmoid(conv2(x))`` as one conv and ``F.glu``."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1):
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels, 2 * out_channels, kernel_size, stride, padding=kernel_size // 2
        )

    def forward(self, x):
        return F.glu(self.conv(x), dim=1)


class ConvFeatures(nn.Module):
    """Gated conv stack from flat rows of ``image_shape`` to flat feature rows."""

    def __init__(self, image_shape, layers=ENCODER_LAYERS):
        super().__init__()
        self.image_shape = tuple(image_shape)
        channels, height, width = self.image_shape
        convs = []
        for out_channels, kernel, stride in layers:
            convs.append(GatedConv2d(channels, out_channels, kernel, stride))
            channels = out_channels
            height, width = -(-height // stride), -(-width // stride)
        self.convs = nn.Sequential(*convs)
        self.out_features = channels * height * width
        # The first layer's gated output at full resolution is the widest activation.
        self.elements_per_row = 2 * layers[0][0] * math.prod(self.image_shape[1:])

    def forward(self, x):
        return self.convs(to_images(x, self.image_shape)).flatten(1)


class ConvEncoder(GaussianEncoder):
    """``q(z|x)`` with the ConvHVAE's top-level convolutional encoder."""

    def __init__(self, image_shape, n_components):
        body = ConvFeatures(image_shape)
        super().__init__(body, body.out_features, n_components)
        self.elements_per_row = body.elements_per_row


class ConvOutput(nn.Module):
    """Dense features to per-pixel likelihood parameters through full-resolution convs.

    A gated dense layer paints a ``image_shape`` map, gated 3x3 convolutions refine it
    and a 1x1 convolution gives ``n_params`` numbers per pixel and channel, returned
    flat as ``n_params`` blocks of ``channels * height * width`` (the likelihood's
    layout).
    """

    def __init__(self, in_features, image_shape, n_params):
        super().__init__()
        self.image_shape = tuple(image_shape)
        channels = self.image_shape[0]
        self.dense = GatedDense(in_features, math.prod(self.image_shape))
        convs = [GatedConv2d(channels, DECODER_CHANNELS, 3)]
        for _ in range(DECODER_DEPTH - 1):
            convs.append(GatedConv2d(DECODER_CHANNELS, DECODER_CHANNELS, 3))
        self.convs = nn.Sequential(*convs)
        self.head = nn.Conv2d(DECODER_CHANNELS, n_params * channels, 1)

    def forward(self, h):
        image = to_images(self.dense(h), self.image_shape)
        return self.head(self.convs(image)).flatten(1)


class ConvDecoder(nn.Module):
    """One-level convolutional decoder: ``z`` through a gated dense layer to :class:`ConvOutput`."""

    def __init__(self, n_components, image_shape, n_params, width=300):
        super().__init__()
        self.dense = GatedDense(n_components, width)
        self.output = ConvOutput(width, image_shape, n_params)

    def forward(self, z):
        return self.output(self.dense(z))


def to_images(rows, image_shape):
    """Flat rows as a batch of images, channels-last in memory.

    oneDNN's CPU convolutions ran the decoder's conv stack about 20 % faster on
    channels-last tensors (5 % of a whole ConvHVAE step; measured, 2 cores); the
    values and the shape are unchanged.
    """
    return rows.reshape(-1, *image_shape).contiguous(memory_format=torch.channels_last)
