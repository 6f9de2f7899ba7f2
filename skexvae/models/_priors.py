"""Priors ``p(z)`` over the latent space: standard Gaussian, VampPrior, exemplar prior.

Each prior is a :class:`Prior`: a small module with ``log_prob`` and ``frozen`` (its
density) and one interface shared by all, which is all the rest of the package
calls:

- ``sample(n_samples, encoder, generator, device, centres)`` draws ``z ~ p(z)`` and
  returns the mixture component each draw came from (0 for a single Gaussian);
- ``sample_around(mean, log_var, generator)`` draws the latent of a new row around an
  input whose posterior is ``N(mean, exp(log_var))``: ``q(z|x)`` for a parametric
  prior, the exemplar's kernel ``r(z|x)`` for the exemplar prior (paper Fig. 3);
- ``start_from(X, generator)`` sets what starts from training rows before training;
- ``scalars`` names the learned scalars worth reporting (the exemplar prior's sigma);
- ``mixture_components(encoder, centres)`` gives the prior's components as
  Gaussians ``(means, log_vars)``, which attribution ranks and the latent novelty
  score sums;
- ``uses_exemplars`` says whether the density needs the exemplars' latent means
  (``centres``); the others ignore them.

The Gaussian and VampPrior compute everything themselves (the VampPrior borrows the
encoder to embed its pseudo-inputs). The exemplar prior is a Parzen window whose
centres are the encoder means of exemplars; *which* exemplars a step compares against
(all of them, an M-subset, retrieved neighbours) is the caller's choice, so the module
takes the centres as an argument and stays a pure density.

A new prior is one subclass here (or in a module of its own) and one entry in
``skexvae.models.PRIORS``.
"""

import math

import torch
from torch import nn

from ._numerics import float32, logsumexp

_LOG_2PI = math.log(2.0 * math.pi)


@float32
def log_normal_diag(z, mean, log_var):
    """Log-density of a diagonal Gaussian, summed over the last axis."""
    return -0.5 * (_LOG_2PI + log_var + (z - mean) ** 2 * torch.exp(-log_var)).sum(-1)


@float32
def log_normal_diag_pairs(z, means, log_vars, offset=None):
    """``log N(z_b | means_k, diag exp(log_vars_k))`` for every pair, shape (B, K).

    Expanding the square, ``sum_d (z_d - m_d)^2 / v_d = [z, z^2] . [-2 m / v, 1 / v]
    + sum_d m_d^2 / v_d``, gives the whole matrix from one matrix product with inner
    size 2d, instead of (B, K, d) broadcasts: measured on the VampPrior's training
    step (B = 100, K = 500, d = 40), those elementwise passes and their backward took
    8 of its 29 ms. Centring both sides on the mean of ``means`` keeps the expanded
    terms small, so float32 loses little to cancellation; the offset cancels exactly.
    ``offset`` replaces that centre where the ``means`` vary from call to call.
    """
    if offset is None:
        offset = means.detach().mean(0)
    z_c, m_c = z - offset, means - offset
    inv_var = torch.exp(-log_vars)
    per_component = log_vars.sum(1) + (m_c**2 * inv_var).sum(1)
    weights = torch.cat([m_c * inv_var, -0.5 * inv_var], dim=1)
    features = torch.cat([z_c, z_c**2], dim=1)
    d = z.shape[1]
    return torch.addmm(-0.5 * (d * _LOG_2PI + per_component), features, weights.T)


@float32
def posterior_sample(mean, log_var, generator=None):
    """``z ~ N(mean, exp(log_var))``, one draw per row (the reparameterisation)."""
    noise = torch.randn(mean.shape, generator=generator, device=mean.device)
    return mean + noise * torch.exp(0.5 * log_var)


class Prior(nn.Module):
    """What every prior provides; the defaults are those of a parametric prior."""

    uses_exemplars = False

    def frozen(self, encoder=None):
        """``z -> log p(z)`` for fixed weights, for scoring many chunks of ``z``."""
        return lambda z: self.log_prob(z, encoder)

    def sample_around(self, mean, log_var, generator=None):
        """``z ~ q(z|x) = N(mean, exp(log_var))``, one per row."""
        return posterior_sample(mean, log_var, generator)

    def start_from(self, X, generator=None):
        """Start the parameters that are set from training rows ``X``: none here."""

    @property
    def scalars(self):
        """Learned scalars by name, reported in progress lines and fitted attributes."""
        return {}

    def mixture_components(self, encoder=None, centres=None):
        """The equally weighted Gaussian components ``(means, log_vars)`` of the prior,
        ``log_vars`` of shape (K, d) or (1, d) when they share one; None for a prior
        that is no mixture of Gaussians."""
        return None


