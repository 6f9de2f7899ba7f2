"""Retrieval-augmented training (RAT) on real MNIST: speed, scaling, retrieval quality.

    python benchmarks/rat.py --data-home ../shared/data/mnist

Writes ``benchmarks/results/rat.json`` and ``rat.md``. MLP VAE of the paper
(784-300-300-40), batch 100, on however many cores torch uses (2 here). Skips with a
message (exit 0) when the MNIST files are absent. ``--quick`` runs every section on
small sizes to check the harness (a minute or two).
"""

import argparse
import contextlib
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from _common import binarize_once, load_mnist_splits, write_results

from skexvae import ExemplarVAE
from skexvae._objective import training_loss
from skexvae._precision import autocast, resolve_precision
from skexvae._subsampling import ExemplarSubsampler, RetrievalSubsampler
from skexvae._training import normalize_gradients
from skexvae.models._priors import posterior_sample
from skexvae.retrieval import ExactIndex, NNDescentIndex

RESULTS = Path(__file__).resolve().parent / "results"
BATCH = 100


def timed_fit(X, **params):
    start = time.perf_counter()
    vae = ExemplarVAE(max_iter=1, random_state=0, **params).fit(X)
    return time.perf_counter() - start, vae


def exact_step_seconds(X, M, n_steps=5, precision="float32"):
    """Seconds per training step of the exact prior with an M-subset (one epoch is N/100 steps).

    ``precision`` is the networks' arithmetic, as the estimator's parameter.
    """
    _, vae = timed_fit(X[:500], M=10)  # any fitted model: the step cost does not depend on it
    model, Xt = vae.model_, torch.from_numpy(X)
    generator = torch.Generator().manual_seed(0)
    sampler = ExemplarSubsampler(Xt, M, True, generator)
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-4)
    times = []
    for _ in range(n_steps + 1):
        start = time.perf_counter()
        index = torch.randint(len(Xt), (BATCH,), generator=generator)
        x = torch.bernoulli(Xt[index], generator=generator)
        with autocast(resolve_precision(precision, torch.device("cpu")), torch.device("cpu")):
            loss, _, _ = training_loss(model, x, index, 1.0, generator, sampler)
        optimizer.zero_grad()
        loss.backward()
        normalize_gradients(list(model.parameters()))
        optimizer.step()
        times.append(time.perf_counter() - start)
    return float(np.median(times[1:]))


