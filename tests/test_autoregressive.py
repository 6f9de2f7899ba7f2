"""The autoregressive observation model (architecture="pixelsnail"): a normalised,
causal density over pixels, decoded pixel by pixel, behind the likelihood interface."""

import itertools
import pickle

import numpy as np
import pytest
import torch

from skexvae import ExemplarVAE
from skexvae._checks import AUTO_FREE_NATS
from skexvae.models import LIKELIHOODS
from skexvae.models._autoregressive import AutoregressiveLikelihood


def observation(likelihood, image_shape, seed=0):
    torch.manual_seed(seed)
    model = AutoregressiveLikelihood(
        LIKELIHOODS[likelihood](int(np.prod(image_shape))), image_shape
    )
    # Larger weights than the initial ones, so that conditionals depend strongly on
    # the pixels before them and a leak or a lost term would show.
    with torch.no_grad():
        for parameter in model.network.parameters():
            parameter.mul_(3.0)
    return model.eval()


def conditioning(model, n_rows, seed=1):
    generator = torch.Generator().manual_seed(seed)
    n_features = int(np.prod(model.image_shape))
    return torch.randn(n_rows, model.n_params * n_features, generator=generator)


@pytest.mark.parametrize(
    ("likelihood", "image_shape", "levels"),
    [
        ("bernoulli", (1, 2, 3), (0.0, 1.0)),  # 64 binary images
        ("bernoulli", (2, 1, 2), (0.0, 1.0)),  # two channels per pixel
        ("logistic", (1, 1, 2), tuple(np.arange(256) / 255)),  # 65 536 8-bit images
    ],
)
def test_probabilities_of_every_image_sum_to_one(likelihood, image_shape, levels):
    model = observation(likelihood, image_shape)
    images = torch.tensor(
        list(itertools.product(levels, repeat=int(np.prod(image_shape)))), dtype=torch.float32
    )
    for h in conditioning(model, 3):
        with torch.no_grad():
            log_p = model.log_prob(images, h.expand(len(images), -1))
        assert torch.logsumexp(log_p.double(), 0).item() == pytest.approx(0.0, abs=1e-4)
        # Not the uniform distribution: the network's parameters matter.
        assert log_p.std() > 0.1


@pytest.mark.parametrize("image_shape", [(1, 4, 5), (2, 3, 3)])
def test_a_pixel_changes_no_conditional_before_it_nor_its_own(image_shape):
    model = observation("bernoulli", image_shape)
    channels, height, width = image_shape
    n_pixels = height * width
    generator = torch.Generator().manual_seed(2)
    x = torch.bernoulli(torch.full((1, channels * n_pixels), 0.5), generator=generator)
    h = conditioning(model, 1)

    def conditionals(images):
        with torch.no_grad():
            return model.conditionals(images, h).reshape(channels, n_pixels)

    before = conditionals(x)
    later_changed = 0
    for pixel in range(n_pixels):
        flipped = x.reshape(channels, n_pixels).clone()
        flipped[:, pixel] = 1.0 - flipped[:, pixel]
        after = conditionals(flipped.reshape(1, -1))
        torch.testing.assert_close(after[:, : pixel + 1], before[:, : pixel + 1])
        later_changed += int(not torch.allclose(after[:, pixel + 1 :], before[:, pixel + 1 :]))
    # ... while later conditionals do see it.
    assert later_changed == n_pixels - 1


def test_decoding_pixel_by_pixel_agrees_with_one_masked_pass():
    model = observation("bernoulli", (1, 4, 5))
    h = conditioning(model, 3)
    with torch.no_grad():
        decoded = model.mean(h)
        # Each decoded pixel is its conditional mean given the decoded pixels before it.
        teacher_forced = torch.sigmoid(model.conditionals(decoded, h))
    # The row path sums the convolutions in another order: float32 rounding, ~1e-6.
    torch.testing.assert_close(decoded, teacher_forced, rtol=1e-4, atol=1e-5)
    draws = model.sample(h, torch.Generator().manual_seed(0))
    assert set(draws.unique().tolist()) <= {0.0, 1.0}
    again = model.sample(h, torch.Generator().manual_seed(0))
    torch.testing.assert_close(draws, again)


@pytest.mark.parametrize("image_shape", [(1, 4, 5), (2, 9, 3)])
def test_a_row_computed_alone_from_the_cache_equals_the_whole_pass(image_shape):
    # Taller than the first kernel's reach (3 rows), so that rows far from the top
    # read the cache through every layer.
    # In float64, so that the comparison sees the algorithm, not float32 rounding
    # (which differs with the thread count, up to ~1e-5 of the outputs' scale).
    model = observation("logistic", image_shape).double()
    x = torch.rand(2, int(np.prod(image_shape)), generator=torch.Generator().manual_seed(4))
    h = conditioning(model, 2).double()
    images, condition = x.double().reshape(2, *image_shape), model._condition(h)
    with torch.no_grad():
        whole = model.network(images, condition)
        cache = model.network.row_cache(images)
        rows = [
            model.network.forward_row(images, condition, row, cache)
            for row in range(image_shape[1])
        ]
    torch.testing.assert_close(torch.cat(rows, dim=2), whole, rtol=1e-9, atol=1e-9)


def test_sampling_follows_the_conditionals():
    # Two pixels: the second's frequency given the first must match its conditional.
    model = observation("bernoulli", (1, 1, 2))
    h = conditioning(model, 1).expand(20_000, -1)
    x = model.sample(h, torch.Generator().manual_seed(3))
    with torch.no_grad():
        log_p = model.log_prob(
            torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]), h[:4]
        )
    expected = torch.exp(log_p)
    observed = torch.stack(
        [((x[:, 0] == a) & (x[:, 1] == b)).float().mean() for a in (0, 1) for b in (0, 1)]
    )
    torch.testing.assert_close(observed, expected, atol=0.015, rtol=0)


def test_pixelsnail_estimator_fits_scores_samples_and_pickles():
    rng = np.random.default_rng(0)
    X = (rng.random((120, 36)) < 0.3).astype(np.float32)
    vae = ExemplarVAE(
        architecture="pixelsnail",
        image_shape=(1, 6, 6),
        n_components=4,
        hidden_layer_sizes=(16,),
        max_iter=3,
        n_importance_samples=5,
        random_state=0,
    ).fit(X)
    assert isinstance(vae.model_.likelihood, AutoregressiveLikelihood)
    # free_nats="auto" keeps a KL floor against posterior collapse under this decoder.
    assert vae.free_nats_ == AUTO_FREE_NATS["pixelsnail"] > 0
    assert vae.loss_curve_[-1] < vae.loss_curve_[0]
    scores = vae.score_samples(X[:4])
    assert np.isfinite(scores).all() and (scores < 0).all()
    samples, _ = vae.sample(3, random_state=0)
    assert samples.shape == (3, 36) and set(np.unique(samples)) <= {0.0, 1.0}
    generated, source = vae.sample_from_exemplars(X[:2], n_samples=2, random_state=0)
    assert generated.shape == (4, 36) and source.tolist() == [0, 0, 1, 1]
    # The masks are rebuilt, not pickled; the loaded model scores the same.
    assert not any(name.endswith("mask") for name in vae.model_.state_dict())
    loaded = pickle.loads(pickle.dumps(vae))
    np.testing.assert_allclose(loaded.score_samples(X[:4]), scores, rtol=1e-5)