class GaussianPrior(Prior):
    """``p(z) = N(0, I)``: the standard VAE baseline."""

    def __init__(self, n_components):
        super().__init__()
        self.n_components = n_components

    @property
    def elements_per_row(self):
        return self.n_components

    @float32
    def log_prob(self, z, encoder=None):
        return -0.5 * (z**2 + _LOG_2PI).sum(-1)

    def sample(self, n_samples, encoder=None, generator=None, device="cpu", centres=None):
        z = torch.randn(n_samples, self.n_components, generator=generator, device=device)
        return z, torch.zeros(n_samples, dtype=torch.long, device=device)

    def mixture_components(self, encoder=None, centres=None):
        """One component, ``N(0, I)``."""
        zeros = torch.zeros(1, self.n_components)
        return zeros, zeros


class VampPrior(Prior):
    """Mixture of variational posteriors at learned pseudo-inputs (Tomczak & Welling 2018).

    ``p(z) = 1/K sum_k q(z | u_k)``. The pseudo-inputs ``u_k`` start at training
    points (:meth:`start_from`), which keeps them on the data's scale whatever the
    likelihood, and away from the degenerate all-equal start.
    """

    def __init__(self, pseudo_inputs, n_components):
        super().__init__()
        self.pseudo_inputs = nn.Parameter(pseudo_inputs.clone())
        self.n_components = n_components

    @property
    def elements_per_row(self):
        return len(self.pseudo_inputs)  # log_prob's (rows, K) component matrix

    def log_prob(self, z, encoder):
        return _mixture_log_prob(z, *encoder(self.pseudo_inputs))

    @torch.no_grad()
    def frozen(self, encoder):
        """``z -> log p(z)`` for fixed weights, the pseudo-inputs encoded once.

        Scoring calls the prior on many chunks; re-encoding K pseudo-inputs for each
        dominated the time with a convolutional encoder.
        """
        means, log_vars = encoder(self.pseudo_inputs)
        return lambda z: _mixture_log_prob(z, means, log_vars)

    def sample(self, n_samples, encoder, generator=None, device="cpu", centres=None):
        index = torch.randint(
            len(self.pseudo_inputs), (n_samples,), generator=generator, device=device
        )
        return posterior_sample(*encoder(self.pseudo_inputs[index]), generator), index

    def mixture_components(self, encoder, centres=None):
        """The posteriors ``q(z|u_k)`` of the pseudo-inputs."""
        return encoder(self.pseudo_inputs)

    @torch.no_grad()
    def start_from(self, X, generator=None):
        """Pseudo-inputs at rows of ``X`` (a tensor or MappedRows) drawn with ``generator``."""
        rows = torch.randint(
            len(X), (len(self.pseudo_inputs),), generator=generator, device=X.device
        )
        self.pseudo_inputs.copy_(X[rows])


@float32
def _mixture_log_prob(z, means, log_vars):
    log_components = log_normal_diag_pairs(z, means, log_vars)
    return logsumexp(log_components, dim=1) - math.log(len(means))


