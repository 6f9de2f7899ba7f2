"""ExemplarAugmenter, ExemplarSampler and AugmentedClassifier."""

import pickle
import warnings

import numpy as np
import pytest
from conftest import FAST
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.utils._param_validation import InvalidParameterError

from skexvae import AugmentedClassifier, ExemplarAugmenter, ExemplarSampler, ExemplarVAE
from skexvae.augmentation import default_vae

# The small-data warning is checked once, in test_small_data_warning.
pytestmark = pytest.mark.filterwarnings("ignore:.*raised the test error:UserWarning")


@pytest.fixture(scope="module")
def fitted_vae(small_digits):
    X, _ = small_digits
    return ExemplarVAE(**FAST, random_state=0).fit(X)


@pytest.fixture(scope="module")
def trained_vae(digits):
    """Good enough that its variations keep the digit's class."""
    X, _ = digits
    params = {"n_components": 16, "hidden_layer_sizes": (128, 128), "max_iter": 100}
    return ExemplarVAE(**params, random_state=0).fit(X[:1200])


class RecordingClassifier(ClassifierMixin, BaseEstimator):
    """Nearest class mean, remembering what fit and predict were given."""

    def fit(self, X, y):
        self.fit_X_, self.fit_y_ = X.copy(), y.copy()
        self.classes_ = np.unique(y)
        self.means_ = np.stack([X[y == c].mean(0) for c in self.classes_])
        return self

    def predict(self, X):
        self.predict_X_ = X.copy()
        distances = ((X[:, None, :] - self.means_[None]) ** 2).sum(-1)
        return self.classes_[distances.argmin(1)]


class UnweightedPartialFit(RecordingClassifier):
    """A ``partial_fit`` without ``sample_weight``."""

    def partial_fit(self, X, y, classes=None):
        self.epochs_ = [*getattr(self, "epochs_", []), X.copy()]
        return self.fit(X, y)


def test_fit_transform_replaces_rows_in_place(small_digits, fitted_vae):
    X, _ = small_digits
    augmenter = ExemplarAugmenter(FrozenEstimator(fitted_vae), lam=0.4, random_state=0)
    X_mixed = augmenter.fit_transform(X)
    assert X_mixed.shape == X.shape and X_mixed.dtype == X.dtype
    assert augmenter.replaced_.sum() == round(0.6 * len(X))
    np.testing.assert_array_equal(X_mixed[~augmenter.replaced_], X[~augmenter.replaced_])
    changed = np.abs(X_mixed - X).sum(1) > 0
    np.testing.assert_array_equal(changed, augmenter.replaced_)
    # Synthetic rows are Bernoulli means: strictly inside (0, 1), unlike the digits.
    synthetic = X_mixed[augmenter.replaced_]
    assert synthetic.min() > 0 and synthetic.max() < 1 and (X == 0).any()


@pytest.mark.parametrize("lam, n_replaced", [(1.0, 0), (0.0, 300)])
def test_lam_extremes(small_digits, fitted_vae, lam, n_replaced):
    X, _ = small_digits
    augmenter = ExemplarAugmenter(fitted_vae, lam=lam, random_state=0)
    X_mixed = augmenter.fit_transform(X)
    assert augmenter.replaced_.sum() == n_replaced
    assert np.array_equal(X_mixed, X) == (n_replaced == 0)


def test_pipeline_predicts_on_untouched_inputs_with_aligned_labels(small_digits, trained_vae):
    X, y = small_digits
    pipe = make_pipeline(ExemplarAugmenter(trained_vae, random_state=0), RecordingClassifier())
    pipe.fit(X, y)
    augmenter, classifier = pipe[0], pipe[-1]
    np.testing.assert_array_equal(classifier.fit_y_, y)
    assert not np.array_equal(classifier.fit_X_, X)
    pipe.predict(X[:50])
    np.testing.assert_array_equal(classifier.predict_X_, X[:50])
    # Replaced rows keep their class: a classifier of the real data labels most of
    # them as the row they replaced (chance is 0.1).
    real = LogisticRegression(max_iter=500).fit(X, y)
    synthetic = classifier.fit_X_[augmenter.replaced_]
    assert real.score(synthetic, y[augmenter.replaced_]) > 0.6


def test_random_state_reproduces_the_mix(small_digits):
    X, _ = small_digits
    vae = ExemplarVAE(**FAST, random_state=0)
    first = ExemplarAugmenter(vae, random_state=3).fit_transform(X)
    second = ExemplarAugmenter(vae, random_state=3).fit_transform(X)
    other = ExemplarAugmenter(vae, random_state=4).fit_transform(X)
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, other)


