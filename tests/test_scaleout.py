"""Scale-out: search on Dask and Ray, data-parallel fits, memory-mapped exemplar sets."""

import json
import os
import pickle
import socket
import subprocess
import sys
import tracemalloc
from pathlib import Path

import joblib
import numpy as np
import pytest
import torch
from conftest import FAST
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline

from skexvae import ExemplarAugmenter, ExemplarVAE

GRID = {"sigma": [0.3, "learn"], "M": [0.25, 0.5]}
# The data-parallel tests run gloo on the CPU, also on a machine with a GPU.
TINY = {
    "n_components": 4,
    "hidden_layer_sizes": (16,),
    "max_iter": 2,
    "random_state": 0,
    "device": "cpu",
}


def _search(X, n_jobs=None):
    vae = ExemplarVAE(**FAST, random_state=0)
    return GridSearchCV(vae, GRID, cv=2, n_jobs=n_jobs).fit(X)


def _pipeline_scores(X, y):
    vae = ExemplarVAE(**FAST, random_state=0)
    pipe = make_pipeline(
        ExemplarAugmenter(vae, random_state=0), MLPClassifier((16,), max_iter=50, random_state=0)
    )
    return cross_val_score(pipe, X, y, cv=2)


@pytest.fixture(scope="module")
def sequential_results(small_digits):
    # Workers run torch on one thread; so does the reference, for identical arithmetic.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        X, y = small_digits
        return _search(X), _pipeline_scores(X, y)
    finally:
        torch.set_num_threads(threads)


def _check_same_search(search, reference):
    assert search.best_params_ == reference.best_params_
    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"], reference.cv_results_["mean_test_score"], rtol=1e-5
    )
    # The refitted best estimator came back through pickling and still works.
    assert np.isfinite(search.score(np.asarray(search.best_estimator_.exemplars_[:5])))


@pytest.mark.slow
def test_grid_search_and_pipeline_cv_on_a_dask_local_cluster(small_digits, sequential_results):
    distributed = pytest.importorskip("distributed")
    X, y = small_digits
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
        joblib.parallel_config(backend="dask"),
    ):
        search = _search(X, n_jobs=-1)
        scores = _pipeline_scores(X, y)
        workers = client.run(os.getpid)
    assert len(set(workers.values())) == 2  # two worker processes did the work
    reference_search, reference_scores = sequential_results
    _check_same_search(search, reference_search)
    np.testing.assert_allclose(scores, reference_scores, rtol=1e-5)


@pytest.mark.slow
def test_grid_search_on_ray(small_digits, sequential_results):
    ray = pytest.importorskip("ray")
    from ray.util.joblib import register_ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        register_ray()
        with joblib.parallel_config(backend="ray"):
            search = _search(small_digits[0], n_jobs=-1)
    finally:
        ray.shutdown()
    _check_same_search(search, sequential_results[0])


# ------------------------------------------------------------ data-parallel (DDP)
def _torchrun(tmp_path, n_ranks, params):
    """Run tests/ddp_worker.py on ``n_ranks`` gloo processes; the ranks' saved states."""
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={n_ranks}",
        str(Path(__file__).with_name("ddp_worker.py")),
        str(tmp_path),
        json.dumps(params),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return [torch.load(tmp_path / f"rank{r}.pt") for r in range(n_ranks)]


def _assert_same_weights(first, second):
    assert first.keys() == second.keys()
    for name in first:
        torch.testing.assert_close(first[name], second[name], rtol=0, atol=0)


@pytest.mark.slow
def test_two_gloo_ranks_keep_identical_latent_caches_and_weights(tmp_path):
    # 240 rows in global batches of 40 split 20/20: each rank writes other cache rows,
    # and after the one refresh (index_refresh=1000) only the step-by-step exchange
    # of written rows can keep the caches equal.
    params = {**TINY, "batch_size": 40, "n_neighbors": 3, "index_refresh": 1000}
    rank0, rank1 = _torchrun(tmp_path, 2, params)
    assert rank0["world_size"] == 2
    torch.testing.assert_close(rank0["cache"], rank1["cache"], rtol=0, atol=0)
    _assert_same_weights(rank0["state"], rank1["state"])
    assert rank0["loss_curve"] == rank1["loss_curve"]  # averaged over the ranks


@pytest.mark.slow
def test_two_gloo_ranks_share_the_exact_prior_and_early_stopping(tmp_path):
    params = {**TINY, "batch_size": 37, "M": 0.5, "early_stopping": True}
    rank0, rank1 = _torchrun(tmp_path, 2, params)
    _assert_same_weights(rank0["state"], rank1["state"])
    assert rank0["validation_scores"] == rank1["validation_scores"]


@pytest.fixture
def one_rank_group():
    """A gloo process group of this process alone."""
    import torch.distributed as dist

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=0, world_size=1)
    yield
    dist.destroy_process_group()


@pytest.mark.parametrize("extra", [{"n_neighbors": 3}, {}, {"early_stopping": True}])
def test_one_rank_trains_exactly_like_one_process(small_digits, one_rank_group, extra):
    X = small_digits[0][:200]
    params = {**TINY, "batch_size": 37, **extra}
    plain = ExemplarVAE(**params).fit(X)
    ranked = ExemplarVAE(distributed=True, **params).fit(X)
    _assert_same_weights(plain.model_.state_dict(), ranked.model_.state_dict())
    assert plain.loss_curve_ == ranked.loss_curve_


needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@needs_cuda
@pytest.mark.slow
def test_one_nccl_rank_on_the_gpu_trains_like_one_process(tmp_path, small_digits):
    params = {**TINY, "device": "cuda", "batch_size": 40, "n_neighbors": 3}
    (rank0,) = _torchrun(tmp_path, 1, params)
    X = np.random.default_rng(0).uniform(size=(240, 16)).astype(np.float32)  # the worker's
    plain = ExemplarVAE(**params).fit(X)
    for name, value in plain.model_.state_dict().items():
        torch.testing.assert_close(rank0["state"][name].cpu(), value.cpu())


@needs_cuda
def test_a_gpu_rank_needs_nccl_and_a_gpu(small_digits, one_rank_group, monkeypatch):
    with pytest.raises(ValueError, match="needs the nccl backend"):
        ExemplarVAE(distributed=True, **{**TINY, "device": "cuda"}).fit(small_digits[0])
    monkeypatch.setenv("LOCAL_RANK", str(torch.cuda.device_count()))
    with pytest.raises(ValueError, match="has none"):
        ExemplarVAE(distributed=True, **{**TINY, "device": "cuda"}).fit(small_digits[0])


def test_distributed_outside_torchrun_says_how_to_launch(small_digits, monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValueError, match="torchrun --nproc-per-node"):
        ExemplarVAE(distributed=True, **TINY).fit(small_digits[0])


# ------------------------------------------------------------------ memory maps
@pytest.fixture
def mapped(tmp_path, small_digits):
    path = tmp_path / "digits.npy"
    np.save(path, small_digits[0])
    return np.load(path, mmap_mode="r")


@pytest.mark.parametrize(
    "extra", [{}, {"n_neighbors": 3}, {"early_stopping": True}, {"prior": "vamp"}]
)
def test_a_memory_mapped_fit_equals_the_in_memory_fit(small_digits, mapped, extra):
    params = {**FAST, "random_state": 0, "n_pseudo_inputs": 10, **extra}
    in_memory = ExemplarVAE(**params).fit(small_digits[0])
    from_disk = ExemplarVAE(**params).fit(mapped)
    assert from_disk.exemplars_ is mapped  # a reference, not a copy
    _assert_same_weights(in_memory.model_.state_dict(), from_disk.model_.state_dict())
    np.testing.assert_allclose(from_disk.transform(mapped), in_memory.transform(mapped))
    np.testing.assert_allclose(
        from_disk.score_samples(mapped[:20]), in_memory.score_samples(mapped[:20]), rtol=1e-5
    )
    np.testing.assert_array_equal(from_disk.sample(5)[0], in_memory.sample(5)[0])
    np.testing.assert_array_equal(
        from_disk.sample_from_exemplars(mapped[:3], 2)[0],
        in_memory.sample_from_exemplars(small_digits[0][:3], 2)[0],
    )


def test_a_memory_mapped_fit_never_holds_the_array(tmp_path):
    n, d = 40_000, 784
    path = tmp_path / "big.npy"
    big = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, d))
    for start in range(0, n, 10_000):
        big[start : start + 10_000] = np.random.default_rng(start).uniform(size=(10_000, d)) < 0.2
    big.flush()
    del big
    X = np.load(path, mmap_mode="r")
    params = {"n_components": 4, "hidden_layer_sizes": (16,), "max_iter": 1, "n_neighbors": 3}
    ExemplarVAE(**params).fit(X[:50])  # imports that the first fit triggers are not data
    vae = ExemplarVAE(**params)
    tracemalloc.start()
    try:
        vae.fit(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # numpy allocations only (torch's are not traced): chunks of rows being read,
    # about 17 MB each, against 125 MB for a copy of the array.
    assert peak < X.nbytes / 3, f"numpy peaked at {peak / 1e6:.1f} MB"
    assert vae.exemplars_ is X


def test_a_memory_mapped_estimator_pickles_its_file_reference(mapped, tmp_path):
    vae = ExemplarVAE(**FAST, random_state=0).fit(mapped[100:])  # a slice of the file
    blob = pickle.dumps(vae)
    assert np.ascontiguousarray(mapped[100:110]).tobytes() not in blob  # they stayed on disk
    loaded = pickle.loads(blob)
    assert isinstance(loaded.exemplars_, np.memmap)
    np.testing.assert_array_equal(loaded.exemplars_, mapped[100:])
    expected = vae.score_samples(mapped[:5])
    np.testing.assert_allclose(loaded.score_samples(mapped[:5]), expected)
    mapped_copy = np.array(mapped[:5])

    del loaded
    os.replace(mapped.filename, tmp_path / "moved.npy")
    with pytest.warns(UserWarning, match="does not exist on this machine"):
        moved = pickle.loads(blob)
    # The prior needs only the latents: it scores as before, without the rows.
    assert moved.exemplars_ is None
    np.testing.assert_allclose(moved.score_samples(mapped_copy[:5]), expected)


def test_memory_mapped_inputs_are_checked_without_copying(tmp_path, small_digits):
    path = tmp_path / "bad.npy"
    bad = small_digits[0].astype(np.float64)
    bad[3, 5] = np.nan
    np.save(path, bad)
    with pytest.raises(ValueError, match="NaN"):
        ExemplarVAE(**FAST).fit(np.load(path, mmap_mode="r"))
    bad[3, 5] = 2.0
    np.save(path, bad)
    with pytest.raises(ValueError, match=r"inputs in \[0, 1\]"):
        ExemplarVAE(**FAST, likelihood="bernoulli").fit(np.load(path, mmap_mode="r"))