def epoch_times(X):
    """Section 1: one epoch of each prior, side by side, in this process."""
    n = len(X)
    rows = {}
    for name, params in [
        ("gaussian", {"prior": "gaussian"}),
        ("vamp (500 pseudo-inputs)", {"prior": "vamp"}),
        ("exemplar RAT K=10, exact index", {"n_neighbors": 10, "index": "exact"}),
        ("exemplar RAT K=10, pynndescent", {"n_neighbors": 10, "index": "pynndescent"}),
    ]:
        rows[name] = timed_fit(X, **params)[0]
        print(f"  {name}: {rows[name]:.1f} s/epoch", flush=True)
    step = exact_step_seconds(X, n // 2)
    rows[f"exemplar exact M=N/2 (from {5} steps)"] = step * math.ceil(n / BATCH)
    vamp = rows["vamp (500 pseudo-inputs)"]
    exact = rows[f"exemplar exact M=N/2 (from {5} steps)"]
    return {
        name: {
            "seconds_per_epoch": s,
            "us_per_sample": 1e6 * s / n,
            "vs_vamp": s / vamp,
            "speedup_of_rat_over_exact": exact / s if "RAT" in name else None,
        }
        for name, s in rows.items()
    }


def scaling(X, sizes, tiled_sizes):
    """Section 2a: per-sample epoch cost of RAT and of the exact prior as N grows.

    Beyond the 50k real images (``tiled_sizes``), the training set is tiled with
    fresh pixel noise, and only the pynndescent backend is timed.
    """
    out = []
    for n in sizes + tiled_sizes:
        data = X[:n] if n <= len(X) else tiled(X, n)
        row = {"N": n, "tiled": n > len(X)}
        for index in ("pynndescent",) if row["tiled"] else ("exact", "pynndescent"):
            with counting_neighbours() as union:
                seconds, _ = timed_fit(data, n_neighbors=10, index=index)
            row[f"rat_{index}_us_per_sample"] = 1e6 * seconds / n
            row["exemplars_encoded_per_step"] = float(np.mean(union))
        if not row["tiled"]:
            step = exact_step_seconds(data, n // 2, 3)
            row["exact_M=N/2_us_per_sample"] = 1e6 * step / BATCH
        print(f"  N={n}: {row}", flush=True)
        out.append(row)
    return out


def tiled(X, n, noise=0.05, seed=0):
    """``n`` rows: copies of ``X`` with fresh uniform pixel noise, clipped to [0, 1]."""
    rng = np.random.default_rng(seed)
    rows = np.resize(np.arange(len(X)), n)
    jitter = rng.uniform(-noise, noise, size=(n, X.shape[1])).astype(np.float32)
    return np.clip(X[rows] + jitter, 0.0, 1.0)


@contextlib.contextmanager
def counting_neighbours():
    """Record how many exemplars each RAT step re-encodes (the batch's neighbour union)."""
    counts, original = [], RetrievalSubsampler.__call__

    def counted(self, *args):
        centres, exclude, n_total = original(self, *args)
        counts.append(len(centres))
        return centres, exclude, n_total

    RetrievalSubsampler.__call__ = counted
    try:
        yield counts
    finally:
        RetrievalSubsampler.__call__ = original


def clustered_points(n, d=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    centres = 3 * torch.randn(max(n // 500, 1), d, generator=g)
    return centres[torch.randint(len(centres), (n,), generator=g)] + torch.randn(n, d, generator=g)


def index_alone(sizes, k=11):
    """Section 2b: build and query time of each backend on synthetic 40-D points."""
    out = []
    for n in sizes:
        points = clustered_points(n)
        queries = points[:BATCH] + 0.1
        start = time.perf_counter()
        nnd = NNDescentIndex(random_state=0).build(points)
        build = time.perf_counter() - start
        row = {"N": n, "pynndescent_build_s": build}
        for name, index in (("exact", ExactIndex().build(points)), ("pynndescent", nnd)):
            index.query(queries, k)
            start = time.perf_counter()
            for _ in range(10):
                index.query(queries, k)
            row[f"{name}_query_ms_per_batch"] = 100 * (time.perf_counter() - start)
        steps = math.ceil(n / BATCH)
        row["exact_index_s_per_epoch"] = steps * row["exact_query_ms_per_batch"] / 1e3
        row["pynndescent_index_s_per_epoch"] = (
            steps * row["pynndescent_query_ms_per_batch"] / 1e3 + build
        )
        print(f"  {row}", flush=True)
        out.append(row)
    return out


def quality(X_train, X_val, epochs):
    """Section 3: recall@10 of pynndescent on a trained cache, and the bound gap."""
    vae = ExemplarVAE(n_neighbors=10, index="exact", max_iter=epochs, random_state=0)
    vae.fit(X_train)
    X_bin = binarize_once(X_val)
    rng = np.random.default_rng(0)
    cache = torch.from_numpy(vae.transform(X_train))
    z = torch.from_numpy(vae.transform(X_bin))
    z = z + 0.1 * torch.randn(z.shape, generator=torch.Generator().manual_seed(0))
    graph = NNDescentIndex(random_state=0).build(cache)
    recall = _recall(graph.query(z, 10), ExactIndex().build(cache).query(z, 10))
    # Training-time retrieval: samples around training exemplars, looked up through
    # those exemplars' graph neighbours (RetrievalSubsampler passes near_rows).
    rows = torch.from_numpy(rng.choice(len(X_train), 1000, replace=False))
    x_rows = torch.from_numpy(binarize_once(X_train[rows.numpy()], seed=1))
    with torch.no_grad():
        mean, log_var = vae.model_.encoder(x_rows)
    z_rows = posterior_sample(mean, log_var, torch.Generator().manual_seed(1))
    recall_lookup = _recall(
        graph.query(z_rows, 10, near_rows=rows), ExactIndex().build(cache).query(z_rows, 10)
    )
    vae.set_params(n_importance_samples=1, random_state=0)
    elbo_exact = vae.score_samples(X_bin)
    elbo_rat = vae.set_params(score_neighbors=10).score_samples(X_bin)
    return {
        "epochs": epochs,
        "recall@10": float(recall),
        "recall@10_training_lookup": float(recall_lookup),
        "elbo_exact_prior": float(elbo_exact.mean()),
        "elbo_rat_prior_k10": float(elbo_rat.mean()),
        "bound_gap_nats": float((elbo_exact - elbo_rat).mean()),
        "bound_gap_max_nats": float((elbo_exact - elbo_rat).max()),
        "sigma": vae.sigma_,
    }


def _number(value):
    return "—" if value is None else f"{value:.0f}"


def _recall(approx, exact):
    pairs = zip(approx.tolist(), exact.tolist(), strict=True)
    return float(np.mean([len(set(a) & set(e)) / len(e) for a, e in pairs]))


def trains_as_well(X_train, X_val, epochs):
    """Section 4: validation ELBO after the same epochs, RAT vs exact prior."""
    X_bin = binarize_once(X_val)
    out = {"N": len(X_train), "epochs": epochs}
    for name, params in (
        ("exact_M=N/2", {"n_neighbors": None}),
        ("rat_k10", {"n_neighbors": 10, "index": "exact"}),
    ):
        start = time.perf_counter()
        vae = ExemplarVAE(max_iter=epochs, random_state=0, **params).fit(X_train)
        out[f"{name}_fit_s"] = time.perf_counter() - start
        vae.set_params(n_importance_samples=1)
        out[f"{name}_val_elbo"] = float(vae.score(X_bin))
    return out


def markdown(result):
    lines = [f"Command: `{result['command']}`  ", f"Machine: {result['machine']}", ""]
    lines += [
        f"### Epoch time, N = {result['N']}",
        "",
        "| prior | s/epoch | µs/sample | × VampPrior | RAT speed-up over exact |",
        "|---|---|---|---|---|",
    ]
    for name, r in result["epoch_times"].items():
        speedup = f"{r['speedup_of_rat_over_exact']:.1f}×" if r["speedup_of_rat_over_exact"] else ""
        lines.append(
            f"| {name} | {r['seconds_per_epoch']:.1f} | {r['us_per_sample']:.0f} "
            f"| {r['vs_vamp']:.2f} | {speedup} |"
        )
    lines += [
        "",
        "### Scaling (µs per training sample)",
        "",
        "Rows marked * tile the training images with fresh ±0.05 pixel noise; pynndescent only. "
        "Exemplars encoded per step: the batch's deduplicated neighbour union (RAT "
        "pynndescent), at most 100 × 11.",
        "",
        "| N | RAT exact | RAT pynndescent | exemplars encoded per step | exact M=N/2 |",
        "|---|---|---|---|---|",
    ]
    for r in result["scaling"]:
        exact = r.get("rat_exact_us_per_sample")
        full = r.get("exact_M=N/2_us_per_sample")
        lines.append(
            f"| {r['N']}{' *' if r['tiled'] else ''} | {_number(exact)} "
            f"| {r['rat_pynndescent_us_per_sample']:.0f} "
            f"| {r['exemplars_encoded_per_step']:.0f} | {_number(full)} |"
        )
    lines += [
        "",
        "### Index alone (synthetic clustered 40-D, batch of 100 queries, k = 11)",
        "",
        "| N | pynndescent build s | exact query ms | pynndescent query ms | exact s/epoch "
        "| pynndescent s/epoch (incl. one build) |",
        "|---|---|---|---|---|---|",
    ]
    for r in result["index_alone"]:
        lines.append(
            f"| {r['N']} | {r['pynndescent_build_s']:.2f} | {r['exact_query_ms_per_batch']:.2f} "
            f"| {r['pynndescent_query_ms_per_batch']:.2f} | {r['exact_index_s_per_epoch']:.1f} "
            f"| {r['pynndescent_index_s_per_epoch']:.1f} |"
        )
    q, t = result["quality"], result["trains_as_well"]
    lines += [
        "",
        "### Retrieval quality",
        "",
        f"After {q['epochs']} epochs of RAT (N = {result['N']}): recall@10 of pynndescent "
        f"against exact kNN on the latent cache **{q['recall@10']:.3f}** for graph searches "
        f"from validation latents, **{q['recall@10_training_lookup']:.3f}** for the "
        f"training-time lookup (graph neighbours of each sample's exemplar); validation ELBO "
        f"(S = 1) with the exact prior {q['elbo_exact_prior']:.2f}, with the 10-NN prior "
        f"{q['elbo_rat_prior_k10']:.2f}: bound gap **{q['bound_gap_nats']:.3f} nats** on "
        f"average (max {q['bound_gap_max_nats']:.3f}), σ = {q['sigma']:.3f}.",
        "",
        "### Does RAT train as well?",
        "",
        f"N = {t['N']}, {t['epochs']} epochs: validation ELBO (exact prior, S = 1) exact M=N/2 "
        f"**{t['exact_M=N/2_val_elbo']:.2f}** ({t['exact_M=N/2_fit_s']:.0f} s) vs RAT K=10 "
        f"**{t['rat_k10_val_elbo']:.2f}** ({t['rat_k10_fit_s']:.0f} s).",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default="../shared/data/mnist")
    parser.add_argument("--quick", action="store_true", help="small sizes: checks the harness")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--max-index-n", type=int, default=None, help="cap section 2b's N")
    args = parser.parse_args(argv)
    data = load_mnist_splits(args.data_home, "train", "validation")
    if data is None:
        return 0
    X, X_val = data
    if args.quick:
        X, X_val = X[:3000], X_val[:300]
        sizes, tiled_sizes, index_sizes, quality_epochs, small, small_epochs = (
            [1000, 3000],
            [4000],
            [2000, 10000],
            1,
            1000,
            1,
        )
    else:
        X_val = X_val[:2000]
        sizes, index_sizes = [5000, 10000, 20000, 50000], [10_000, 100_000, 1_000_000]
        tiled_sizes = [100_000, 200_000]
        if args.max_index_n:
            index_sizes = [n for n in index_sizes if n <= args.max_index_n]
        quality_epochs, small, small_epochs = 5, 5000, 10
    print("[rat] warming up pynndescent (numba compiles once per process) ...", flush=True)
    NNDescentIndex(random_state=0).build(clustered_points(2000))
    timed_fit(X[:1000])  # first-fit overheads (allocator, kernels) stay out of the timings
    result = {
        "command": "python benchmarks/rat.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": (
            f"{platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads"
        ),
        "N": len(X),
    }
    print("[rat] 1. epoch times", flush=True)
    result["epoch_times"] = epoch_times(X)
    print("[rat] 2. scaling", flush=True)
    result["scaling"] = scaling(X, sizes, tiled_sizes)
    result["index_alone"] = index_alone(index_sizes)
    print("[rat] 3. retrieval quality", flush=True)
    result["quality"] = quality(X, X_val, quality_epochs)
    print("[rat] 4. RAT vs exact training", flush=True)
    result["trains_as_well"] = trains_as_well(X[:small], X_val[:1000], small_epochs)
    write_results(args.out, "rat", result, markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
