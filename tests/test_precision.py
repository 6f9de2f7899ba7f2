"""Mixed precision: bfloat16 networks, float32 densities, and the thread count."""

import pickle

import joblib
import numpy as np
import pytest
import torch
from conftest import FAST

from skexvae import ExemplarVAE
from skexvae._precision import has_fast_bfloat16, resolve_precision
from skexvae._threads import within_cpu_quota
from skexvae.models import ExemplarPrior, MLPEncoder, log_normal_diag
from skexvae.models._numerics import logsumexp

CPU = torch.device("cpu")


def test_auto_takes_bfloat16_only_where_the_hardware_has_it(monkeypatch):
    assert resolve_precision("float32", CPU) == "float32"
    assert resolve_precision("bfloat16", CPU) == "bfloat16"
    expected = "bfloat16" if has_fast_bfloat16(CPU) else "float32"
    assert resolve_precision("auto", CPU) == resolve_precision("auto", CPU, 300) == expected
    assert resolve_precision("auto", CPU, 64) == "float32"  # too narrow to gain
    assert resolve_precision("bfloat16", CPU, 64) == "bfloat16"
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    assert resolve_precision("auto", CPU) == "float32"
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)
    assert resolve_precision("auto", CPU) == "bfloat16"


def test_densities_stay_float32_under_autocast():
    generator = torch.Generator().manual_seed(0)
    z = torch.randn(50, 8, generator=generator)
    centres = torch.randn(300, 8, generator=generator)
    prior = ExemplarPrior(8, sigma=0.3)
    exact = prior.log_prob(z, centres)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        inside = prior.log_prob(z.bfloat16(), centres)
        # A matrix product outside a float32 region does run in bfloat16.
        assert (z @ centres.T).dtype == torch.bfloat16
        assert logsumexp(z.bfloat16(), dim=1).dtype == torch.float32
        gauss = log_normal_diag(z, centres[:50], torch.zeros(50, 8))
    assert inside.dtype == gauss.dtype == torch.float32
    # Only the rounding of z to bfloat16 differs: the kernel itself ran in float32.
    torch.testing.assert_close(inside, prior.log_prob(z.bfloat16().float(), centres))
    assert (inside - exact).abs().max() < 1.0


def test_gaussian_heads_are_float32_and_the_body_bfloat16():
    encoder = MLPEncoder(64, 4, (32,))
    x = torch.rand(10, 64)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert encoder.body(x).dtype == torch.bfloat16
        mean, log_var = encoder(x)
        assert encoder.mean(x).dtype == torch.float32
    assert mean.dtype == log_var.dtype == torch.float32
    torch.testing.assert_close(mean, encoder(x)[0], atol=0.05, rtol=0.05)


@pytest.mark.parametrize("params", [{}, {"n_neighbors": 5}, {"prior": "vamp"}])
def test_bfloat16_fit_matches_float32_and_keeps_float32_state(small_digits, params):
    X, _ = small_digits
    common = {**FAST, **params, "max_iter": 10, "n_importance_samples": 50, "random_state": 0}
    fp32 = ExemplarVAE(**common, precision="float32").fit(X)
    bf16 = ExemplarVAE(**common, precision="bfloat16", warm_start=True).fit(X)
    assert (fp32.precision_, bf16.precision_) == ("float32", "bfloat16")
    # Master weights and Adam's moments stay float32.
    assert all(p.dtype == torch.float32 for p in bf16.model_.parameters())
    moments = [v for s in bf16._optimizer_state["state"].values() for v in s.values()]
    assert all(m.dtype == torch.float32 for m in moments if m.is_floating_point())
    # Same seeds: the curves and held-out scores agree to the rounding of bfloat16.
    np.testing.assert_allclose(bf16.loss_curve_, fp32.loss_curve_, rtol=0.02)
    X_test = (X[:100] > 0.5).astype(np.float32)
    assert abs(bf16.score(X_test) - fp32.score(X_test)) < 0.5
    Z = bf16.transform(X)
    assert Z.dtype == np.float32
    np.testing.assert_allclose(Z, fp32.transform(X), atol=0.1)
    for output in (bf16.sample(3)[0], bf16.inverse_transform(Z[:3])):
        assert output.dtype in (np.float32, np.float64) and np.isfinite(output).all()


def test_precision_is_validated(small_digits):
    with pytest.raises(ValueError, match="precision"):
        ExemplarVAE(**FAST, precision="float16").fit(small_digits[0])


def test_a_pickle_from_before_mixed_precision_loads_as_float32(small_digits):
    vae = ExemplarVAE(**FAST, precision="float32", random_state=0).fit(small_digits[0])
    state = vae.__getstate__()
    del state["precision"]
    old = ExemplarVAE.__new__(ExemplarVAE)
    old.__setstate__(pickle.loads(pickle.dumps(state)))
    assert old.get_params()["precision"] == "float32"
    np.testing.assert_array_equal(old.transform(small_digits[0]), vae.transform(small_digits[0]))


def test_torch_threads_stay_within_the_cpu_quota(small_digits, monkeypatch):
    before = torch.get_num_threads()
    if before < 2:
        pytest.skip("needs a machine where torch runs 2 threads or more")
    seen = []

    class Recorder(torch.nn.Module):
        """An encoder that notes torch's thread count whenever fit runs it."""

        def __init__(self):
            super().__init__()
            self.net = MLPEncoder(64, 4, (16,))

        def forward(self, x):
            seen.append(torch.get_num_threads())
            return self.net(x)

    monkeypatch.setattr(joblib, "cpu_count", lambda *a, **k: 1)
    ExemplarVAE(**FAST, encoder=Recorder(), random_state=0).fit(small_digits[0])
    assert seen and set(seen) == {1}
    assert torch.get_num_threads() == before  # restored after fit
    with within_cpu_quota():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
