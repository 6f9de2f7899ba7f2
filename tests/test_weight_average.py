"""The moving average of the weights: its update rule, and what the estimator does with it."""

import pickle

import numpy as np
import pytest
import torch
from conftest import FAST
from torch import nn

from skexvae import ExemplarVAE
from skexvae._training import WeightAverage


def _set(module, value):
    with torch.no_grad():
        for p in module.parameters():
            p.fill_(value)


def test_average_follows_the_ramped_decay():
    module = nn.Linear(3, 2)
    _set(module, 0.0)
    average = WeightAverage(module, decay=0.9)
    expected = 0.0
    for t, value in enumerate([1.0, 2.0, 4.0, -1.0, 3.0] * 4):
        _set(module, value)
        average.update()
        decay = min(0.9, (1 + t) / (10 + t))
        expected = decay * expected + (1 - decay) * value
    average.apply()
    for p in module.parameters():
        np.testing.assert_allclose(p.detach().numpy(), expected, rtol=1e-6)
    # The module's own last weights are kept to resume from.
    assert all(float(w.unique()) == 3.0 for w in average.trained.values())


def test_applied_restores_the_trained_weights():
    module = nn.Linear(3, 2)
    _set(module, 0.0)
    average = WeightAverage(module, decay=0.5)
    _set(module, 2.0)
    average.update()
    with average.applied():
        seen = module.weight.detach().clone()
    assert not torch.equal(seen, module.weight.detach())
    assert float(module.weight.unique()) == 2.0


def test_resumed_average_starts_from_the_module_and_trains_from_trained():
    module = nn.Linear(3, 2)
    _set(module, 1.0)  # an earlier run's average
    trained = {n: torch.full_like(p, 5.0) for n, p in module.named_parameters()}
    average = WeightAverage(module, decay=0.5, trained=trained, n_updates=100)
    assert float(module.weight.unique()) == 5.0
    average.update()  # decay 0.5 after 100 updates: halfway from 1 to 5
    average.apply()
    assert float(module.weight.unique()) == pytest.approx(3.0)


def test_zero_decay_is_the_last_weights(small_digits):
    X, _ = small_digits
    last = ExemplarVAE(**FAST, ema_decay=None, random_state=0).fit(X)
    zero = ExemplarVAE(**FAST, ema_decay=0.0, random_state=0).fit(X)
    np.testing.assert_allclose(zero.transform(X), last.transform(X), rtol=1e-5, atol=1e-6)


def test_fitted_model_holds_the_average_and_training_goes_on_from_its_own(small_digits):
    X, _ = small_digits
    # warm_start at the first fit keeps what a later one resumes from.
    averaged = ExemplarVAE(**FAST, warm_start=True, random_state=0).fit(X)
    last = ExemplarVAE(**FAST, ema_decay=None, warm_start=True, random_state=0).fit(X)
    # Same trajectory (the average does not feed back into training), other weights.
    assert averaged.loss_curve_ == last.loss_curve_
    assert not np.allclose(averaged.transform(X), last.transform(X))
    # Turning the average off on a warm start resumes from the trained weights: the
    # continued run follows the run that never averaged.
    more = {"warm_start": True, "max_iter": 2}
    resumed = pickle.loads(pickle.dumps(averaged)).set_params(**more, ema_decay=None).fit(X)
    plain = last.set_params(**more).fit(X)
    assert resumed.loss_curve_ == plain.loss_curve_
    np.testing.assert_allclose(resumed.transform(X), plain.transform(X), rtol=1e-5, atol=1e-6)


def test_early_stopping_scores_the_average(small_digits):
    X, _ = small_digits

    def scores(decay):
        vae = ExemplarVAE(**FAST, early_stopping=True, ema_decay=decay, random_state=0)
        return vae.fit(X).validation_scores_

    last = scores(None)
    np.testing.assert_allclose(scores(0.0), last, rtol=1e-5)
    assert not np.allclose(scores(0.999), last, rtol=1e-5)


def test_invalid_decay_is_refused(small_digits):
    X, _ = small_digits
    with pytest.raises(ValueError, match="ema_decay"):
        ExemplarVAE(**FAST, ema_decay=1.0).fit(X)