def test_unfitted_vae_is_cloned_and_fitted_frozen_one_kept(small_digits, fitted_vae):
    X, _ = small_digits
    vae = ExemplarVAE(**FAST, random_state=0)
    augmenter = ExemplarAugmenter(vae).fit(X)
    assert augmenter.vae_ is not vae and not hasattr(vae, "model_")
    frozen = FrozenEstimator(fitted_vae)
    assert clone(ExemplarAugmenter(frozen)).fit(X).vae_ is frozen


def test_pipeline_clones_pickles_and_cross_validates(digits):
    X, y = digits
    vae = ExemplarVAE(**FAST, random_state=0)
    pipe = make_pipeline(ExemplarAugmenter(vae, random_state=0), LogisticRegression(max_iter=300))
    scores = cross_val_score(pipe, X[:600], y[:600], cv=3)
    assert scores.shape == (3,) and scores.min() > 0.6
    search = GridSearchCV(pipe, {"exemplaraugmenter__lam": [0.4, 1.0]}, cv=2).fit(X[:400], y[:400])
    # lam reaches the augmenter: at 1.0 each fold scores as the classifier alone.
    plain = cross_val_score(LogisticRegression(max_iter=300), X[:400], y[:400], cv=2)
    np.testing.assert_allclose(
        [search.cv_results_[f"split{k}_test_score"][1] for k in range(2)], plain
    )
    assert search.cv_results_["mean_test_score"][0] != plain.mean()
    fitted = clone(pipe).fit(X[:300], y[:300])
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.predict(X[300:400]), fitted.predict(X[300:400]))


def test_synthetic_rows_alone_carry_the_class(digits, trained_vae):
    """A classifier trained only on synthetic rows (lam=0) classifies real held-out digits."""
    X, y = digits
    augmenter = ExemplarAugmenter(trained_vae, lam=0.0, random_state=0)
    pipe = make_pipeline(augmenter, LogisticRegression(max_iter=1000))
    accuracy = pipe.fit(X[:1200], y[:1200]).score(X[1200:], y[1200:])
    assert pipe[0].replaced_.all()
    assert accuracy > 0.85


def test_fit_resample_appends_labelled_synthetic_rows(small_digits, fitted_vae):
    X, y = small_digits
    sampler = ExemplarSampler(fitted_vae, lam=0.4, random_state=0)
    X_res, y_res = sampler.fit_resample(X, y)
    n_new = round(len(X) * 0.6 / 0.4)
    assert X_res.shape == (len(X) + n_new, X.shape[1]) and y_res.shape == (len(X) + n_new,)
    np.testing.assert_array_equal(X_res[: len(X)], X)
    np.testing.assert_array_equal(y_res[len(X) :], y[sampler.source_])
    # Each row is a source once before any is a source twice: proportions are kept.
    counts = np.bincount(sampler.source_, minlength=len(X))
    assert counts.max() - counts.min() <= 1
    assert sampler._sampling_type == "bypass"


def test_fit_resample_synthetic_only_and_identity(small_digits, fitted_vae):
    X, y = small_digits
    X_syn, y_syn = ExemplarSampler(fitted_vae, lam=0.0, random_state=0).fit_resample(X, y)
    assert X_syn.shape == X.shape and not np.isin(X_syn, X).all()
    assert np.bincount(y_syn).tolist() == np.bincount(y).tolist()
    X_same, y_same = ExemplarSampler(fitted_vae, lam=1.0).fit_resample(X, y)
    np.testing.assert_array_equal(X_same, X)
    np.testing.assert_array_equal(y_same, y)


def test_sampler_in_imblearn_pipeline(small_digits, fitted_vae):
    pipeline = pytest.importorskip("imblearn.pipeline")
    X, y = small_digits
    sampler = ExemplarSampler(fitted_vae, random_state=0)
    pipe = pipeline.make_pipeline(sampler, RecordingClassifier())
    pipe.fit(X, y)
    assert len(pipe[-1].fit_X_) == len(X) + round(len(X) * 0.6 / 0.4)
    pipe.predict(X[:20])
    np.testing.assert_array_equal(pipe[-1].predict_X_, X[:20])


def test_augmented_classifier_weighted_epochs(small_digits, fitted_vae):
    X, y = small_digits
    model = AugmentedClassifier(
        SGDClassifier(random_state=0), fitted_vae, lam=0.4, max_iter=3, random_state=0
    ).fit(X, y)
    assert model.estimator_.t_ > 1 and set(model.classes_) == set(y)
    assert model.score(X, y) > 0.6
    assert hasattr(model, "decision_function") and not hasattr(model, "predict_proba")


