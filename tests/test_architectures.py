"""Architectures of issue 8: HVAE, ConvHVAE, colour conv model, user-supplied networks."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.datasets import load_sample_images
from sklearn.feature_extraction.image import extract_patches_2d
from sklearn.model_selection import GridSearchCV
from torch import nn

from skexvae import ExemplarVAE
from skexvae.models import TwoLevelVAE

ARCHITECTURES = ["mlp", "hvae", "conv", "convhvae", "pixelsnail"]
SMALL = {"n_components": 4, "hidden_layer_sizes": (32,), "n_pseudo_inputs": 10}


@pytest.fixture(scope="module")
def binary_digits(digits):
    X, _ = digits
    return (X > 0.5).astype(np.float32)


@pytest.fixture(scope="module")
def digits_28(digits):
    """Digits-like 28x28 grey inputs: the 8x8 digits upsampled, pixel-replicated and cropped."""
    X, _ = digits
    images = X[:120].reshape(-1, 8, 8).repeat(4, axis=1).repeat(4, axis=2)[:, 2:30, 2:30]
    return np.ascontiguousarray(images.reshape(len(X[:120]), 784))


@pytest.fixture(scope="module")
def colour_patches():
    """8-bit colour patches, 3x8x8 channels first, from scikit-learn's sample images."""
    images = load_sample_images().images
    patches = np.concatenate(
        [extract_patches_2d(image, (8, 8), max_patches=150, random_state=0) for image in images]
    )
    return (patches.transpose(0, 3, 1, 2).reshape(len(patches), -1) / 255.0).astype(np.float32)


@pytest.mark.parametrize("prior", ["exemplar", "vamp", "gaussian"])
@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_shapes_and_iwae_above_elbo(binary_digits, architecture, prior):
    X_train, X_test = binary_digits[:200], binary_digits[1500:1540]
    vae = ExemplarVAE(
        architecture=architecture, prior=prior, max_iter=5, random_state=0, **SMALL
    ).fit(X_train)
    assert vae.transform(X_test).shape == (40, 4)
    assert vae.inverse_transform(vae.transform(X_test[:3])).shape == (3, 64)
    X_new, component = vae.sample(5, random_state=0)
    assert X_new.shape == (5, 64) and set(np.unique(X_new)) <= {0.0, 1.0}
    assert component.shape == (5,)
    X_near, source = vae.sample_from_exemplars(X_test[:2], n_samples=3, random_state=0)
    assert X_near.shape == (6, 64) and source.tolist() == [0, 0, 0, 1, 1, 1]
    # Each seed shares its draws across rows: average the noisy S = 1 bound over many.
    elbo = np.mean([_score(vae, X_test, 1, seed) for seed in range(30)])
    iwae = np.mean([_score(vae, X_test, 100, seed) for seed in range(3)])
    assert np.isfinite(elbo) and iwae > elbo + 0.1, (elbo, iwae)


def _score(vae, X, n_samples, seed):
    return vae.set_params(n_importance_samples=n_samples, random_state=seed).score(X)


def test_two_level_models_have_two_latents(binary_digits):
    vae = ExemplarVAE(architecture="hvae", max_iter=1, random_state=0, **SMALL)
    vae.fit(binary_digits[:100])
    assert isinstance(vae.model_, TwoLevelVAE)
    assert vae.model_.noise_dim == 2 * vae.n_components


