"""DataFrames in and out: feature names, ``set_output(transform="pandas")``."""

import numpy as np
import pytest
from conftest import FAST

from skexvae import ExemplarAugmenter, ExemplarVAE

pd = pytest.importorskip("pandas")


@pytest.fixture
def frame(small_digits):
    X, _ = small_digits
    index = pd.RangeIndex(1000, 1000 + len(X))
    return pd.DataFrame(X, columns=[f"px{i}" for i in range(X.shape[1])], index=index)


def test_transform_gives_a_frame_with_the_latent_names(frame):
    vae = ExemplarVAE(**FAST, random_state=0).set_output(transform="pandas").fit(frame)
    Z = vae.transform(frame)
    assert isinstance(Z, pd.DataFrame)
    assert list(Z.columns) == [f"exemplarvae{i}" for i in range(FAST["n_components"])]
    assert Z.index.equals(frame.index)
    assert list(vae.feature_names_in_) == list(frame.columns)
    np.testing.assert_allclose(Z.to_numpy(), vae.set_output(transform="default").transform(frame))


def test_columns_in_another_order_are_refused(frame):
    vae = ExemplarVAE(**FAST, random_state=0).fit(frame)
    with pytest.raises(ValueError, match="feature names"):
        vae.transform(frame[frame.columns[::-1]])


def test_the_augmenter_keeps_the_input_columns(frame):
    vae = ExemplarVAE(**FAST, likelihood="gaussian")
    augmenter = ExemplarAugmenter(vae, random_state=0).set_output(transform="pandas")
    with pytest.warns(UserWarning, match="training rows"):
        mixed = augmenter.fit_transform(frame)
    assert isinstance(mixed, pd.DataFrame) and list(mixed.columns) == list(frame.columns)
    assert list(augmenter.get_feature_names_out()) == list(frame.columns)
    # Replaced rows differ from the inputs, the others are the inputs.
    kept = ~augmenter.replaced_
    np.testing.assert_array_equal(mixed.to_numpy()[kept], frame.to_numpy()[kept])
    assert augmenter.replaced_.any()
