"""The VAE modules: encoder, decoder, likelihood and prior wired together.

They evaluate the pieces of the bound for a batch; they do not know how batches,
exemplar subsets or importance samples are chosen (see ``skexvae._objective``).
The prior always sits on the top latent, whose posterior mean network ``encoder.mean``
also gives the exemplar prior its centres.
"""

import torch
from torch import nn

from ._priors import log_normal_diag


class VAE(nn.Module):
    """A VAE whose prior may be a Parzen window over encoded exemplars.

    Parameters
    ----------
    encoder, decoder : nn.Module
        See ``skexvae.models._networks`` for their contract.
    likelihood : nn.Module
        ``log_prob(x, decoder_output)``, ``mean`` and ``sample``.
    prior : Prior
        Any module with the interface of ``skexvae.models._priors.Prior``.
    elements_per_sample : int
        Size of the largest activation per latent sample, which bounds the rows
        that scoring evaluates at once.
    """

    #: Standard normal draws per sample beyond the top latent's (lower latents).
    n_lower_noise = 0

    def __init__(self, encoder, decoder, likelihood, prior, elements_per_sample):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.likelihood = likelihood
        self.prior = prior
        self.elements_per_sample = elements_per_sample

    @property
    def uses_exemplars(self):
        return self.prior.uses_exemplars

    @property
    def noise_dim(self):
        """Standard normal draws that make one joint latent sample."""
        return self.prior.n_components + self.n_lower_noise

    def log_prior(self, z, centres=None, exclude=None, n_total=None):
        """``log p(z)``; the exemplar prior needs its centres (and LOO columns)."""
        if self.uses_exemplars:
            return self.prior.log_prob(z, centres, exclude, n_total)
        return self.prior.log_prob(z, self.encoder)

    def frozen_log_prior(self, centres=None):
        """``z -> log p(z)`` for fixed weights, for scoring many chunks of ``z``.

        Whatever does not depend on ``z`` (the VampPrior's encoded pseudo-inputs) is
        computed once, here.
        """
        return self.prior.frozen(centres if self.uses_exemplars else self.encoder)

    def prior_elements_per_row(self, centres=None):
        """Size of the intermediate that ``log_prior`` builds per row, for chunking.

        The exemplar prior bounds its (rows, M) kernel itself, in row blocks.
        """
        if self.uses_exemplars:
            return self.prior.n_components
        return self.prior.elements_per_row

    def log_weights(self, x, z, mean, log_var, log_prior, lower_noise=None):
        """``log p(x|z) + log p(z) - log q(z|x)`` per sample, and its two parts.

        ``z`` holds ``S`` samples per row of ``x`` (sample ``s`` of row ``i`` at
        ``i * S + s``), drawn from ``N(mean, exp(log_var))`` of that row. Returns the
        reconstruction term ``log p(x|z)`` and ``log q(z|x) - log p(z)`` (the
        one-sample KL estimate), whose difference is the log importance weight.
        """
        repeats = len(z) // len(x)
        reconstruction = self.likelihood.log_prob(repeat_rows(x, repeats), self.decoder(z))
        kl = log_normal_diag(z, repeat_rows(mean, repeats), repeat_rows(log_var, repeats))
        return reconstruction, kl - log_prior

    def decode(self, z, generator=None):
        """The likelihood's parameters of ``p(x|z)``."""
        return self.decoder(z)


class TwoLevelVAE(VAE):
    """Two stochastic layers: ``q(z2|x) q(z1|x, z2)`` and ``p(z2) p(z1|z2) p(x|z1, z2)``.

    The factorisation of the VampPrior paper's HVAE (Tomczak & Welling 2018). The
    prior ``p(z2)`` (exemplar, VampPrior or Gaussian) is on the top latent ``z2``;
    ``encoder`` is ``q(z2|x)``.

    Parameters
    ----------
    encoder : nn.Module
        ``q(z2|x)`` with the encoder contract.
    lower_encoder : nn.Module
        ``q(z1|x, z2)``: ``embed(x)`` features of ``x`` alone, computed once per input
        however many samples, and ``forward(features, z2) -> (mean, log_var)``.
    lower_prior : nn.Module
        ``p(z1|z2)``: ``forward(z2) -> (mean, log_var)``.
    decoder : nn.Module
        ``forward(z1, z2)`` -> the likelihood's parameters.
    likelihood, prior, elements_per_sample
        As in :class:`VAE`.
    """

    def __init__(
        self, encoder, lower_encoder, lower_prior, decoder, likelihood, prior, elements_per_sample
    ):
        super().__init__(encoder, decoder, likelihood, prior, elements_per_sample)
        self.lower_encoder = lower_encoder
        self.lower_prior = lower_prior
        self.n_lower_noise = prior.n_components

    def log_weights(self, x, z, mean, log_var, log_prior, lower_noise=None):
        """As :meth:`VAE.log_weights`; ``lower_noise`` are the standard normal draws of ``z1``.

        The KL part is ``log q(z1|x,z2) + log q(z2|x) - log p(z1|z2) - log p(z2)``.
        """
        repeats = len(z) // len(x)
        features = repeat_rows(self.lower_encoder.embed(x), repeats)
        mean1, log_var1 = self.lower_encoder(features, z)
        z1 = mean1 + torch.exp(0.5 * log_var1) * lower_noise
        prior_mean1, prior_log_var1 = self.lower_prior(z)
        reconstruction = self.likelihood.log_prob(repeat_rows(x, repeats), self.decoder(z1, z))
        kl = (
            log_normal_diag(z1, mean1, log_var1)
            - log_normal_diag(z1, prior_mean1, prior_log_var1)
            + log_normal_diag(z, repeat_rows(mean, repeats), repeat_rows(log_var, repeats))
            - log_prior
        )
        return reconstruction, kl

    def decode(self, z, generator=None):
        """``p(x|z1, z2)``'s parameters, ``z1`` drawn from ``p(z1|z2)`` (its mean without
        a ``generator``)."""
        mean1, log_var1 = self.lower_prior(z)
        z1 = mean1
        if generator is not None:
            noise = torch.randn(mean1.shape, generator=generator, device=mean1.device)
            z1 = mean1 + torch.exp(0.5 * log_var1) * noise
        return self.decoder(z1, z)


def repeat_rows(t, repeats):
    return t if repeats == 1 else t.repeat_interleave(repeats, dim=0)
