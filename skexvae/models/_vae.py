"""The VAE module: encoder, decoder, likelihood and prior wired together.

It evaluates the pieces of the bound for a batch; it does not know how batches,
exemplar subsets or importance samples are chosen (see ``skexvae._objective``).
"""

import torch
from torch import nn

from ._likelihoods import LIKELIHOODS
from ._networks import MLPDecoder, MLPEncoder
from ._priors import ExemplarPrior, GaussianPrior, VampPrior, log_normal_diag


class VAE(nn.Module):
    """A VAE whose prior may be a Parzen window over encoded exemplars.

    Parameters
    ----------
    encoder, decoder : nn.Module
        See ``skexvae.models._networks`` for their contract.
    likelihood : nn.Module
        ``log_prob(x, decoder_output)``, ``mean`` and ``sample``.
    prior : GaussianPrior, VampPrior or ExemplarPrior
    """

    def __init__(self, encoder, decoder, likelihood, prior):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.likelihood = likelihood
        self.prior = prior

    @property
    def uses_exemplars(self):
        return isinstance(self.prior, ExemplarPrior)

    def log_prior(self, z, centres=None, exclude=None, n_total=None):
        """``log p(z)``; the exemplar prior needs its centres (and LOO columns)."""
        if self.uses_exemplars:
            return self.prior.log_prob(z, centres, exclude, n_total)
        return self.prior.log_prob(z, self.encoder)

    def prior_elements_per_row(self, centres=None):
        """Size of the intermediate that ``log_prior`` builds per row, for chunking.

        The exemplar prior bounds its (rows, M) kernel itself, in row blocks.
        """
        if self.uses_exemplars:
            return self.prior.n_components
        return self.prior.elements_per_row

    def log_weights(self, x, z, mean, log_var, log_prior):
        """``log p(x|z) + log p(z) - log q(z|x)`` per row, and its two parts.

        Returns the reconstruction term ``log p(x|z)`` and ``log q(z|x) - log p(z)``
        (the one-sample KL estimate), whose difference is the log importance weight.
        """
        reconstruction = self.likelihood.log_prob(x, self.decoder(z))
        kl = log_normal_diag(z, mean, log_var) - log_prior
        return reconstruction, kl


def build_vae(spec, pseudo_inputs=None):
    """Construct a :class:`VAE` from a plain-data ``spec`` (it is also what a pickle keeps).

    ``spec`` holds ``n_features``, ``n_components``, ``hidden_layer_sizes``,
    ``likelihood``, ``prior``, ``sigma`` and ``n_pseudo_inputs``. ``pseudo_inputs``
    initialises a VampPrior; left out, they are zeros awaiting a ``load_state_dict``.
    """
    n_features, n_components = spec["n_features"], spec["n_components"]
    hidden = tuple(spec["hidden_layer_sizes"])
    encoder = MLPEncoder(n_features, n_components, hidden)
    decoder = MLPDecoder(n_components, n_features, hidden)
    likelihood = LIKELIHOODS[spec["likelihood"]](n_features)
    if spec["prior"] == "exemplar":
        prior = ExemplarPrior(n_components, spec["sigma"])
    elif spec["prior"] == "vamp":
        if pseudo_inputs is None:
            pseudo_inputs = torch.zeros(spec["n_pseudo_inputs"], n_features)
        prior = VampPrior(pseudo_inputs, n_components)
    else:
        prior = GaussianPrior(n_components)
    return VAE(encoder, decoder, likelihood, prior)
