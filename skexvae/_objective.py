"""The bound, per training step and for evaluation.

Training (eq. 5, 11, 12): one reparameterised sample per input, the exemplar prior
over a fresh random M-subset of the training exemplars, each input's own exemplar left
out. Evaluation (section 5): IWAE over ``n_samples`` importance samples with every
exemplar in the prior, no leave-one-out and no subsampling, in chunks so that memory
stays bounded whatever N and the number of samples.
"""

import math

import torch

# Largest intermediate tensor (elements) an evaluation chunk may create: 16 MiB in float32.
ELEMENT_BUDGET = 2**22


def reparameterize(mean, log_var, generator):
    noise = torch.randn(mean.shape, generator=generator, device=mean.device)
    return mean + noise * torch.exp(0.5 * log_var)


class ExemplarSubsampler:
    """Chooses the exemplar-prior centres of one training step.

    Draws ``M`` exemplars without replacement (eq. 11), encodes them with the current
    encoder, with gradient (the prior shares the posterior's mean network), and, with
    leave-one-out (eq. 10), tells the prior which column is each input's own exemplar.

    Parameters
    ----------
    X : Tensor of shape (N, n_features)
        The training exemplars; ``batch_index`` in :meth:`__call__` indexes its rows.
    M : int
        Subset size, ``1 <= M <= N``.
    leave_one_out : bool
    """

    def __init__(self, X, M, leave_one_out):
        self.X = X
        self.M = M
        self.leave_one_out = leave_one_out

    def __call__(self, encoder, batch_index, generator):
        n = len(self.X)
        subset = torch.randperm(n, generator=generator, device=self.X.device)[: self.M]
        centres = encoder.mean(self.X[subset])
        if not self.leave_one_out:
            return centres, None
        # Column of each exemplar in this step's subset, -1 if it was not drawn: the
        # LOO mask then costs O(batch) instead of comparing batch x M indices.
        column = torch.full((n,), -1, dtype=torch.long, device=self.X.device)
        column[subset] = torch.arange(self.M, device=self.X.device)
        return centres, column[batch_index]


def training_loss(model, x, batch_index, beta, generator, subsampler=None):
    """Negative beta-weighted bound of one minibatch, and its mean parts for reporting."""
    mean, log_var = model.encoder(x)
    z = reparameterize(mean, log_var, generator)
    centres, exclude = (None, None)
    if model.uses_exemplars:
        centres, exclude = subsampler(model.encoder, batch_index, generator)
    reconstruction, kl = model.log_weights(
        x, z, mean, log_var, model.log_prior(z, centres, exclude)
    )
    loss = (beta * kl - reconstruction).mean()
    return loss, reconstruction.detach().mean(), kl.detach().mean()


@torch.no_grad()
def encode_means(encoder, X):
    """``mu(x)`` for every row of ``X``, in chunks."""
    rows = max(1, ELEMENT_BUDGET // max(X.shape[1], 1))
    return torch.cat([encoder.mean(chunk) for chunk in X.split(rows)])


def _log_prior_chunked(model, z, centres):
    n_centres = 1 if centres is None else len(centres)
    rows = max(1, ELEMENT_BUDGET // n_centres)
    return torch.cat([model.log_prior(chunk, centres) for chunk in z.split(rows)])


@torch.no_grad()
def log_importance_weights(model, X, noise, centres=None):
    """``log p(x|z_s) + log p(z_s) - log q(z_s|x)`` for ``z_s = mu + sd * noise[s]``.

    Parameters
    ----------
    X : Tensor of shape (n, n_features)
    noise : Tensor of shape (S, n_components)
        Standard normal draws, shared by all rows of ``X``: each row's estimate is then
        independent of which other rows are scored with it.
    centres : Tensor of shape (N, n_components), optional
        Exemplar means, for the exemplar prior.

    Returns
    -------
    Tensor of shape (n, S)
    """
    n_samples = len(noise)
    points_per_chunk = max(1, ELEMENT_BUDGET // (n_samples * (X.shape[1] + noise.shape[1])))
    chunks = []
    for x in X.split(points_per_chunk):
        mean, log_var = model.encoder(x)
        z = mean.unsqueeze(1) + torch.exp(0.5 * log_var).unsqueeze(1) * noise
        z = z.reshape(-1, noise.shape[1])
        x_rep = x.repeat_interleave(n_samples, dim=0)
        mean_rep = mean.repeat_interleave(n_samples, dim=0)
        log_var_rep = log_var.repeat_interleave(n_samples, dim=0)
        log_prior = _log_prior_chunked(model, z, centres)
        reconstruction, kl = model.log_weights(x_rep, z, mean_rep, log_var_rep, log_prior)
        chunks.append((reconstruction - kl).reshape(len(x), n_samples))
    return torch.cat(chunks)


def iwae(model, X, noise, centres=None):
    """IWAE estimate of ``log p(x)`` per row (Burda et al. 2015); S = 1 gives the ELBO."""
    log_w = log_importance_weights(model, X, noise, centres)
    return torch.logsumexp(log_w, dim=1) - math.log(len(noise))
