"""Scale-out: search on a local Dask cluster and on Ray, data-parallel fits, memory maps.

    python benchmarks/scaleout.py search --data-home ../shared/data/mnist [--quick]
    python benchmarks/scaleout.py ddp --data-home ../shared/data/mnist [--quick]
    python benchmarks/scaleout.py memmap [--n 1000000] [--quick]

``search``: GridSearchCV over ``sigma`` and ``M`` (2 x 2, cv=2) on MNIST training
images, run with ``n_jobs=1`` (one process, torch on every core), then on a Dask
``LocalCluster`` of 2 single-threaded worker processes, on Ray with 2 CPUs and on
joblib's default loky backend with ``n_jobs=2``; then the same with RAT over a
pynndescent index, where each worker process compiles numba's kernels once
(``skexvae.retrieval.warm_up_pynndescent`` pays that up front, on every worker).

``ddp``: ``torchrun`` with 1 and 2 gloo ranks (CPU), each fitting the same model for
the same number of epochs; wall time per optimisation step and the held-out ELBO.

``memmap``: writes N synthetic 784-D rows to an ``.npy`` file in chunks, then fits
from ``np.load(path, mmap_mode="r")`` in a fresh process (one epoch, RAT) and records
its peak memory: resident set (VmHWM, which counts the file's pages the kernel keeps
mapped, reclaimable), and the peak of anonymous memory (RssAnon, sampled), the
process's own allocations.

Each part writes ``benchmarks/results/scaleout-<part>[-quick].{json,md}``. ``search``
and ``ddp`` skip (exit 0) without MNIST.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import joblib
import numpy as np
import torch
from _common import load_mnist_splits, write_results
from sklearn.model_selection import GridSearchCV

from skexvae import ExemplarVAE
from skexvae.retrieval import warm_up_pynndescent

HERE = Path(__file__).parent
GRID = {"sigma": [0.5, "learn"], "M": [0.25, 0.5]}


# ---------------------------------------------------------------------- search
def timed_search(X, params, backend=None, n_jobs=None):
    estimator = ExemplarVAE(random_state=0, **params)
    search = GridSearchCV(estimator, GRID, cv=2, n_jobs=n_jobs)
    start = time.perf_counter()
    if backend is None:
        search.fit(X)
    else:
        with joblib.parallel_config(backend=backend):
            search.fit(X)
    return time.perf_counter() - start, search


def search_runs(X, params, label):
    """Seconds of the same search under each engine, and whether the results agree."""
    rows = []
    base, reference = timed_search(X, params)
    rows.append({"case": label, "engine": "n_jobs=1 (one process)", "seconds": base})

    def record(engine, seconds, search, setup=None):
        same = np.allclose(
            search.cv_results_["mean_test_score"],
            reference.cv_results_["mean_test_score"],
            rtol=1e-4,
        )
        rows.append(
            {
                "case": label,
                "engine": engine,
                "seconds": seconds,
                "speedup": base / seconds,
                "same_best_params": search.best_params_ == reference.best_params_,
                "same_scores_rtol_1e-4": bool(same),
                "setup_seconds": setup,
            }
        )

    import dask
    from distributed import Client, LocalCluster

    # Dask starts workers with MALLOC_TRIM_THRESHOLD_=65536, which turns off glibc's
    # adaptive mmap threshold: torch's large temporaries are then mapped and
    # zeroed afresh each time (measured: scoring 1.73 s against 0.88-1.05 s
    # without it). The tuned rows unset it, as docs/scaleout.md recommends.
    settings = {"tuned": {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}}
    if params.get("index") != "pynndescent":
        settings["default environment"] = {}
    for setting, config in settings.items():
        start = time.perf_counter()
        with (
            dask.config.set(config),
            LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster,
            Client(cluster),
        ):
            setup = time.perf_counter() - start
            engine = f"Dask LocalCluster, 2 workers x 1 thread, {setting}"
            if params.get("index") == "pynndescent":
                record(engine + ", cold workers", *timed_search(X, params, "dask"), setup)
                # The workers have compiled: a second search pays nothing, and neither
                # does a first one after warm_up_pynndescent has run on every worker.
                engine += ", warm workers"
            record(engine, *timed_search(X, params, "dask"), setup)

    import ray
    from ray.util.joblib import register_ray

    start = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    register_ray()
    try:
        setup = time.perf_counter() - start
        record("Ray, 2 CPUs", *timed_search(X, params, "ray", n_jobs=2), setup)
    finally:
        ray.shutdown()
    record("joblib loky, n_jobs=2", *timed_search(X, params, n_jobs=2))
    return rows


def run_search(args):
    loaded = load_mnist_splits(args.data_home, "train")
    if loaded is None:
        return
    X = loaded[0][: args.search_rows]
    common = {"max_iter": args.search_epochs, "n_importance_samples": 100}
    rows = search_runs(X, {**common, "n_neighbors": None}, "exact prior")
    if not args.quick:
        warm_up_pynndescent()  # the one-process run compiles too, before its clock starts
        rat = {**common, "n_neighbors": 10, "index": "pynndescent"}
        rows += search_runs(X, rat, "RAT, pynndescent index")
    result = {
        "command": " ".join(sys.argv),
        "rows": args.search_rows,
        "epochs": args.search_epochs,
        "grid": GRID,
        "cpus": os.cpu_count(),
        "runs": rows,
    }
    lines = [
        f"# GridSearchCV over sigma x M (2 x 2, cv=2): {args.search_rows} MNIST images, "
        f"{args.search_epochs} epochs per fit, {os.cpu_count()} CPUs",
        "",
        "| case | engine | seconds | speed-up | same results | engine start (s) |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        speedup = f"{row['speedup']:.2f}x" if "speedup" in row else "1"
        same = "reference"
        if "speedup" in row:
            same = "yes" if row["same_best_params"] and row["same_scores_rtol_1e-4"] else "NO"
        setup = f"{row['setup_seconds']:.1f}" if row.get("setup_seconds") else ""
        lines.append(
            f"| {row['case']} | {row['engine']} | {row['seconds']:.1f} | {speedup} | {same} "
            f"| {setup} |"
        )
    write_results(args.out, _name("scaleout-search", args), result, "\n".join(lines) + "\n")


# ------------------------------------------------------------------------- ddp
def torchrun_fit(n_ranks, config, threads=None):
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = f.name
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={n_ranks}",
        str(HERE / "_ddp_rank.py"),
        json.dumps({**config, "out": out}),
    ]
    env = dict(os.environ)
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)  # torchrun sets 1 itself for several ranks
    subprocess.run(command, check=True, cwd=HERE, env=env)
    return json.loads(Path(out).read_text())


def parse_layouts(text):
    """``"1x0,2x1"`` -> ``[(1, None), (2, 1)]``: ranks x torch threads per rank (0: default)."""
    layouts = []
    for item in text.split(","):
        ranks, threads = (int(v) for v in item.split("x"))
        layouts.append((ranks, threads or None))
    return layouts


def run_ddp(args):
    if load_mnist_splits(args.data_home, "test") is None:
        return
    layouts = parse_layouts(args.ddp_layouts)
    backend = "nccl" if args.ddp_device == "cuda" else "gloo"
    rows = []
    for prior, extra in (("gaussian", {}), ("exemplar", {"n_neighbors": 10})):
        for seed in range(args.ddp_seeds):
            for n_ranks, threads in layouts:
                params = {
                    "prior": prior,
                    "max_iter": args.ddp_epochs,
                    "random_state": seed,
                    "device": args.ddp_device,
                    **extra,
                }
                config = {
                    "data_home": str(Path(args.data_home).resolve()),
                    "n_train": args.ddp_rows,
                    "n_test": 1000,
                    "params": params,
                }
                result = torchrun_fit(n_ranks, config, threads)
                steps = args.ddp_epochs * -(-args.ddp_rows // 100)
                rows.append(
                    {
                        "prior": prior,
                        "seed": seed,
                        "ranks": n_ranks,
                        "threads_per_rank": threads or torch.get_num_threads(),
                        "ms_per_step": 1000 * result["seconds"] / steps,
                        "images_per_second": args.ddp_epochs * args.ddp_rows / result["seconds"],
                        **result,
                    }
                )
                print(rows[-1]["prior"], n_ranks, seed, rows[-1]["ms_per_step"], result["elbo"])
    device = torch.cuda.get_device_name() if args.ddp_device == "cuda" else "CPU"
    result = {
        "command": " ".join(sys.argv),
        "rows": args.ddp_rows,
        "epochs": args.ddp_epochs,
        "batch_size": 100,
        "device": device,
        "backend": backend,
        "cpus": os.cpu_count(),
        "runs": rows,
    }
    lines = [
        f"# DDP ({backend}, {device}, {os.cpu_count()} CPUs): {args.ddp_rows} MNIST images, "
        f"{args.ddp_epochs} epochs, global batch 100; ELBO of 1000 test images (one draw each)",
        "",
        f"| prior | seed | ranks x threads | ms per step | images/s | throughput vs "
        f"{layouts[0][0]} x {layouts[0][1] or 'default'} | held-out ELBO (± s.e.) |",
        "|---|---|---|---|---|---|---|",
    ]
    first = {}
    for row in rows:
        baseline = first.setdefault((row["prior"], row["seed"]), row)
        ratio = row["images_per_second"] / baseline["images_per_second"]
        lines.append(
            f"| {row['prior']} | {row['seed']} | {row['ranks']} x {row['threads_per_rank']} "
            f"| {row['ms_per_step']:.1f} | {row['images_per_second']:.0f} | {ratio:.2f}x "
            f"| {row['elbo']:.2f} ± {row['elbo_se']:.2f} |"
        )
    write_results(args.out, _name(args.ddp_name, args), result, "\n".join(lines) + "\n")


# ---------------------------------------------------------------------- memmap
def write_synthetic(path, n, d=784, chunk=50_000):
    """``n`` rows of grey images with stroke-like structure, written chunk by chunk."""
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, d))
    for start in range(0, n, chunk):
        rng = np.random.default_rng(start)
        rows = min(chunk, n - start)
        centres = rng.uniform(0.1, 0.6, size=(rows, 1)) * (rng.uniform(size=(1, d)) < 0.3)
        out[start : start + rows] = np.clip(centres + 0.1 * rng.normal(size=(rows, d)), 0, 1)
    out.flush()
    del out


def _status_kb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def memmap_fit(path, in_memory, params):
    """Run in a fresh process: fit, and report peak memory (MB)."""
    X = np.load(path, mmap_mode="r")
    if in_memory:
        X = np.load(path)
    peak_anon = [_status_kb("RssAnon")]
    done = threading.Event()

    def sample():
        while not done.wait(0.05):
            peak_anon.append(_status_kb("RssAnon"))

    sampler = threading.Thread(target=sample, daemon=True)
    start = time.perf_counter()
    sampler.start()
    vae = ExemplarVAE(**params).fit(X)
    done.set()
    sampler.join()
    return {
        "seconds": time.perf_counter() - start,
        "peak_rss_mib": _status_kb("VmHWM") / 1024,
        "peak_anon_mib": max(peak_anon) / 1024,
        "array_mib": X.nbytes / 2**20,
        "latent_cache_mib": len(X) * vae.n_components * 4 / 2**20,
        "exemplars_is_memmap": isinstance(vae.exemplars_, np.memmap),
    }


def run_memmap(args):
    params = {"max_iter": 1, "n_neighbors": 10, "random_state": 0, "verbose": 1}
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        path = Path(tmp) / "synthetic.npy"
        start = time.perf_counter()
        write_synthetic(path, args.n)
        print(f"wrote {args.n} x 784 rows in {time.perf_counter() - start:.1f} s")
        runs = []
        for in_memory in (False, True) if args.compare_in_memory else (False,):
            code = (
                "import json, sys; sys.path.insert(0, sys.argv[1]); import scaleout; "
                "print('RESULT', json.dumps(scaleout.memmap_fit(*json.loads(sys.argv[2]))))"
            )
            arguments = json.dumps([str(path), in_memory, params])
            done = subprocess.run(
                [sys.executable, "-c", code, str(HERE), arguments],
                capture_output=True,
                text=True,
                check=True,
            )
            print(done.stdout[-2000:])
            line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT"))
            runs.append(
                {
                    "input": "in memory (np.load)" if in_memory else "np.load(mmap_mode='r')",
                    **json.loads(line[len("RESULT ") :]),
                }
            )
    result = {"command": " ".join(sys.argv), "n": args.n, "params": params, "runs": runs}
    lines = [
        f"# Fit from a memory map: {args.n} synthetic 784-D rows (float32), 1 epoch, RAT 10-NN",
        "",
        "| input | array (MiB) | peak anonymous memory (MiB) | peak RSS incl. mapped file "
        "pages (MiB) | latent cache (MiB) | seconds |",
        "|---|---|---|---|---|---|",
    ]
    for run in runs:
        lines.append(
            f"| {run['input']} | {run['array_mib']:.0f} | {run['peak_anon_mib']:.0f} "
            f"| {run['peak_rss_mib']:.0f} | {run['latent_cache_mib']:.0f} | {run['seconds']:.0f} |"
        )
    write_results(args.out, _name("scaleout-memmap", args), result, "\n".join(lines) + "\n")


def _name(base, args):
    return base + ("-quick" if args.quick else "")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("part", choices=("search", "ddp", "memmap"))
    parser.add_argument("--data-home", default="../shared/data/mnist")
    parser.add_argument("--out", default=str(HERE / "results"))
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    parser.add_argument("--search-rows", type=int, default=10_000)
    parser.add_argument("--search-epochs", type=int, default=3)
    parser.add_argument("--ddp-rows", type=int, default=20_000)
    parser.add_argument("--ddp-epochs", type=int, default=5)
    parser.add_argument("--ddp-seeds", type=int, default=2)
    parser.add_argument(
        "--ddp-layouts",
        default="1x0,1x1,2x1",
        help="ranks x torch threads per rank, comma-separated (0: torch's default)",
    )
    parser.add_argument("--ddp-device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--ddp-name", default="scaleout-ddp", help="name of the result files")
    parser.add_argument("--n", type=int, default=1_000_000, help="rows of the memmap fit")
    parser.add_argument("--compare-in-memory", action="store_true")
    parser.add_argument("--tmp", default=None, help="folder for the synthetic .npy file")
    args = parser.parse_args()
    if args.quick:
        args.search_rows, args.search_epochs = 400, 1
        args.ddp_rows, args.ddp_epochs, args.ddp_seeds = 400, 1, 1
        args.n = min(args.n, 5_000)
    print(f"torch {torch.__version__}, {platform.processor() or platform.machine()}")
    {"search": run_search, "ddp": run_ddp, "memmap": run_memmap}[args.part](args)


if __name__ == "__main__":
    main()