def test_two_level_bound_is_the_joint_importance_weight(binary_digits):
    """log w = log p(x|z1,z2) + log p(z1|z2) + log p(z2) - log q(z1|x,z2) - log q(z2|x)."""
    vae = ExemplarVAE(architecture="hvae", prior="gaussian", max_iter=1, random_state=0, **SMALL)
    model = vae.fit(binary_digits[:100]).model_
    x = torch.from_numpy(binary_digits[100:103])
    torch.manual_seed(0)
    mean2, log_var2 = model.encoder(x)
    z2 = mean2 + torch.exp(0.5 * log_var2) * torch.randn_like(mean2)
    eps1 = torch.randn_like(mean2)
    reconstruction, kl = model.log_weights(x, z2, mean2, log_var2, model.log_prior(z2), eps1)

    def normal(z, mean, log_var):
        dist = torch.distributions.Normal(mean, torch.exp(0.5 * log_var))
        return dist.log_prob(z).sum(-1)

    mean1, log_var1 = model.lower_encoder(model.lower_encoder.embed(x), z2)
    z1 = mean1 + torch.exp(0.5 * log_var1) * eps1
    p_mean1, p_log_var1 = model.lower_prior(z2)
    logits = model.decoder(z1, z2)
    log_px = torch.distributions.Bernoulli(logits=logits).log_prob(x).sum(-1)
    log_pz2 = normal(z2, torch.zeros_like(z2), torch.zeros_like(z2))
    expected = (
        log_px
        + normal(z1, p_mean1, p_log_var1)
        + log_pz2
        - normal(z1, mean1, log_var1)
        - normal(z2, mean2, log_var2)
    )
    torch.testing.assert_close(reconstruction - kl, expected, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("architecture", ["hvae", "convhvae"])
def test_scoring_in_sample_slices_matches_scoring_whole_rows(binary_digits, architecture):
    vae = ExemplarVAE(architecture=architecture, max_iter=1, random_state=0, **SMALL)
    vae.set_params(n_importance_samples=30).fit(binary_digits[:100])
    whole = vae.score_samples(binary_digits[100:104])
    vae.model_.elements_per_sample = 2**22 // 7  # seven samples per chunk
    np.testing.assert_allclose(vae.score_samples(binary_digits[100:104]), whole, rtol=1e-5)


def test_convhvae_fits_28x28_inputs_and_round_trips_through_pickle(digits_28):
    vae = ExemplarVAE(
        architecture="convhvae",
        n_components=8,
        hidden_layer_sizes=(64,),
        n_neighbors=5,
        max_iter=2,
        n_importance_samples=10,
        random_state=0,
    ).fit(digits_28[:100])
    assert vae.model_.encoder.body.image_shape == (1, 28, 28)
    assert len(vae.loss_curve_) == 2 and np.isfinite(vae.loss_curve_).all()
    loaded = pickle.loads(pickle.dumps(vae))
    X = digits_28[100:110]
    np.testing.assert_array_equal(loaded.transform(X), vae.transform(X))
    np.testing.assert_array_equal(loaded.score_samples(X), vae.score_samples(X))
    np.testing.assert_array_equal(loaded.sample(3)[0], vae.sample(3)[0])


def test_colour_conv_model_with_discretized_logistic(colour_patches):
    vae = ExemplarVAE(
        architecture="conv",
        image_shape=(3, 8, 8),
        likelihood="logistic",
        n_components=8,
        hidden_layer_sizes=(64,),
        max_iter=4,
        batch_size=50,
        n_importance_samples=10,
        random_state=0,
    ).fit(colour_patches[:250])
    assert vae.loss_curve_[-1] < vae.loss_curve_[0]
    X_new, _ = vae.sample(6, random_state=0)
    assert X_new.shape == (6, 192)
    levels = X_new * 255
    np.testing.assert_allclose(levels, np.round(levels), atol=1e-3)
    assert X_new.min() >= 0 and X_new.max() <= 1
    # Log-probabilities of 8-bit data: a discrete likelihood can never exceed 0 per pixel.
    assert (vae.score_samples(colour_patches[250:260]) < 0).all()


def test_image_shape_must_match_the_features(binary_digits):
    with pytest.raises(ValueError, match=r"image_shape=\(3, 8, 8\) has 192 values .* 64"):
        ExemplarVAE(architecture="conv", image_shape=(3, 8, 8), **SMALL).fit(binary_digits[:50])
    with pytest.raises(ValueError, match="three positive integers"):
        ExemplarVAE(architecture="convhvae", image_shape=(8, 8), **SMALL).fit(binary_digits[:50])
    with pytest.raises(ValueError, match="needs image_shape"):
        ExemplarVAE(architecture="conv", **SMALL).fit(binary_digits[:50, :60])


def test_rectangular_images_with_explicit_shape(binary_digits):
    def codes(shape):
        vae = ExemplarVAE(
            architecture="convhvae", image_shape=shape, max_iter=1, random_state=0, **SMALL
        )
        return vae.fit(binary_digits[:60]).transform(binary_digits[:2])

    wide = codes((1, 4, 16))
    assert wide.shape == (2, 4) and np.isfinite(wide).all()
    # The same pixels read as another shape are other images: the shape is used.
    assert not np.allclose(wide, codes((1, 16, 4)))


def test_grid_search_over_sigma_and_M_for_two_level_models(binary_digits):
    search = GridSearchCV(
        ExemplarVAE(
            architecture="hvae", max_iter=2, n_importance_samples=5, random_state=0, **SMALL
        ),
        {"sigma": [0.5, 1.0], "M": [0.5, 20]},
        cv=2,
    ).fit(binary_digits[:120])
    scores = search.cv_results_["mean_test_score"]
    assert np.isfinite(scores).all()
    # Each setting reaches the model: four settings, four scores.
    assert len(np.unique(np.round(scores, 6))) == 4
    assert search.best_estimator_.sigma_ == search.best_params_["sigma"]


def test_warm_start_refuses_a_changed_architecture(binary_digits):
    vae = ExemplarVAE(max_iter=1, warm_start=True, **SMALL).fit(binary_digits[:60])
    with pytest.raises(ValueError, match="architecture"):
        vae.set_params(architecture="hvae").fit(binary_digits[:60])


class TinyEncoder(nn.Module):
    """A user's encoder without a ``mean`` method."""

    def __init__(self, n_features, n_components):
        super().__init__()
        self.hidden = nn.Sequential(nn.Linear(n_features, 16), nn.Tanh())
        self.heads = nn.Linear(16, 2 * n_components)

    def forward(self, x):
        mean, log_var = self.heads(self.hidden(x)).chunk(2, dim=-1)
        return mean, log_var.clamp(-6, 2)


def tiny_decoder(n_components, n_outputs):
    return nn.Sequential(nn.Linear(n_components, 16), nn.Tanh(), nn.Linear(16, n_outputs))


def test_user_supplied_encoder_module_and_decoder_factory(binary_digits):
    encoder = TinyEncoder(64, 4)
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    vae = ExemplarVAE(
        n_components=4,
        encoder=encoder,
        decoder=tiny_decoder,
        max_iter=5,
        n_neighbors=5,
        n_importance_samples=10,
        random_state=0,
    ).fit(binary_digits[:200])
    assert vae.loss_curve_[-1] < vae.loss_curve_[0]
    # The module the user passed is neither trained nor re-initialised by fit.
    for key, value in encoder.state_dict().items():
        torch.testing.assert_close(value, before[key])
    assert vae.model_.encoder.encoder.hidden[0].weight.data_ptr() != (
        encoder.hidden[0].weight.data_ptr()
    )
    # It starts from the weights given; the factory from random_state.
    again = ExemplarVAE(
        n_components=4,
        encoder=encoder,
        decoder=tiny_decoder,
        max_iter=5,
        n_neighbors=5,
        n_importance_samples=10,
        random_state=0,
    )
    np.testing.assert_array_equal(again.fit(binary_digits[:200]).loss_curve_, vae.loss_curve_)
    loaded = pickle.loads(pickle.dumps(vae))
    np.testing.assert_array_equal(
        loaded.score_samples(binary_digits[300:305]), vae.score_samples(binary_digits[300:305])
    )


def test_user_decoder_needs_two_outputs_per_feature_for_logistic(binary_digits):
    decoder = tiny_decoder(4, 64)  # one per feature: wrong for the logistic likelihood
    with pytest.raises(ValueError, match=r"decoder must return \(n, 128\)"):
        ExemplarVAE(n_components=4, likelihood="logistic", decoder=decoder).fit(binary_digits[:50])


def test_user_encoder_with_wrong_outputs_is_named(binary_digits):
    encoder = nn.Linear(64, 4)  # returns one tensor, not (mean, log_var)
    with pytest.raises(ValueError, match="encoder must return \\(mean, log_var\\)"):
        ExemplarVAE(n_components=4, encoder=encoder).fit(binary_digits[:50])
    broken = nn.Sequential(nn.Linear(10, 4))  # expects 10 features
    with pytest.raises(ValueError, match=r"networks failed on a batch of shape \(2, 64\)"):
        ExemplarVAE(n_components=4, encoder=broken).fit(binary_digits[:50])


def test_user_decoder_is_for_one_level_architectures(binary_digits):
    with pytest.raises(ValueError, match="one-level architecture"):
        ExemplarVAE(architecture="hvae", decoder=tiny_decoder, **SMALL).fit(binary_digits[:50])


def test_pickle_of_an_incompatible_network_is_a_clear_error(binary_digits):
    vae = ExemplarVAE(max_iter=1, random_state=0, **SMALL).fit(binary_digits[:60])
    state = vae.__getstate__()
    # Weights saved under another layout, as an older version named the encoder's heads.
    weights = dict(state["_model_state"])
    weights["encoder.mean_head.weight"] = weights.pop("encoder.head.mean.weight")
    state["_model_state"] = weights
    with pytest.raises(ValueError, match="incompatible skexvae version"):
        ExemplarVAE().__setstate__(state)


@pytest.mark.parametrize("architecture", ["hvae", "convhvae"])
def test_early_stopping_and_knn_scoring_with_two_latent_layers(binary_digits, architecture):
    vae = ExemplarVAE(
        architecture=architecture, max_iter=2, early_stopping=True, random_state=0, **SMALL
    ).fit(binary_digits[:200])
    assert len(vae.validation_scores_) == 2 and np.isfinite(vae.validation_scores_).all()
    X = binary_digits[300:330]
    exact = vae.score_samples(X)
    nearest = vae.set_params(score_neighbors=5).score_samples(X)
    # Fewer exemplars in the prior's sum, the same draws: a lower bound, row by row.
    assert (nearest <= exact + 1e-4).all() and (nearest < exact - 1e-3).any()