def test_augmented_classifier_without_sample_weight_draws_fresh_rows(small_digits, fitted_vae):
    X, y = small_digits
    model = AugmentedClassifier(
        UnweightedPartialFit(), fitted_vae, lam=0.4, max_iter=2, random_state=0
    )
    model.fit(X, y)
    first, second = model.estimator_.epochs_
    assert first.shape == X.shape and not np.array_equal(first, second)
    assert (np.abs(first - X).sum(1) > 0).sum() == round(0.6 * len(X))
    with pytest.raises(ValueError, match="does not accept sample_weight"):
        model.fit(X, y, sample_weight=np.ones(len(X)))


class UntrainableVAE(BaseEstimator):
    """A VAE whose training fails the test that calls it."""

    def fit(self, X):
        raise AssertionError("lam=1.0 must not train a VAE")

    def sample_from_exemplars(self, X, n_samples=1, random_state=None, return_mean=False):
        raise AssertionError("lam=1.0 must not generate")


@pytest.mark.parametrize("vae", [None, UntrainableVAE()], ids=["default", "unfitted"])
def test_lam_one_trains_no_vae(small_digits, vae):
    X, y = small_digits
    augmenter = ExemplarAugmenter(vae, lam=1.0)
    np.testing.assert_array_equal(augmenter.fit_transform(X), X)
    assert augmenter.vae_ is None
    X_same, y_same = ExemplarSampler(vae, lam=1.0).fit_resample(X, y)
    np.testing.assert_array_equal(X_same, X)
    np.testing.assert_array_equal(y_same, y)
    model = AugmentedClassifier(SGDClassifier(random_state=0), vae, lam=1.0, max_iter=3)
    model.fit(X, y)
    plain = SGDClassifier(random_state=0)
    for _ in range(3):
        plain.partial_fit(X, y, classes=np.unique(y))
    np.testing.assert_allclose(model.estimator_.coef_, plain.coef_)
    with pytest.raises(ValueError, match="lam=1.0, which trains no VAE"):
        model.generate(X[:2])


class MarkingVAE(BaseEstimator):
    """Fitted on the rows it is given; its synthetic rows are all -1, which digits never are."""

    def fit(self, X):
        self.n_fit_rows_ = len(X)
        return self

    def sample_from_exemplars(self, X, n_samples=1, random_state=None, return_mean=False):
        X_new = np.full((len(X) * n_samples, X.shape[1]), -1.0)
        return X_new, np.repeat(np.arange(len(X)), n_samples)


class ShareScorer(RecordingClassifier):
    """Scores the (weighted) share of synthetic rows of its last epoch, or of real ones."""

    def __init__(self, prefer="synthetic"):
        self.prefer = prefer

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        weight = np.ones(len(X)) if sample_weight is None else sample_weight
        synthetic = (X == -1).all(1)
        self.synthetic_share_ = weight[synthetic].sum() / weight.sum()
        self.n_rows_ = len(X)
        return self.fit(X, y)

    def score(self, X, y, sample_weight=None):
        assert not (X == -1).all(1).any(), "held-out rows must be real"
        shares = {"synthetic": self.synthetic_share_, "real": 1 - self.synthetic_share_}
        return shares.get(self.prefer, 0.5)


@pytest.mark.parametrize("prefer, chosen", [("synthetic", 0.4), ("real", 1.0), ("nothing", 1.0)])
def test_auto_lam_chooses_the_best_held_out_score(small_digits, prefer, chosen):
    X, y = small_digits
    # With "nothing", every lam scores the same: the least augmentation wins.
    model = AugmentedClassifier(
        ShareScorer(prefer), MarkingVAE(), lam="auto", max_iter=2, random_state=0
    )
    model.fit(X, y)
    assert model.lam_ == chosen and set(model.lam_scores_) == {0.4, 0.7, 1.0}
    if prefer == "synthetic":
        # Weighted epochs: real and synthetic rows together, weighted 2 lam and 2 (1 - lam).
        np.testing.assert_allclose(list(model.lam_scores_.values()), [0.6, 0.3, 0.0])
    # The VAE saw the rows not held out; the final classifier all rows, with lam_.
    assert model.vae_.n_fit_rows_ == len(X) - round(0.1 * len(X))
    assert model.estimator_.n_rows_ == (2 * len(X) if chosen < 1 else len(X))
    np.testing.assert_allclose(model.estimator_.synthetic_share_, 1 - chosen)


