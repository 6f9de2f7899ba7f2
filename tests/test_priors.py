"""The priors and likelihoods against brute-force NumPy/SciPy computations."""

import math

import numpy as np
import pytest
import torch
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from skexvae._subsampling import ExemplarSubsampler
from skexvae.models import (
    DiscretizedLogisticLikelihood,
    ExemplarPrior,
    GaussianLikelihood,
    GaussianPrior,
    MLPEncoder,
    VampPrior,
    log_normal_diag,
)
from skexvae.models._numerics import logsumexp as skexvae_logsumexp
from skexvae.models._priors import log_normal_diag_pairs


def parzen_log_density(z, centres, sigma, exclude=None):
    """Eq. 8 by brute force in float64, one row at a time."""
    out = []
    for b, zb in enumerate(z):
        keep = np.ones(len(centres), bool)
        if exclude is not None and exclude[b] >= 0:
            keep[exclude[b]] = False
        sq = ((zb - centres[keep]) ** 2).sum(1)
        d = z.shape[1]
        out.append(
            logsumexp(-sq / (2 * sigma**2))
            - d * math.log(math.sqrt(2 * math.pi) * sigma)
            - math.log(keep.sum())
        )
    return np.array(out)


# None: one block; 120: blocks of 2 rows against 50 centres, the last one shorter.
@pytest.mark.parametrize("block_elements", [None, 120])
@pytest.mark.parametrize("sigma", [0.3, 1.7])
def test_exemplar_prior_matches_brute_force_parzen(sigma, block_elements):
    rng = np.random.default_rng(0)
    z = rng.normal(size=(7, 5)) * 2 + 3
    centres = rng.normal(size=(50, 5)) * 2 + 3
    prior = ExemplarPrior(5, sigma=sigma)
    if block_elements is not None:
        prior.block_elements = block_elements
    got = prior.log_prob(
        torch.tensor(z, dtype=torch.float32), torch.tensor(centres, dtype=torch.float32)
    )
    np.testing.assert_allclose(
        got.numpy(), parzen_log_density(z, centres, sigma), rtol=1e-5, atol=1e-4
    )


@pytest.mark.parametrize("block_elements", [None, 40])
def test_exemplar_prior_leave_one_out_matches_brute_force(block_elements):
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(20, 3)) * 5  # well separated at sigma = 0.5
    z = centres[[2, 5, 9]] + 0.01 * rng.normal(size=(3, 3))
    exclude = np.array([2, -1, 9])
    prior = ExemplarPrior(3, sigma=0.5)
    if block_elements is not None:
        prior.block_elements = block_elements
    got = prior.log_prob(
        torch.tensor(z, dtype=torch.float32),
        torch.tensor(centres, dtype=torch.float32),
        torch.tensor(exclude),
    )
    np.testing.assert_allclose(got.numpy(), parzen_log_density(z, centres, 0.5, exclude), rtol=1e-5)
    # Leaving out the nearest centre must lower the density a lot for these near-copies.
    full = prior.log_prob(
        torch.tensor(z, dtype=torch.float32), torch.tensor(centres, dtype=torch.float32)
    )
    assert got[0] < full[0] - 5 and got[2] < full[2] - 5
    assert got[1] == pytest.approx(full[1].item())


def test_logsumexp_matches_torch_through_underflow_and_infinities():
    rng = np.random.default_rng(2)
    # Spreads of hundreds of nats put most terms below exp's float32 normal range.
    x = torch.tensor(rng.normal(size=(6, 300)) * 200, dtype=torch.float32, requires_grad=True)
    ours = skexvae_logsumexp(x, dim=1)
    torch.testing.assert_close(ours, torch.logsumexp(x, dim=1))
    (grad_ours,) = torch.autograd.grad(ours.sum(), x)
    (grad_torch,) = torch.autograd.grad(torch.logsumexp(x, dim=1).sum(), x)
    torch.testing.assert_close(grad_ours, grad_torch, atol=1e-4, rtol=1e-4)
    edge = torch.tensor([[-math.inf, -math.inf], [0.0, -math.inf], [-1e4, -1e4 - 1.0]])
    torch.testing.assert_close(skexvae_logsumexp(edge, dim=1), torch.logsumexp(edge, dim=1))
    assert skexvae_logsumexp(edge, dim=1)[0] == -math.inf


def test_learned_sigma_receives_gradient():
    prior = ExemplarPrior(2, sigma="learn")
    z, centres = torch.randn(4, 2), torch.randn(6, 2)
    prior.log_prob(z, centres).sum().backward()
    assert prior.log_var.grad is not None and prior.log_var.grad.abs() > 0


class _IdentityMean(torch.nn.Module):
    def mean(self, x):
        return x.clone()


@pytest.mark.parametrize("leave_one_out", [True, False])
def test_subsampler_size_and_leave_one_out_mask(leave_one_out):
    n, m = 40, 15
    X = torch.arange(n, dtype=torch.float32).unsqueeze(1)  # row i encodes to i
    sampler = ExemplarSubsampler(X, m, leave_one_out, torch.Generator().manual_seed(0))
    batch = torch.arange(n)
    for _ in range(20):
        centres, exclude, _ = sampler(_IdentityMean(), batch)
        ids = centres.squeeze(1).long().tolist()
        assert len(set(ids)) == len(ids)  # drawn without replacement
        if not leave_one_out:
            assert len(ids) == m and exclude is None
            continue
        assert len(ids) == m + 1
        for b in range(n):
            kept = [e for col, e in enumerate(ids) if col != exclude[b]]
            assert len(kept) == m and b not in kept  # exactly M others, never itself
            if b in ids:
                assert ids[exclude[b]] == b


