"""An autoregressive observation model: PixelSNAIL-style ``p(x | h)`` over the pixels.

``p(x | h) = prod_i p(x_i | x_<i, h)`` in raster order, where ``h`` is the decoder's
conditioning map (a function of the latents, one block of ``n_params`` maps per image
channel) and each conditional is a base likelihood's (Bernoulli, discretized logistic,
Gaussian) with parameters from a causal network of the pixels before ``i``: masked
gated convolutions (PixelCNN, van den Oord et al. 2016) and causal self-attention over
every earlier position (PixelSNAIL, Chen et al. 2018), as the paper's fourth
architecture uses on top of the ConvHVAE's two stochastic layers. The channels of one
pixel are independent given the earlier pixels and ``h``.

It has the likelihood interface (``log_prob(x, params)``, ``mean(params)``,
``sample(params)``, ``n_params``, ``data_range``), which is the observation-model seam:
the VAEs, the priors, RAT and the estimator use it unchanged, with ``params`` the
decoder's output. Scoring is one masked pass that sees ``x`` (teacher forcing);
``mean`` and ``sample`` decode pixel by pixel: one pass of the network per pixel over
the current row only, reading every layer's earlier rows from a cache, since the
features of a finished row no longer change.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from ._conv import to_images

#: Conditioning maps per image channel that the decoder paints for the network.
CONDITION_CHANNELS = 4
#: Width, depth and attention of the causal network (small enough for a CPU).
CHANNELS = 64
N_BLOCKS = 4
ATTENTION_EVERY = 2
KEY_CHANNELS = 16
FIRST_KERNEL = 7


class MaskedConv2d(nn.Conv2d):
    """A convolution that sees only the positions before its centre in raster order.

    ``include_centre=False`` (the first layer, on pixels) leaves the centre out, so
    that a pixel never sees itself; later layers, on features that already see only
    earlier pixels, include it. Rows above are seen whole, the centre row up to the
    centre.
    """

    def __init__(self, in_channels, out_channels, kernel_size, include_centre):
        super().__init__(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        centre = kernel_size // 2
        mask = torch.zeros(kernel_size, kernel_size)
        mask[:centre] = 1.0
        mask[centre, : centre + int(include_centre)] = 1.0
        # A constant of the architecture: rebuilt, not stored in state_dict.
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, x):
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)

    def forward_row(self, inputs, row):
        """Output row ``row`` alone, from the rows up to it of ``inputs``.

        The mask zeroes the kernel below its centre, so that the rows above and the
        row itself are all it needs: (n, out_channels, 1, width).
        """
        centre = self.kernel_size[0] // 2
        top = row - centre
        window = inputs[:, :, max(top, 0) : row + 1]
        if top < 0:
            window = F.pad(window, (0, 0, -top, 0))
        weight = (self.weight * self.mask)[:, :, : centre + 1]
        return F.conv2d(window, weight, self.bias, padding=(0, centre))


class CausalBlock(nn.Module):
    """Residual gated masked 3x3 convolution, conditioned on ``h`` by a 1x1 convolution."""

    def __init__(self, channels, condition_channels):
        super().__init__()
        self.conv = MaskedConv2d(channels, 2 * channels, 3, include_centre=True)
        self.condition = nn.Conv2d(condition_channels, 2 * channels, 1)

    def forward(self, features, h):
        return features + F.glu(self.conv(features) + self.condition(h), dim=1)

    def row_state(self, features):
        """What :meth:`forward_row` keeps of earlier rows: its inputs, zeroed."""
        return torch.zeros_like(features)

    def forward_row(self, state, features, h, row):
        """Row ``row`` of :meth:`forward` from that row of its input, ``features``."""
        state[:, :, row : row + 1] = features
        h_row = h[:, :, row : row + 1]
        return features + F.glu(self.conv.forward_row(state, row) + self.condition(h_row), dim=1)


class CausalAttention(nn.Module):
    """Residual self-attention in which each position reads itself and every earlier one.

    The features at a position depend only on the pixels before it, so reading
    positions up to and including the query's own keeps the network causal.
    """

    def __init__(self, channels, key_channels=KEY_CHANNELS):
        super().__init__()
        self.query = nn.Conv2d(channels, key_channels, 1)
        self.key = nn.Conv2d(channels, key_channels, 1)
        self.value = nn.Conv2d(channels, channels, 1)
        self.out = nn.Conv2d(channels, channels, 1)

    def forward(self, features, h=None):
        """``h`` is not read: the signature is a :class:`CausalBlock`'s."""
        read = F.scaled_dot_product_attention(
            *(_sequence(conv, features) for conv in (self.query, self.key, self.value)),
            is_causal=True,
        )
        return self._residual(features, read)

    def row_state(self, features):
        """What :meth:`forward_row` keeps of earlier rows: their keys and values, zeroed."""
        n, channels, height, width = features.shape
        positions = height * width
        keys = features.new_zeros(n, positions, self.key.out_channels)
        return keys, features.new_zeros(n, positions, channels)

    def forward_row(self, state, features, h, row):
        """Row ``row`` of :meth:`forward` from that row of its input: its positions read
        the keys and values of every earlier row and of their own row up to themselves."""
        keys, values = state
        width = features.shape[-1]
        end = (row + 1) * width
        keys[:, row * width : end] = _sequence(self.key, features)
        values[:, row * width : end] = _sequence(self.value, features)
        earlier = torch.arange(end, device=features.device)
        own = row * width + torch.arange(width, device=features.device)
        read = F.scaled_dot_product_attention(
            _sequence(self.query, features),
            keys[:, :end],
            values[:, :end],
            attn_mask=earlier[None, :] <= own[:, None],
        )
        return self._residual(features, read)

    def _residual(self, features, read):
        return features + self.out(read.transpose(1, 2).reshape(features.shape))


