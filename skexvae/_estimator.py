"""ExemplarVAE: the scikit-learn estimator around the PyTorch model."""

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils import check_array, check_random_state
from sklearn.utils._param_validation import Interval, RealNotInt, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data
from torch import nn

from . import _checks
from ._checks import Count
from ._data import (
    minibatches,
    output_dtype,
    rank_generator,
    resume_generator,
    select_rows,
    torch_generator,
    validation_split,
)
from ._distributed import SINGLE_PROCESS, join_process_group, rank_device
from ._fitting import exemplar_subsampler, initial_model, validation_score
from ._inference import (
    decode,
    exemplar_latents,
    generate,
    generate_around,
    latent_log_density,
    log_density,
    responsibilities,
    scoring_index,
)
from ._objective import TrainingObjective, encode_means
from ._persistence import loaded_state, portable_state, rebuild_model
from ._precision import PRECISIONS, autocast, resolve_precision
from ._progress import EpochReport, ThrottledProgress, epoch_record, log_epoch
from ._rows import MappedRows, is_mapped
from ._threads import within_cpu_quota
from ._training import WeightAverage, adam, train
from .models import ARCHITECTURES, LIKELIHOODS, PRIORS
from .retrieval import INDEXES


class ExemplarVAE(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Exemplar VAE: a VAE whose prior is a Parzen window over the encoded training set.

    The prior is ``p(z|X) = 1/N sum_n N(z | mu(x_n), sigma^2 I)``, its means given by the
    same network as the posterior mean ``q(z|x) = N(mu(x), diag)`` (Norouzi, Fleet &
    Norouzi, NeurIPS 2020). Training maximises the bound with leave-one-out and a random
    subset of ``M`` exemplars per step; evaluation uses all exemplars. The Gaussian
    prior and the VampPrior are available through the same code path as baselines.

    Parameters
    ----------
    n_components : int, default=40
        Dimension of the latent space (of each latent layer of the two-level
        architectures).
    architecture : {"mlp", "hvae", "convhvae", "pixelsnail", "conv"}, default="mlp"
        Encoder and decoder networks (paper section 5, after Tomczak & Welling 2018):
        ``"mlp"``, gated MLPs with one stochastic layer; ``"hvae"``, gated MLPs with
        two stochastic layers ``z1``, ``z2``; ``"convhvae"``, two stochastic layers
        with gated convolutional encoders and decoder; ``"pixelsnail"``, the
        ConvHVAE's latents with an autoregressive observation model over the pixels
        (masked convolutions and causal attention; ``sample`` and
        ``inverse_transform`` decode pixel by pixel); ``"conv"``, one stochastic
        layer with the ConvHVAE's convolutional encoder and decoder, for colour
        images. With two layers the prior sits on the top latent ``z2``;
        ``transform`` returns its means and ``score_samples`` bounds the whole model.
    image_shape : tuple of int (channels, height, width) or None, default=None
        Layout of each flat row for the convolutional architectures, channels first
        (torch's order: ``X.reshape(-1, *image_shape)`` are the images). None means
        one grey channel of a square image, ``(1, s, s)`` for ``s * s`` features.
    encoder : torch.nn.Module, callable or None, default=None
        Your own network for ``q(z|x)`` (the top latent's): a module, copied at each
        ``fit``, or a factory ``encoder(n_features, n_components) -> module``. It
        maps a float32 tensor of flat rows ``(n, n_features)`` to ``(mean, log_var)``,
        each ``(n, n_components)``; a ``mean(x)`` method, when present, is used alone
        where only the means are needed (exemplar centres). A module's weights are
        kept as given; a factory is called under ``random_state``.
    decoder : torch.nn.Module, callable or None, default=None
        Your own network for ``p(x|z)`` (one-level architectures): a module or a
        factory ``decoder(n_components, n_outputs) -> module``, mapping ``(n,
        n_components)`` to ``(n, n_outputs)`` likelihood parameters, with ``n_outputs
        = n_features`` (bernoulli, gaussian) or ``2 * n_features`` (logistic:
        locations, then log-scales).
    prior : {"exemplar", "vamp", "gaussian"}, default="exemplar"
        Latent prior. ``"vamp"`` is the VampPrior with ``n_pseudo_inputs`` learned
        pseudo-inputs; ``"gaussian"`` the standard normal.
    likelihood : {"auto", "bernoulli", "gaussian", "logistic"}, default="auto"
        Observation model ``p(x|z)``. ``"bernoulli"`` and ``"logistic"`` (discretized
        logistic over 256 levels for 8-bit pixels, a location and a scale per pixel
        from the decoder) need inputs in [0, 1]; ``"gaussian"`` takes any real values
        and learns one scale per feature. ``"auto"`` chooses at ``fit`` from the
        training data: ``"bernoulli"`` (binarized dynamically, see ``binarize``) when
        every value lies in [0, 1], as for images scaled to [0, 1], and
        ``"gaussian"`` otherwise. The choice is ``likelihood_``; ``verbose`` prints it.
    binarize : {"auto", "dynamic"} or None, default="auto"
        ``"dynamic"`` draws fresh binary inputs ``x ~ Bernoulli(x_grey)`` every epoch, as
        the paper trains MNIST (bernoulli likelihood only). ``"auto"`` means
        ``"dynamic"`` for the bernoulli likelihood and ``None`` otherwise. Exemplars are
        always encoded as given.
    hidden_layer_sizes : int or tuple of int, default=(300, 300)
        Widths of the gated hidden layers of the MLP encoder and decoder (and of
        ``q(z2|x)`` and ``p(z1|z2)`` in the ``"hvae"``). The last width is that of the
        single gated layers of the two-level and convolutional networks.
    sigma : "learn" or float, default="learn"
        Standard deviation of each exemplar's Gaussian in the prior. ``"learn"`` trains
        one shared scalar, as in the paper; a positive float holds it fixed.
    M : float in (0, 1] or int, default=0.5
        Exemplars in the prior of each training step: a fraction of the N training
        exemplars or a count below N. With leave-one-out each input sees ``M``
        exemplars drawn from the other ``N - 1`` (eq. 11), and ``1.0`` means all of
        them (eq. 10).
    leave_one_out : bool, default=True
        Leave each input's own exemplar out of its prior during training (eq. 10).
    n_neighbors : "auto", int or None, default="auto"
        Retrieval-augmented training (RAT, section 3.1): each step encodes only the
        ``n_neighbors`` exemplars of the step's M-subset nearest to each input's
        latent sample (their union over the batch), not the whole subset. The
        objective stays a lower bound (eq. 9). ``None`` trains with the exact prior
        (the paper's MLP and HVAE protocol). ``"auto"`` takes the exact prior while
        a step's subset ``M_`` holds at most 2 000 exemplars and RAT with the paper's
        10 neighbours above: on MNIST, 50 000 rows, a RAT epoch costs a fourteenth
        of an exact one at the same bound (docs/performance.md). The choice is
        ``n_neighbors_``; ``verbose`` prints it.
    index : {"auto", "exact", "pynndescent"}, default="auto"
        Nearest-neighbour backend of RAT: ``"exact"`` is a chunked torch top-k over
        the latent cache, ``"pynndescent"`` an NN-descent graph (numba compiles it
        once per process, ~25 s); ``"auto"`` takes exact up to 100 000 exemplars.
    index_refresh : "epoch" or int, default="epoch"
        Steps between full refreshes of the latent cache (and rebuilds of the
        index); between refreshes the cache rows of every encoded exemplar and
        batch point are updated as they are computed.
    score_neighbors : int or None, default=None
        Exemplars per latent sample in the prior of :meth:`score_samples`: the
        ``score_neighbors`` nearest, found with the ``index`` backend, a lower bound
        of the full sum (paper section 5: "using kNN for evaluation is feasible").
        For scoring, ``index="auto"`` takes pynndescent above 10 000 exemplars: an
        exact top-k costs more than the full sum (measured; see
        ``skexvae.retrieval.SCORING_EXACT_MAX_N``).
        ``None`` sums over every exemplar, as the paper's reported numbers do.
    n_pseudo_inputs : int, default=500
        Number of pseudo-inputs of the VampPrior.
    batch_size : int, default=100
        Minibatch size.
    learning_rate_init : float, default=2e-3
        Step size of the gradient-normalised Adam optimizer. Four times the paper's
        5e-4, which with the weight average (``ema_decay``) converged faster for every
        prior measured (``benchmarks/convergence.py``); ``bench --budget paper`` keeps
        5e-4.
    max_iter : int, default=200
        Number of epochs (passes over the training data).
    kl_warmup : int, default=20
        Epochs of linear KL annealing from ``1 / kl_warmup`` to 1; 0 turns it off. The
        paper anneals over 100 epochs of ~1000.
    free_nats : "auto" or float, default="auto"
        KL nats per input that training does not penalise: a minibatch whose mean
        KL term is below ``free_nats`` pays ``free_nats`` instead, so that the
        encoder may use that much of the latent at no cost (the "free bits" of
        Kingma et al. 2016, over the whole latent). Against posterior collapse,
        where a decoder strong enough to model the data alone leaves the latents
        unused. ``"auto"`` takes 15 nats for ``architecture="pixelsnail"`` and 0
        (the bound itself) for the others. ``score_samples``, ``history_`` and the
        early-stopping score are the true bound whatever its value. The value used
        is ``free_nats_``.
    ema_decay : float or None, default=0.999
        Decay of an exponential moving average of the weights, updated after every
        optimizer step; the fitted model (``transform``, ``score_samples``,
        ``sample``, the early-stopping score) uses the averaged weights, and
        ``warm_start`` resumes training from the trained ones. The decay ramps up
        over the first steps (``min(ema_decay, (1 + t) / (10 + t))``). ``None``
        keeps the last trained weights, as the paper does.
    warm_start : bool, default=False
        When True and the estimator is fitted, ``fit`` continues training: from the
        fitted weights, with the optimizer's state, the random stream and the KL
        schedule where the last ``fit`` left them, for ``max_iter`` more epochs;
        ``n_iter_`` and the curves accumulate. Together with pickling this
        checkpoints and resumes long runs, also on another device: training goes on
        where ``device`` says now (a run pickled on a CPU continues on a GPU); the
        random stream then restarts from a seed taken from the saved one. The
        architecture parameters must not change.
        The optimizer's state is kept (and pickled) only by fits made with
        ``warm_start=True``; turning it on after another fit continues from the
        fitted weights with a fresh optimizer.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data, stop when the validation ELBO has
        not improved for ``n_iter_no_change`` epochs and keep the best weights. The
        held-out rows join the exemplar set once training ends.
    validation_fraction : float, default=0.1
        Share of the data held out for early stopping.
    n_iter_no_change : int, default=10
        Patience of early stopping, in epochs.
    n_importance_samples : int, default=1000
        Importance samples per input in :meth:`score_samples` (the paper used 5000).
    device : str, default="auto"
        Torch device, e.g. ``"cpu"`` or ``"cuda:0"``; ``"auto"`` takes a GPU when one
        is available.
    precision : {"auto", "float32", "bfloat16"}, default="auto"
        Arithmetic of the encoder and decoder networks in training, scoring,
        ``transform`` and sampling. ``"bfloat16"`` runs their matrix products in
        bfloat16 under ``torch.autocast``, with float32 weights, optimizer state,
        Gaussian heads and every log-density (priors, likelihood, KL, importance
        weights); ``"auto"`` takes it where the device multiplies bfloat16 natively
        (CPUs with AVX512-BF16 or AMX, CUDA GPUs with bfloat16) for networks whose
        widest hidden layer has 256 units or more, and float32 elsewhere: below
        that width the casts cost what bfloat16 saves. Inference follows the
        current setting, so a model trained in one precision can be scored in the
        other. See the performance guide for what it gains and costs.
    distributed : bool, default=False
        Train data-parallel, one rank per process, with ``torch.distributed``
        (``DistributedDataParallel``; gloo on CPU, nccl on CUDA, where each rank
        takes ``cuda:LOCAL_RANK``). Launch the script that calls ``fit`` with
        ``torchrun --nproc-per-node W script.py``; every rank calls ``fit`` with the
        same data and parameters. Each global minibatch of ``batch_size`` rows is
        split across the ranks, so W ranks take the same optimisation steps as one
        process, with the step's exemplar encoding and the RAT cache shared between
        them (see the scale-out guide). Every rank ends with the same fitted model.
        A process group the script initialised itself is used as it is.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, batches, binarization, exemplar subsets and the
        Monte Carlo draws of :meth:`score_samples` and :meth:`sample`.
    verbose : int, default=0
        When positive, print one line per epoch during ``fit`` and, for scoring
        that takes longer than a few seconds, progress lines from
        :meth:`score_samples`.

    Attributes
    ----------
    model_ : skexvae.models.VAE or skexvae.models.TwoLevelVAE
        The trained PyTorch module.
    exemplars_ : ndarray of shape (n_exemplars, n_features) or None
        Exemplars of the prior, float32, the rows that ``sample`` names; replace
        them with :meth:`set_exemplars`. When ``fit`` was given a ``numpy.memmap``
        this is that memmap, not a copy. The prior needs only their latents
        (``exemplar_latents_``), so a pickle leaves the rows out: a loaded estimator
        scores and samples as before, with ``exemplars_`` None (or, for a memmap,
        the file reopened from its path); ``set_exemplars`` puts rows back.
    exemplar_latents_ : ndarray of shape (n_exemplars, n_components) or None
        ``mu(x_n)`` of each exemplar, float32: the centres of the prior's kernels,
        encoded once by ``fit`` and :meth:`set_exemplars` (None for the other
        priors). Scoring and sampling read them and never re-encode the exemplars.
    sigma_ : float or None
        Standard deviation of the exemplar prior's kernels, learned or fixed (None for
        the other priors).
    M_ : int or None
        Exemplars per training step, as resolved from ``M``.
    n_neighbors_ : int or None
        RAT's neighbours per input as resolved from ``n_neighbors``; None when the
        exemplar prior trained exact (and for the other priors).
    free_nats_ : float
        The KL floor of training, as resolved from ``free_nats``.
    index_ : KNNIndex or None
        The kNN index over ``exemplar_latents_`` that :meth:`score_samples` searches
        when ``score_neighbors`` is set at ``fit`` or ``set_exemplars`` (None
        otherwise; setting ``score_neighbors`` later builds one per call). It
        pickles without its latents (it gets ``exemplar_latents_`` back on loading),
        and a pynndescent graph is rebuilt on first use.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string feature names.
    n_iter_ : int
        Epochs run, over all ``warm_start`` fits.
    loss_curve_ : list of float
        Mean training loss (negative beta-weighted bound, nats) per epoch.
    history_ : list of dict
        One dict per epoch, over all ``warm_start`` fits: ``epoch``, ``loss``, the
        training ``elbo`` with its ``reconstruction`` and ``kl`` parts, the KL weight
        ``beta``, the prior's learned scalars (``sigma`` for the exemplar prior),
        ``validation_elbo`` (None without early stopping) and ``seconds``.
        ``pandas.DataFrame(history_)`` tabulates it and :func:`skexvae.plot_history`
        draws it. Each row is also logged, as it is made, to the ``skexvae`` logger
        (INFO level, the row as the record's ``skexvae_epoch`` attribute), so that a
        ``logging.Handler`` can stream training to TensorBoard or MLflow.
    validation_scores_ : list of float or None
        Validation ELBO (nats per input) per epoch, with early stopping.
    best_validation_score_ : float or None
        Best of ``validation_scores_``.
    device_ : torch.device
        Device the model lives on.
    precision_ : str
        ``"float32"`` or ``"bfloat16"``: the networks' arithmetic, as resolved from
        ``precision`` on ``device_``.
    likelihood_ : str
        The observation model, as resolved from ``likelihood`` on the training data.

    See Also
    --------
    sklearn.neighbors.KernelDensity : Parzen window in input space.
    sklearn.neural_network.BernoulliRBM : Another neural generative transformer.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skexvae import ExemplarVAE
    >>> X = load_digits().data / 16.0
    >>> vae = ExemplarVAE(n_components=8, hidden_layer_sizes=(64,), max_iter=2,
    ...                   n_importance_samples=10, random_state=0).fit(X)
    >>> vae.transform(X[:3]).shape
    (3, 8)
    >>> X_new, exemplar_index = vae.sample(4, random_state=0)
    >>> X_new.shape
    (4, 64)
    """

    _parameter_constraints: dict = {
        "n_components": [Count(1)],
        "architecture": [StrOptions(set(ARCHITECTURES))],
        "image_shape": ["array-like", None],
        "encoder": [nn.Module, callable, None],
        "decoder": [nn.Module, callable, None],
        "prior": [StrOptions(set(PRIORS))],
        "likelihood": [StrOptions({"auto", *LIKELIHOODS})],
        "binarize": [StrOptions({"auto", "dynamic"}), None],
        "hidden_layer_sizes": ["array-like", Count(1)],
        "sigma": [StrOptions({"learn"}), Interval(Real, 0, None, closed="neither")],
        "M": [
            Interval(RealNotInt, 0, 1, closed="right"),
            Count(1),
        ],
        "leave_one_out": ["boolean"],
        "n_neighbors": [Count(1), StrOptions({"auto"}), None],
        "index": [StrOptions(set(INDEXES))],
        "score_neighbors": [Count(1), None],
        "index_refresh": [StrOptions({"epoch"}), Count(1)],
        "n_pseudo_inputs": [Count(1)],
        "batch_size": [Count(1)],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Count(1)],
        "kl_warmup": [Count(0)],
        "free_nats": [StrOptions({"auto"}), Interval(Real, 0, None, closed="left")],
        "ema_decay": [Interval(Real, 0, 1, closed="left"), None],
        "warm_start": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Count(1)],
        "n_importance_samples": [Count(1)],
        "device": [str, torch.device],
        "precision": [StrOptions(set(PRECISIONS))],
        "distributed": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        n_components=40,
        *,
        architecture="mlp",
        image_shape=None,
        encoder=None,
        decoder=None,
        prior="exemplar",
        likelihood="auto",
        binarize="auto",
        hidden_layer_sizes=(300, 300),
        sigma="learn",
        M=0.5,
        leave_one_out=True,
        n_neighbors="auto",
        index="auto",
        index_refresh="epoch",
        score_neighbors=None,
        n_pseudo_inputs=500,
        batch_size=100,
        learning_rate_init=2e-3,
        max_iter=200,
        kl_warmup=20,
        free_nats="auto",
        ema_decay=0.999,
        warm_start=False,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        n_importance_samples=1000,
        device="auto",
        precision="auto",
        distributed=False,
        random_state=None,
        verbose=0,
    ):
        self.n_components = n_components
        self.architecture = architecture
        self.image_shape = image_shape
        self.encoder = encoder
        self.decoder = decoder
        self.prior = prior
        self.likelihood = likelihood
        self.binarize = binarize
        self.hidden_layer_sizes = hidden_layer_sizes
        self.sigma = sigma
        self.M = M
        self.leave_one_out = leave_one_out
        self.n_neighbors = n_neighbors
        self.index = index
        self.index_refresh = index_refresh
        self.score_neighbors = score_neighbors
        self.n_pseudo_inputs = n_pseudo_inputs
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.kl_warmup = kl_warmup
        self.free_nats = free_nats
        self.ema_decay = ema_decay
        self.warm_start = warm_start
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.n_importance_samples = n_importance_samples
        self.device = device
        self.precision = precision
        self.distributed = distributed
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the model; the rows of ``X`` become the exemplars.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, at least 2 rows; in [0, 1] for the bernoulli and logistic
            likelihoods. A ``numpy.memmap`` (e.g. ``np.load(path, mmap_mode="r")``)
            is never loaded whole: it is checked in one pass and its rows are read
            as batches need them; the latent cache of RAT (N x n_components) is
            then the only per-exemplar state in memory.
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        self : ExemplarVAE
            The fitted estimator.
        """
        warm = self.warm_start and hasattr(self, "model_")
        X = self._validate_inputs(X, reset=not warm, copy=True)
        params = {**self.get_params(deep=False), "likelihood": self.likelihood_}
        spec = _checks.model_spec(params, X.shape[1])
        binarize = _checks.binarize(self.binarize, self.likelihood_)
        if warm:
            self._check_same_architecture(spec)
        self.device_ = _checks.device(self.device)
        if not self.distributed:
            with within_cpu_quota():
                return self._fit(X, spec, binarize, warm, SINGLE_PROCESS)
        self.device_ = rank_device(self.device_)
        group = join_process_group(self.device_)
        try:
            with within_cpu_quota():
                return self._fit(X, spec, binarize, warm, group)
        finally:
            group.close()

    def _fit(self, X, spec, binarize, warm, group):
        rng = check_random_state(self.random_state)
        if group.world_size > 1 and not isinstance(self.random_state, Integral):
            # Every rank must draw the same batches and subsets: take rank 0's stream.
            rng = np.random.RandomState(group.agree_on_seed(rng.randint(2**31)))
        generator = torch_generator(rng, self.device_)

        X_all = self._to_tensor(X)
        train_rows, val_rows = self._split_validation(len(X), rng, warm)
        X_train = select_rows(X_all, train_rows)
        if warm:
            # Training goes on where ``device`` says now, e.g. a CPU run on a GPU.
            self.model_.to(self.device_)
            self._device_centres = None
            resume_generator(generator, self._generator_state)
        else:
            self._spec = spec
            self.model_ = initial_model(spec, X_train, generator, rng, self.device_)
            self._trained_weights = self._optimizer_state = None
        self.M_ = self.n_neighbors_ = subsampler = None
        if self.model_.uses_exemplars:
            self.M_ = _checks.exemplars_per_step(self.M, self.leave_one_out, len(X_train))
            self.n_neighbors_ = _checks.neighbors_per_input(self.n_neighbors, self.M_)
            subsampler = self._exemplar_subsampler(X_train, rng, generator, group)
        weight_average = self._weight_average()
        self.precision_ = self._resolved_precision()
        optimizer = adam(self.model_.parameters(), lr=self.learning_rate_init)
        if self._optimizer_state is not None:
            optimizer.load_state_dict(self._optimizer_state)
        # Each rank draws its own latent and binarization noise; one process draws
        # everything from one stream.
        noise = rank_generator(generator, group)
        self.free_nats_ = _checks.free_nats(self.free_nats, self.architecture)
        objective = group.wrap(TrainingObjective(self.model_, noise, subsampler, self.free_nats_))

        def step_loss(batch, beta):
            x, index, weight = batch
            with autocast(self.precision_, self.device_):
                loss, reconstruction, kl = objective(x, index, beta)
            return loss * weight, reconstruction, kl

        first_epoch = self.n_iter_ if warm else 0
        validate = None
        if self.early_stopping:
            validate = validation_score(
                self.model_, X_all[val_rows], X_train, binarize, generator, group, self.precision_
            )
        printer = None
        if self.verbose and group.rank == 0:
            if self.likelihood == "auto" and not warm:
                note = _auto_likelihood_note(self.likelihood_)
                print(f"{type(self).__name__}: {note}", flush=True)
            if self.n_neighbors == "auto" and self.M_ is not None and not warm:
                note = _auto_neighbors_note(self.n_neighbors_, self.M_)
                print(f"{type(self).__name__}: {note}", flush=True)
            if self.free_nats == "auto" and self.free_nats_:
                note = _auto_free_nats_note(self.free_nats_, self.architecture)
                print(f"{type(self).__name__}: {note}", flush=True)
            printer = EpochReport(
                type(self).__name__,
                self.max_iter,
                first_epoch,
                self.model_.prior,
                may_stop_early=self.early_stopping,
            )
        records = []

        def report(entry):
            records.append(epoch_record(entry, self.model_.prior))
            if group.rank == 0:
                log_epoch(type(self).__name__, records[-1])
            if printer is not None:
                printer(entry)

        history = train(
            self.model_,
            optimizer,
            minibatches(X_train, self.batch_size, binarize, generator, noise, group),
            step_loss,
            max_iter=self.max_iter,
            first_epoch=first_epoch,
            kl_warmup=self.kl_warmup,
            validate=validate,
            n_iter_no_change=self.n_iter_no_change,
            report=report,
            average=group.average,
            weight_average=weight_average,
        )
        self._keep_training_state(weight_average, optimizer)
        self.exemplars_ = X
        self._encode_exemplars(X_all, group)
        self._generator_state = generator.get_state()
        self._record_history(history, records, warm)
        return self

    def _exemplar_subsampler(self, X_train, rng, generator, group):
        return exemplar_subsampler(
            X_train,
            self.M_,
            self.leave_one_out,
            self.n_neighbors_,
            index=self.index,
            index_refresh=self.index_refresh,
            batch_size=self.batch_size,
            n_components=self.n_components,
            rng=rng,
            generator=generator,
            group=group,
            device=self.device_,
            verbose=self.verbose,
        )

    def _weight_average(self):
        """The moving average of this fit; it continues the last fit's on a warm start.

        ``model_`` holds the last fit's averaged weights and ``_trained_weights`` the
        weights it trained, which training resumes from.
        """
        trained, n_updates = self._trained_weights or (None, 0)
        if self.ema_decay is None:
            if trained is not None:
                self.model_.load_state_dict(trained, strict=False)
            return None
        return WeightAverage(self.model_, self.ema_decay, trained, n_updates)

    def _keep_training_state(self, weight_average, optimizer):
        """What the next warm fit resumes from, kept only when ``warm_start`` asks for it.

        Adam's moments and the trained weights behind the average are three times the
        weights: a model that will not be trained further does not carry them.
        """
        self._trained_weights = self._optimizer_state = None
        if not self.warm_start:
            return
        self._optimizer_state = optimizer.state_dict()
        if weight_average is not None:
            self._trained_weights = (weight_average.trained, weight_average.n_updates)

    def _check_same_architecture(self, spec):
        changed = spec.changed_fields(self._spec)
        if changed:
            raise ValueError(
                f"warm_start=True continues training the fitted model, but {changed} "
                "changed since the last fit; set warm_start=False to fit a new model."
            )

    def _record_history(self, history, records, warm):
        if not warm:
            self.n_iter_, self.loss_curve_, self.history_ = 0, [], []
            self.validation_scores_ = [] if self.early_stopping else None
        self.n_iter_ += len(history)
        self.history_ = self.history_ + records
        self.loss_curve_ = self.loss_curve_ + [entry.loss for entry in history]
        self.best_validation_score_ = None
        if self.early_stopping:
            scores = [entry.validation_score for entry in history]
            self.validation_scores_ = (self.validation_scores_ or []) + scores
            self.best_validation_score_ = max(self.validation_scores_)
        self.sigma_ = self.model_.prior.scalars.get("sigma")

    def _split_validation(self, n_samples, rng, warm):
        """Training and validation rows; a warm start keeps the first fit's split.

        Even with ``random_state=None``: otherwise rows held out in one fit would be
        trained on in the next and the early-stopping score would see them.
        """
        if not self.early_stopping:
            return slice(None), None
        n_val = _checks.validation_size(self.validation_fraction, n_samples)
        if not (warm and hasattr(self, "_validation_seed")):
            self._validation_seed = rng.randint(2**31)
        return validation_split(n_samples, n_val, self._validation_seed)

    # ----------------------------------------------------------- inference
    def transform(self, X):
        """Posterior means ``mu(x)``, the latent representation.

        For the two-level architectures these are the means of the top latent ``z2``,
        the one the prior (and its exemplars) lives on.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        Z : ndarray of shape (n_samples, n_components)
            In ``X``'s float dtype (float32 or float64).
        """
        check_is_fitted(self)
        X_in = X
        X = self._validate_inputs(X, reset=False)
        with torch.no_grad(), self._autocast():
            Z = encode_means(self.model_.encoder, self._to_tensor(X))
        return Z.cpu().numpy().astype(output_dtype(X_in), copy=False)

    def inverse_transform(self, Z):
        """Decoder means ``E[x|z]`` (probabilities for the bernoulli likelihood).

        Parameters
        ----------
        Z : array-like of shape (n_samples, n_components)

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
        """
        check_is_fitted(self)
        dtype = output_dtype(Z)
        Z = check_array(Z, dtype=np.float32, input_name="Z")
        if Z.shape[1] != self.n_components:
            raise ValueError(
                f"Z has {Z.shape[1]} columns, but ExemplarVAE has n_components={self.n_components}."
            )
        with torch.no_grad(), self._autocast():
            X = decode(self.model_, self._to_tensor(Z))
        return X.cpu().numpy().astype(dtype, copy=False)

    def score_samples(self, X):
        """IWAE estimate of ``log p(x)`` in nats, one per row.

        Uses ``n_importance_samples`` samples from ``q(z|x)`` and, for the exemplar
        prior, every exemplar (no leave-one-out, no subsampling). The same standard
        normal draws serve every row, so a row's score does not depend on the rows
        scored with it. The estimate is a stochastic lower bound that tightens as
        ``n_importance_samples`` grows.

        With the bernoulli likelihood the score is a log-probability only for binary
        inputs; for grey values in (0, 1) it is a cross-entropy. Binarize held-out
        data (once, with a fixed seed) before comparing likelihoods.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_density : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        X = self._to_tensor(self._validate_inputs(X, reset=False))
        generator = torch_generator(check_random_state(self.random_state), self.device_)
        noise = torch.randn(
            self.n_importance_samples,
            self.model_.noise_dim,
            generator=generator,
            device=self.device_,
        )
        centres = self._latent_centres()
        index = self._neighbour_index(centres)
        progress = None
        if self.verbose:
            progress = ThrottledProgress(f"[{type(self).__name__}] score_samples, rows")
        with self._autocast(), within_cpu_quota():
            scores = log_density(
                self.model_, X, noise, centres, index, self.score_neighbors, progress
            )
        return scores.cpu().numpy().astype(np.float64)

    def _neighbour_index(self, centres):
        """The kNN index over the exemplar latents when ``score_neighbors`` asks for one."""
        if centres is None or self.score_neighbors is None:
            return None
        return self.index_ if self.index_ is not None else self._scoring_index(centres)

    def _scoring_index(self, centres):
        seed = check_random_state(self.random_state).randint(2**31)
        return scoring_index(self.index, centres, seed, self.verbose)

    def _encode_exemplars(self, X, group=SINGLE_PROCESS):
        """Set ``exemplar_latents_`` (and ``index_``) from the exemplar rows ``X``.

        ``X`` is a tensor on the device or the reader of a memmap's rows.
        """
        with self._autocast():
            centres = exemplar_latents(self.model_, X, group)
        self._device_centres = centres
        self.exemplar_latents_ = None if centres is None else centres.cpu().numpy()
        self.index_ = None
        if centres is not None and self.score_neighbors is not None:
            self.index_ = self._scoring_index(centres)

    def _latent_centres(self):
        """``exemplar_latents_`` as a tensor on the device (None for the other priors)."""
        if not self.model_.uses_exemplars:
            return None
        if self.exemplar_latents_ is None:
            raise ValueError(
                "This ExemplarVAE was saved by an older skexvae without its exemplars; "
                "call set_exemplars(X) with its training rows to score or sample."
            )
        if getattr(self, "_device_centres", None) is None:
            self._device_centres = torch.from_numpy(self.exemplar_latents_).to(self.device_)
        return self._device_centres

    def score(self, X, y=None):
        """Mean IWAE log-likelihood of ``X`` in nats (higher is better).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : Ignored

        Returns
        -------
        score : float
        """
        return float(np.mean(self.score_samples(X)))

    def sample(self, n_samples=1, random_state=None, *, return_mean=False):
        """Draw new data from the model.

        Pick a prior component (an exemplar, uniformly, for the exemplar prior), draw
        ``z`` from it, then ``x ~ p(x|z)``.

        Parameters
        ----------
        n_samples : int, default=1
        random_state : int, RandomState instance or None, default=None
            Defaults to the estimator's ``random_state``.
        return_mean : bool, default=False
            Return the decoder means ``E[x|z]`` instead of draws from ``p(x|z)``.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
        component : ndarray of shape (n_samples,)
            Index into ``exemplars_`` (exemplar prior), of the pseudo-input (VampPrior),
            or 0 (Gaussian prior), like the labels of ``GaussianMixture.sample``.
        """
        check_is_fitted(self)
        n_samples = _checks.n_samples(n_samples)
        generator = self._sampling_generator(random_state)
        with self._autocast():
            X, component = generate(
                self.model_,
                n_samples,
                generator,
                self.device_,
                self._latent_centres(),
                return_mean,
            )
        return X.cpu().numpy().astype(np.float64), component.cpu().numpy()

    def sample_from_exemplars(self, X, n_samples=1, random_state=None, *, return_mean=False):
        """Generate new data around given inputs (exemplar-conditioned generation).

        For the exemplar prior, ``z ~ r(z|x) = N(mu(x), sigma^2 I)`` (paper Fig. 3); for
        the other priors, ``z ~ q(z|x)``, as the paper does for its baselines. Then
        ``x ~ p(x|z)`` or its mean.

        Parameters
        ----------
        X : array-like of shape (n_inputs, n_features)
            Reference inputs; they need not be exemplars.
        n_samples : int, default=1
            New rows per reference input.
        random_state : int, RandomState instance or None, default=None
            Defaults to the estimator's ``random_state``.
        return_mean : bool, default=False
            Return decoder means instead of draws from ``p(x|z)``.

        Returns
        -------
        X_new : ndarray of shape (n_inputs * n_samples, n_features)
            Rows ``i * n_samples`` to ``(i + 1) * n_samples - 1`` come from input ``i``.
        source : ndarray of shape (n_inputs * n_samples,)
            Row of ``X`` each new row comes from.
        """
        check_is_fitted(self)
        n_samples = _checks.n_samples(n_samples)
        # Read whole: the output holds n_samples rows per input anyway.
        X = self._whole_tensor(X)
        generator = self._sampling_generator(random_state)
        with self._autocast():
            X_new, source = generate_around(self.model_, X, n_samples, generator, return_mean)
        return X_new.cpu().numpy().astype(np.float64), source.cpu().numpy()

    def explain(self, X, n_exemplars=5):
        """The exemplars that explain each input most: exemplar attribution.

        The exemplar prior is a mixture with one component per exemplar; the weight
        of exemplar ``n`` for an input ``x`` is its posterior responsibility
        ``p(n | x)``, with ``q(z|x) = N(mu(x), Lambda(x))`` in place of the exact
        posterior, which has a closed form:

        ``p(n | x) = N(mu(x); mu(x_n), Lambda(x) + sigma^2 I) / sum_m N(mu(x); mu(x_m),
        Lambda(x) + sigma^2 I)``,

        normalised over all exemplars, exactly: one pass over ``exemplar_latents_``,
        O(N n_components) per row (0.53 s for 1 000 rows against 50 000 exemplars
        on 2 CPU cores, ``benchmarks/attribution.py``). With ``score_neighbors`` set,
        as for :meth:`score_samples`, only the ``max(score_neighbors, n_exemplars)``
        exemplars nearest to ``mu(x)`` in ``index_`` are summed, for very large
        exemplar sets; the weights are then upper bounds, as exact as the share of
        the responsibility those exemplars carry. A training row's own exemplar is
        at distance zero, so it explains itself first. For the VampPrior the
        components are the pseudo-inputs ``u_k``, with the covariance of
        ``q(z|u_k)`` in place of ``sigma^2 I``; the Gaussian prior has a single
        component and nothing to attribute.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs to explain; they need not be exemplars.
        n_exemplars : int, default=5
            Exemplars (pseudo-inputs for the VampPrior) to return per row, at most
            their number.

        Returns
        -------
        indices : ndarray of shape (n_samples, n_exemplars)
            Rows of ``exemplars_`` (``exemplar_latents_``), most responsible first;
            for the VampPrior, rows of ``model_.prior.pseudo_inputs``.
        weights : ndarray of shape (n_samples, n_exemplars)
            Their responsibilities, descending. Each row sums to at most 1; the rest
            is the share of the other exemplars.

        Examples
        --------
        >>> from sklearn.datasets import load_digits
        >>> from skexvae import ExemplarVAE
        >>> X = load_digits().data[:200] / 16
        >>> vae = ExemplarVAE(n_components=4, hidden_layer_sizes=(32,), max_iter=5,
        ...                   likelihood="gaussian", random_state=0).fit(X)
        >>> indices, weights = vae.explain(X[:3], n_exemplars=2)
        >>> indices[:, 0]  # each training row is explained by itself first
        array([0, 1, 2])
        >>> bool((weights[:, 0] >= weights[:, 1]).all())
        True
        """
        check_is_fitted(self)
        components = self._mixture_components()
        if components is None or (len(components[0]) == 1 and not self.model_.uses_exemplars):
            raise ValueError(
                f"explain attributes inputs to the components of a mixture prior; "
                f"prior={self._spec.prior!r} has a single component. Use "
                "prior='exemplar' (or 'vamp', whose components are its pseudo-inputs)."
            )
        n_components = len(components[0])
        if (
            isinstance(n_exemplars, bool)
            or not isinstance(n_exemplars, Integral)
            or not (1 <= n_exemplars <= n_components)
        ):
            raise ValueError(
                f"n_exemplars must be an integer in [1, {n_components}] (the prior's "
                f"components), got {n_exemplars!r}."
            )
        X = self._whole_tensor(X)
        index = self._neighbour_index(self._latent_centres())
        n_candidates = None
        if index is not None:
            n_candidates = min(max(self.score_neighbors, n_exemplars), n_components)
        with self._autocast():
            indices, weights = responsibilities(
                self.model_, X, components, n_exemplars, index, n_candidates
            )
        return indices.cpu().numpy(), weights.cpu().numpy().astype(np.float64)

    def latent_log_density(self, X):
        """Log-density of each input's code under the prior: ``log int q(z|x) p(z) dz``.

        For the exemplar prior it is ``log 1/N sum_n N(mu(x); mu(x_n), Lambda(x) +
        sigma^2 I)``: a kernel density of the exemplars in the latent space, with
        the input's posterior spread added to each kernel. Unlike
        :meth:`score_samples` it ignores how well the decoder reconstructs ``x``,
        which favours simple inputs (little ink) whatever their kind; it is the
        ``density="latent"`` of :class:`ExemplarNoveltyDetector`. It is the normaliser of
        :meth:`explain`'s responsibilities, exact over all exemplars. For the
        VampPrior the components are the pseudo-inputs' posteriors, for the
        Gaussian prior ``N(0, I)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_density : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        components = self._mixture_components()
        X = self._whole_tensor(X)
        with self._autocast():
            scores = latent_log_density(self.model_, X, components)
        return scores.cpu().numpy().astype(np.float64)

    def _mixture_components(self):
        with torch.no_grad():
            return self.model_.prior.mixture_components(self.model_.encoder, self._latent_centres())

    def set_exemplars(self, X):
        """Replace the exemplars of the prior without retraining.

        The paper notes that an Exemplar VAE can be trained with one exemplar set and
        used with another, for example a larger one. Encodes them once into
        ``exemplar_latents_`` (and ``index_``), which :meth:`score_samples` and
        :meth:`sample` read; call it again after changing ``model_``'s weights.

        Parameters
        ----------
        X : array-like of shape (n_exemplars, n_features)

        Returns
        -------
        self : ExemplarVAE
        """
        check_is_fitted(self)
        X = self._validate_inputs(X, reset=False, copy=True)
        if len(X) == 0:
            raise ValueError("set_exemplars needs at least one exemplar.")
        self.exemplars_ = X
        self._encode_exemplars(self._to_tensor(X))
        return self

    # ------------------------------------------------------------- helpers
    def _validate_inputs(self, X, reset, copy=False):
        """The checked float array; a memory-mapped ``X`` is checked in place and returned."""
        mapped = is_mapped(X)
        X_checked = validate_data(
            self,
            X,
            reset=reset,
            # A memmap keeps its float dtype and is never copied: its rows are read
            # (and cast to float32) batch by batch.
            dtype=[np.float32, np.float64] if mapped else np.float32,
            copy=copy and not mapped,
            ensure_min_samples=2 if reset else 1,
        )
        if reset:
            self.likelihood_ = _checks.likelihood(self.likelihood, X_checked)
        low, high = LIKELIHOODS[self.likelihood_].data_range
        if X_checked.size and (X_checked.min() < low or X_checked.max() > high):
            chosen = " (chosen by likelihood='auto' at fit)" if self.likelihood == "auto" else ""
            raise ValueError(
                f"likelihood={self.likelihood_!r}{chosen} needs inputs in [{low:g}, "
                f"{high:g}], got values in [{X_checked.min():g}, {X_checked.max():g}]. "
                "Rescale the data (e.g. with MinMaxScaler) or use likelihood='gaussian'."
            )
        return X if mapped else X_checked

    def _resolved_precision(self):
        """``precision`` resolved on ``device_`` for the fitted networks' width."""
        width = max(self._spec.hidden_layer_sizes)
        return resolve_precision(self.precision, self.device_, width)

    def _autocast(self):
        """Inference's precision context: the current ``precision``, on this device."""
        return autocast(self._resolved_precision(), self.device_)

    def _whole_tensor(self, X):
        """The checked rows of ``X`` as one tensor on the device, a memmap read whole."""
        return self._to_tensor(np.asarray(self._validate_inputs(X, reset=False)))

    def _to_tensor(self, X):
        """All rows as a tensor on the device, or, for a memmap, a reader of its rows."""
        if is_mapped(X):
            return MappedRows(X, self.device_)
        # torch refuses read-only arrays (broadcast views) without a copy.
        if not X.flags.writeable:
            X = X.copy()
        return torch.from_numpy(X).to(self.device_)

    def _sampling_generator(self, random_state):
        seed_source = self.random_state if random_state is None else random_state
        return torch_generator(check_random_state(seed_source), self.device_)

    @property
    def _n_features_out(self):
        return self.n_components

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    # ----------------------------------------------------------- pickling
    def __getstate__(self):
        # super() may return self.__dict__ itself: portable_state copies it.
        return portable_state(super().__getstate__())

    def __setstate__(self, state):
        state, model_state = loaded_state(state)
        super().__setstate__(state)
        if model_state is not None:
            self.device_ = _checks.device(str(self.device_), fallback=True)
            self.model_ = rebuild_model(self._spec, model_state, self.device_)
            self._restore_latents()

    def _restore_latents(self):
        """Give ``index_`` its latents back, or encode those of an older pickle."""
        if "exemplar_latents_" in self.__dict__:
            if self.index_ is not None:
                self.index_.cache = self._latent_centres()
        elif getattr(self, "exemplars_", None) is not None:
            # Pickled before the latents were fitted state, with its rows.
            self._encode_exemplars(self._to_tensor(self.exemplars_))
        else:
            # ... or without them (a lean bench checkpoint): set_exemplars encodes them.
            self.exemplar_latents_ = self.index_ = None


def _auto_neighbors_note(n_neighbors, M):
    if n_neighbors is None:
        return f"n_neighbors='auto' chose the exact prior: {M} exemplars per step"
    return (
        f"n_neighbors='auto' chose RAT with {n_neighbors} neighbours: an exact step "
        f"would encode {M} exemplars"
    )


def _auto_free_nats_note(free_nats, architecture):
    return (
        f"free_nats='auto' leaves {free_nats:g} nats of KL per input unpenalised, "
        f"against posterior collapse under the {architecture} decoder"
    )


def _auto_likelihood_note(likelihood):
    where = "lie in [0, 1]" if likelihood == "bernoulli" else "are not all in [0, 1]"
    return f"likelihood='auto' chose {likelihood!r}: the training data {where}"