def test_lam_is_chosen_by_default_even_with_classes_too_small_to_stratify(small_digits):
    X, y = small_digits
    y = y.copy()
    y[0] = 10  # a class of one row: no stratified split holds it on both sides
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # chosen on held-out rows: no small-data warning
        model = AugmentedClassifier(ShareScorer("real"), MarkingVAE(), max_iter=1, random_state=0)
        model.fit(X, y)
    assert model.lam == "auto" and model.lam_ == 1.0
    assert set(model.lam_scores_) == {0.4, 0.7, 1.0}
    assert model.vae_.n_fit_rows_ == len(X) - round(0.1 * len(X))
    assert 10 in model.classes_


def test_auto_lam_without_sample_weight_and_on_real_data(small_digits, fitted_vae, capsys):
    X, y = small_digits
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "auto" validates, so no small-data warning
        model = AugmentedClassifier(
            UnweightedPartialFit(), MarkingVAE(), lam="auto", max_iter=1, random_state=0
        ).fit(X, y)
    # Without sample_weight, 1 - lam of the rows are replaced.
    assert (model.estimator_.epochs_[-1] == -1).all(1).sum() == round((1 - model.lam_) * len(X))
    model = AugmentedClassifier(
        SGDClassifier(random_state=0),
        FrozenEstimator(fitted_vae),
        lam="auto",
        max_iter=2,
        validation_fraction=0.2,
        random_state=0,
        verbose=1,
    ).fit(X, y)
    best = max(model.lam_scores_.values())
    assert model.lam_ == max(lam for lam, s in model.lam_scores_.items() if s == best)
    assert all(0 <= s <= 1 for s in model.lam_scores_.values())
    assert f"lam='auto' chose lam={model.lam_}" in capsys.readouterr().out
    with pytest.raises(InvalidParameterError, match="lam"):
        AugmentedClassifier(lam="best").fit(X, y)


def test_default_vae_suits_the_data():
    small = default_vae(np.random.default_rng(0).random((500, 64)))
    assert small.likelihood == "bernoulli" and small.n_components == 16
    assert small.early_stopping and small.n_neighbors == "auto"
    large = default_vae(np.random.default_rng(0).normal(size=(30_000, 784)))
    assert large.likelihood == "gaussian" and large.n_components == 40
    assert large.max_iter < small.max_iter


def test_default_augmenter_fits_its_own_vae_and_says_so(small_digits, capsys):
    X, _ = small_digits
    augmenter = ExemplarAugmenter(random_state=0, verbose=1)
    X_mixed = augmenter.fit_transform(X[:40])
    assert X_mixed.shape == (40, X.shape[1]) and augmenter.replaced_.sum() == 24
    assert augmenter.vae_.likelihood == "bernoulli" and augmenter.vae_.early_stopping
    assert "fitting ExemplarVAE(" in capsys.readouterr().out


def test_bad_parameters_and_unfitted_use(small_digits):
    X, y = small_digits
    with pytest.raises(InvalidParameterError, match="lam"):
        ExemplarAugmenter(lam=1.5).fit(X)
    with pytest.raises(InvalidParameterError, match="vae"):
        ExemplarSampler(vae="vae").fit_resample(X, y)
    with pytest.raises(InvalidParameterError, match="estimator"):
        AugmentedClassifier(LogisticRegression()).fit(X, y)
    with pytest.raises(NotFittedError):
        ExemplarAugmenter().transform(X)


def test_sampler_warns_when_lam_asks_for_many_rows_per_row(small_digits, fitted_vae):
    X, y = small_digits[0][:30], small_digits[1][:30]
    with pytest.warns(UserWarning, match="570 synthetic rows to 30 real ones.*19 per row"):
        X_new, _ = ExemplarSampler(FrozenEstimator(fitted_vae), lam=0.05).fit_resample(X, y)
    assert len(X_new) == 600
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", ".*raised the test error", UserWarning)
        X_new, _ = ExemplarSampler(FrozenEstimator(fitted_vae), lam=0.1).fit_resample(X, y)
    assert len(X_new) == 300  # 9 per row: no warning


def test_small_data_warning(small_digits, fitted_vae):
    X, y = small_digits
    with pytest.warns(UserWarning, match="300 training rows.*raised the test error"):
        ExemplarAugmenter(fitted_vae).fit(X)
    with pytest.warns(UserWarning, match="raised the test error"):
        ExemplarSampler(fitted_vae).fit_resample(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ExemplarAugmenter(fitted_vae, lam=1.0).fit(X)