def _sequence(conv, features):
    """A 1x1 convolution's output as (n, positions, channels) in raster order."""
    return conv(features).flatten(2).transpose(1, 2)


class PixelSNAIL(nn.Module):
    """Causal network: images and conditioning maps to per-pixel parameters.

    Parameters
    ----------
    in_channels, condition_channels, out_channels : int
        Channels of the images, of ``h`` and of the parameters per pixel.
    channels, n_blocks, attention_every : int
        Width, number of :class:`CausalBlock` and an attention block after every
        ``attention_every`` of them.
    """

    def __init__(
        self,
        in_channels,
        condition_channels,
        out_channels,
        channels=CHANNELS,
        n_blocks=N_BLOCKS,
        attention_every=ATTENTION_EVERY,
    ):
        super().__init__()
        self.input = MaskedConv2d(in_channels, channels, FIRST_KERNEL, include_centre=False)
        self.blocks = nn.ModuleList(
            CausalBlock(channels, condition_channels) for _ in range(n_blocks)
        )
        self.attention = nn.ModuleList(
            CausalAttention(channels) for _ in range(n_blocks // attention_every)
        )
        self.attention_every = attention_every
        self.head = nn.Conv2d(channels, out_channels, 1)

    def forward(self, images, h):
        features = self.input(images)
        for stage in self._stages():
            features = stage(features, h)
        return self.head(F.elu(features))

    def forward_row(self, images, h, row, cache):
        """Row ``row`` of :meth:`forward` (n, out_channels, 1, width), in one pass over
        that row.

        ``cache`` (from :meth:`row_cache`) holds what each stage keeps of earlier
        rows; this call writes row ``row`` of it and reads the rows before, which must
        be those of the same images. A position's features depend only on the pixels
        before it, so the rows above are final once the pass that decodes their last
        pixel has run.
        """
        features = self.input.forward_row(images, row)
        for stage, state in zip(self._stages(), cache, strict=True):
            features = stage.forward_row(state, features, h, row)
        return self.head(F.elu(features))

    def row_cache(self, images):
        """Every stage's zeroed state, for :meth:`forward_row` on ``images``."""
        n, _, height, width = images.shape
        features = images.new_zeros(n, self.head.in_channels, height, width)
        return [stage.row_state(features) for stage in self._stages()]

    def _stages(self):
        for number, block in enumerate(self.blocks, start=1):
            yield block
            if number % self.attention_every == 0:
                yield self.attention[number // self.attention_every - 1]


class AutoregressiveLikelihood(nn.Module):
    """``p(x | h)`` as a product of ``base`` conditionals from a :class:`PixelSNAIL`.

    Parameters
    ----------
    base : nn.Module
        A per-pixel likelihood (``skexvae.models.LIKELIHOODS``): the form of each
        conditional. Its own parameters (a Gaussian's learned scale) are kept.
    image_shape : tuple (channels, height, width)
    n_params : int, default=CONDITION_CHANNELS
        Conditioning maps per image channel in ``h``: the decoder's output has
        ``n_params * n_features`` columns, as for any likelihood.
    """

    def __init__(self, base, image_shape, n_params=CONDITION_CHANNELS):
        super().__init__()
        self.base = base
        self.image_shape = tuple(image_shape)
        self.n_params = n_params
        channels = self.image_shape[0]
        self.network = PixelSNAIL(channels, n_params * channels, base.n_params * channels)
        # The widest activations per image: a block's gated convolution and its
        # condition, both 2 * CHANNELS maps at full resolution.
        self.elements_per_sample = 4 * CHANNELS * math.prod(self.image_shape[1:])

    @property
    def data_range(self):
        """The inputs the base likelihood models."""
        return self.base.data_range

    def _condition(self, h):
        channels, height, width = self.image_shape
        return h.reshape(-1, self.n_params * channels, height, width)

    def conditionals(self, x, h):
        """The base likelihood's parameters of every pixel given the pixels before it.

        ``x`` (n, n_features) and ``h`` (n, n_params * n_features) are flat rows; the
        result has the base's layout, ``base.n_params`` blocks of ``n_features``.
        """
        images = to_images(x, self.image_shape)
        return self.network(images, self._condition(h)).flatten(1)

    def log_prob(self, x, h):
        """``log p(x | h)``: every conditional in one masked pass over ``x``."""
        return self.base.log_prob(x, self.conditionals(x, h))

    def mean(self, h):
        """Decoded pixel by pixel, each set to its conditional mean given those before."""
        return self._decode(h, self.base.mean)

    def sample(self, h, generator=None):
        """A draw from ``p(x | h)``, pixel by pixel."""
        return self._decode(h, lambda params: self.base.sample(params, generator))

    @torch.no_grad()
    def _decode(self, h, draw):
        channels, height, width = self.image_shape
        condition = self._condition(h)
        images = torch.zeros(len(h), channels, height, width, device=h.device)
        cache = self.network.row_cache(images)
        # The base likelihood reads whole images; only the current pixel's draw is kept.
        params = images.new_zeros(len(h), self.base.n_params * channels, height, width)
        for row in range(height):
            for column in range(width):
                params[:, :, row] = self.network.forward_row(images, condition, row, cache)[:, :, 0]
                values = draw(params.flatten(1)).reshape(-1, channels, height, width)
                images[:, :, row, column] = values[:, :, row, column]
        return images.flatten(1)