class ExemplarPrior(Prior):
    """Parzen window in latent space: ``p(z) = 1/M sum_m N(z | c_m, sigma^2 I)`` (eq. 8).

    Parameters
    ----------
    n_components : int
        Latent dimensionality.
    sigma : "learn" or float
        ``"learn"`` makes ``log sigma^2`` a trained parameter (one shared scalar, as
        in the paper); a float fixes sigma.
    """

    # Elements of the (rows, M) kernel per block (4 MiB of float32). Measured on 2 CPU
    # cores scoring 1000 samples against 50k exemplars: 101 ms, against 115 ms at
    # 2 MiB and 283 ms at 8 MiB, where the block's passes no longer stay in cache.
    block_elements = 2**20
    uses_exemplars = True

    def __init__(self, n_components, sigma="learn"):
        super().__init__()
        self.n_components = n_components
        if sigma == "learn":
            self.log_var = nn.Parameter(torch.zeros(()))
        else:
            self.register_buffer("log_var", torch.tensor(2.0 * math.log(sigma)))

    @property
    def sigma(self):
        return float(torch.exp(0.5 * self.log_var.detach()))

    @property
    def scalars(self):
        return {"sigma": self.sigma}

    def frozen(self, centres):
        """``z -> log p(z)`` over all of ``centres``."""
        return lambda z: self.log_prob(z, centres)

    def mixture_components(self, encoder=None, centres=None):
        """The kernels ``N(c_n, sigma^2 I)`` at the exemplars' latents ``centres``."""
        return centres, self.log_var.detach().expand(1, self.n_components)

    @float32
    def log_prob(self, z, centres, exclude=None, n_total=None):
        """``log p(z)`` under the mixture of ``N(centres[m], sigma^2 I)``.

        Parameters
        ----------
        z : Tensor of shape (B, d)
        centres : Tensor of shape (M, d)
        exclude : LongTensor of shape (B,), optional
            For row ``b``, the column of ``centres`` to leave out (leave-one-out,
            eq. 10), or -1 for none.
        n_total : int, optional
            Number of components the mixture averages over, when ``centres`` holds
            only some of them (retrieved neighbours, eq. 9): the sum over the given
            centres is then a lower bound. By default, the centres a row keeps.

        Returns
        -------
        Tensor of shape (B,)
        """
        # Centring both sides removes most float32 cancellation in the expansion
        # ||z - c||^2 = ||z||^2 - 2 z.c + ||c||^2; the offset cancels exactly.
        offset = centres.detach().mean(0)
        c_c = centres - offset
        inv_var = torch.exp(-self.log_var)
        centre_term = (c_c**2).sum(1) * (-0.5 * inv_var)
        n_kept = torch.full((len(z),), float(len(centres)), device=z.device)
        if exclude is not None:
            n_kept[exclude >= 0] -= 1.0
        if n_total is not None:
            n_kept = torch.full_like(n_kept, float(n_total))
        # Row blocks keep the (rows, M) kernel within the CPU's cache whatever B and M.
        rows = max(1, self.block_elements // max(len(centres), 1))
        log_sums = []
        for start in range(0, len(z), rows):
            block = slice(start, start + rows)
            ex_b = None if exclude is None else exclude[block]
            log_sums.append(self._block_log_sum(z[block] - offset, c_c, centre_term, inv_var, ex_b))
        log_norm = 0.5 * self.n_components * (_LOG_2PI + self.log_var)
        return torch.cat(log_sums) - log_norm - torch.log(n_kept)

    @staticmethod
    def _block_log_sum(z_c, c_c, centre_term, inv_var, exclude):
        """``log sum_m exp(-||z - c_m||^2 / (2 sigma^2))`` for one block of rows."""
        # One fused matrix product gives (z.c - ||c||^2 / 2) / sigma^2 for every pair;
        # the per-row -||z||^2 / (2 sigma^2) is added after the logsumexp, once per row
        # instead of once per pair.
        log_kernel = torch.addmm(centre_term, z_c * inv_var, c_c.T)
        if exclude is not None:
            rows = torch.nonzero(exclude >= 0).squeeze(1)
            log_kernel = log_kernel.index_put(
                (rows, exclude[rows]), log_kernel.new_tensor(-math.inf)
            )
        return logsumexp(log_kernel, dim=1) - 0.5 * inv_var * (z_c**2).sum(1)

    @float32
    def log_prob_neighbours(self, z, centres, neighbours):
        """Lower bound of ``log p(z)`` from each row's own neighbours (eq. 9).

        Parameters
        ----------
        z : Tensor of shape (B, d)
        centres : Tensor of shape (N, d)
            All centres; the mixture averages over all N.
        neighbours : LongTensor of shape (B, k)
            Rows of ``centres`` to sum for each ``z``; -1 entries are skipped.
        """
        near = centres[neighbours.clamp_min(0)]
        sq_dist = ((z.unsqueeze(1) - near) ** 2).sum(-1)
        log_kernel = (-0.5 * sq_dist * torch.exp(-self.log_var)).masked_fill(
            neighbours < 0, -math.inf
        )
        log_norm = 0.5 * self.n_components * (_LOG_2PI + self.log_var)
        return logsumexp(log_kernel, dim=1) - log_norm - math.log(len(centres))

    def sample(self, n_samples, encoder=None, generator=None, device="cpu", centres=None):
        """An exemplar uniformly from ``centres`` (N, d), then ``z`` from its kernel."""
        index = torch.randint(len(centres), (n_samples,), generator=generator, device=device)
        return self.sample_around(centres[index], None, generator), index

    @float32
    def sample_around(self, mean, log_var=None, generator=None):
        """One ``z ~ r(z|x) = N(mean, sigma^2 I)`` per row (eq. 7); ``log_var`` is unused."""
        noise = torch.randn(mean.shape, generator=generator, device=mean.device)
        return mean + noise * torch.exp(0.5 * self.log_var.detach())
