"""The parameter checks of ExemplarVAE, as pure functions of the parameters."""

import numpy as np
import pytest
import torch

from skexvae import _checks


def test_count_takes_integers_from_its_lower_bound_and_no_booleans():
    one_up = _checks.Count(1)
    assert one_up.is_satisfied_by(1) and one_up.is_satisfied_by(np.int64(7))
    assert not one_up.is_satisfied_by(0)
    assert not one_up.is_satisfied_by(True)
    assert not one_up.is_satisfied_by(2.0)


@pytest.mark.parametrize(
    ("M", "leave_one_out", "n_train", "expected"),
    [
        (0.5, True, 100, 50),
        (1.0, True, 100, 99),  # all the others, with one's own left out
        (1.0, False, 100, 100),
        (0.001, True, 100, 1),  # at least one
        (40, True, 100, 40),
        (99, True, 100, 99),
    ],
)
def test_exemplars_per_step(M, leave_one_out, n_train, expected):
    assert _checks.exemplars_per_step(M, leave_one_out, n_train) == expected


def test_exemplars_per_step_errors():
    with pytest.raises(ValueError, match="M=100 must be smaller"):
        _checks.exemplars_per_step(100, True, 100)
    with pytest.raises(ValueError, match="N=1 leaves none"):
        _checks.exemplars_per_step(0.5, True, 1)
    assert _checks.exemplars_per_step(0.5, False, 1) == 1


def test_image_shape_is_inferred_for_square_grey_images_only():
    assert _checks.image_shape(None, "mlp", 784) is None
    assert _checks.image_shape(None, "conv", 784) == (1, 28, 28)
    assert _checks.image_shape([3, 8, 8], "conv", 192) == (3, 8, 8)
    with pytest.raises(ValueError, match="needs image_shape"):
        _checks.image_shape(None, "convhvae", 60)
    with pytest.raises(ValueError, match="192 values"):
        _checks.image_shape((3, 8, 8), "conv", 64)
    with pytest.raises(ValueError, match="three positive integers"):
        _checks.image_shape((8, 8), "conv", 64)


def test_hidden_layer_sizes_decoder_and_binarize():
    assert _checks.hidden_layer_sizes(300) == (300,)
    assert _checks.hidden_layer_sizes([64, np.int32(32)]) == (64, 32)
    for bad in ([], [64, 0], [True], [1.5]):
        with pytest.raises(ValueError, match="hidden_layer_sizes"):
            _checks.hidden_layer_sizes(bad)
    decoder = torch.nn.Linear(2, 2)
    assert _checks.decoder(decoder, "conv") is decoder
    with pytest.raises(ValueError, match="decodes two latents"):
        _checks.decoder(decoder, "hvae")
    assert _checks.binarize("auto", "bernoulli") == "dynamic"
    assert _checks.binarize("auto", "gaussian") is None
    with pytest.raises(ValueError, match="needs likelihood='bernoulli'"):
        _checks.binarize("dynamic", "logistic")


def test_validation_size_leaves_two_rows_to_train_on():
    assert _checks.validation_size(0.1, 100) == 10
    assert _checks.validation_size(0.1, 5) == 1  # rounded up
    with pytest.raises(ValueError, match="leaves 1 training sample"):
        _checks.validation_size(0.5, 3)


def test_device_resolves_and_falls_back_only_when_asked():
    assert _checks.device("cpu") == torch.device("cpu")
    assert _checks.device(torch.device("cpu")) == torch.device("cpu")
    assert _checks.device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="is not a torch device"):
        _checks.device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            _checks.device("cuda")
        assert _checks.device("cuda", fallback=True) == torch.device("cpu")