def test_subsampler_gives_each_row_a_uniform_subset_of_the_others():
    n, m, draws = 12, 4, 3000
    X = torch.arange(n, dtype=torch.float32).unsqueeze(1)
    sampler = ExemplarSubsampler(X, m, True, torch.Generator().manual_seed(0))
    counts = torch.zeros(n)
    for _ in range(draws):
        centres, exclude, _ = sampler(_IdentityMean(), torch.tensor([0]))
        keep = torch.ones(m + 1, dtype=torch.bool)
        keep[exclude[0]] = False
        counts[centres.squeeze(1).long()[keep]] += 1
    assert counts[0] == 0
    # Eq. 11: every other exemplar is in row 0's subset with probability M / (N - 1).
    expected = draws * m / (n - 1)
    assert (counts[1:] - expected).abs().max() < 4 * (expected * (1 - m / (n - 1))) ** 0.5


def test_gaussian_prior_is_standard_normal():
    z = np.random.default_rng(2).normal(size=(5, 3))
    got = GaussianPrior(3).log_prob(torch.tensor(z)).numpy()
    np.testing.assert_allclose(got, multivariate_normal(np.zeros(3)).logpdf(z), rtol=1e-10)


def test_vamp_prior_is_mixture_of_posteriors():
    torch.manual_seed(0)
    encoder = MLPEncoder(6, 2, (8,))
    pseudo = torch.rand(4, 6)
    prior = VampPrior(pseudo, 2)
    z = torch.randn(3, 2)
    means, log_vars = encoder(pseudo)
    expected = []
    for zb in z.numpy():
        comps = [
            multivariate_normal(m, np.diag(np.exp(v))).logpdf(zb)
            for m, v in zip(means.detach().numpy(), log_vars.detach().numpy(), strict=True)
        ]
        expected.append(logsumexp(comps) - math.log(4))
    np.testing.assert_allclose(prior.log_prob(z, encoder).detach().numpy(), expected, rtol=1e-4)


def test_only_the_vamp_prior_starts_from_training_rows():
    X = torch.rand(50, 6)
    prior = VampPrior(torch.zeros(8, 6), 2)
    prior.start_from(X, torch.Generator().manual_seed(0))
    # Each pseudo-input is one of the rows, and the generator alone chose which.
    matches = (prior.pseudo_inputs.detach()[:, None] == X[None]).all(-1)
    assert (matches.sum(1) == 1).all()
    again = VampPrior(torch.zeros(8, 6), 2)
    again.start_from(X, torch.Generator().manual_seed(0))
    torch.testing.assert_close(again.pseudo_inputs, prior.pseudo_inputs)
    for other in (GaussianPrior(2), ExemplarPrior(2)):
        before = {k: v.clone() for k, v in other.state_dict().items()}
        other.start_from(X, torch.Generator().manual_seed(0))
        assert all(torch.equal(v, before[k]) for k, v in other.state_dict().items())
    assert ExemplarPrior(2, sigma=0.5).scalars == {"sigma": pytest.approx(0.5)}
    assert GaussianPrior(2).scalars == {} == prior.scalars


def test_discretized_logistic_sums_to_one_over_256_levels():
    likelihood = DiscretizedLogisticLikelihood()
    levels = torch.arange(256, dtype=torch.float32).unsqueeze(1) / 255
    for loc in (-0.2, 0.0, 0.37, 1.0, 1.3):
        for log_scale in (-6.0, -3.0, 0.5):
            params = torch.tensor([[loc, log_scale]]).expand(256, 2)
            log_p = likelihood.log_prob(levels, params)
            assert torch.exp(log_p.double()).sum().item() == pytest.approx(1.0, abs=1e-4)


def test_gaussian_likelihood_matches_scipy():
    likelihood = GaussianLikelihood(3)
    with torch.no_grad():
        likelihood.log_scale.copy_(torch.tensor([0.0, -1.0, 0.5]))
    x, loc = torch.randn(4, 3), torch.randn(4, 3)
    cov = np.diag(np.exp(2 * np.array([0.0, -1.0, 0.5])))
    expected = [
        multivariate_normal(m, cov).logpdf(v) for v, m in zip(x.numpy(), loc.numpy(), strict=True)
    ]
    np.testing.assert_allclose(likelihood.log_prob(x, loc).detach().numpy(), expected, rtol=1e-5)


def test_pairwise_normal_log_density_matches_the_broadcast_in_float32():
    rng = np.random.default_rng(3)
    # Codes away from the origin and variances across the encoder's clamp [-6, 2].
    means = torch.tensor(rng.normal(3.0, 1.0, size=(30, 40)), dtype=torch.float32)
    log_vars = torch.tensor(rng.uniform(-6, 2, size=(30, 40)), dtype=torch.float32)
    z = means[rng.integers(0, 30, 50)] + 0.1 * torch.randn(50, 40)
    exact = log_normal_diag(z.double().unsqueeze(1), means.double(), log_vars.double())
    got = log_normal_diag_pairs(z, means, log_vars)
    torch.testing.assert_close(got.double(), exact, rtol=1e-5, atol=5e-3)
