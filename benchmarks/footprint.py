"""Footprint of an ExemplarVAE fitted on real MNIST: epoch time, memory, pickle size, per-call cost.

    python benchmarks/footprint.py --data-home ../shared/data/mnist

Writes ``footprint.json`` and ``footprint.md`` under ``--out`` (default
``benchmarks/results``); the per-call figures are medians of 5 calls after a warm-up,
one-row ``score_samples`` at the default 1 000 importance samples. Skips with a message
(exit 0) when the MNIST files are absent.
"""

import argparse
import json
import pickle
import platform
import resource
import sys
import time
from pathlib import Path

import torch
from _common import load_mnist_splits, median_seconds

from skexvae import ExemplarVAE

RESULTS = Path(__file__).resolve().parent / "results"


def peak_rss_mib():
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def nbytes(array):
    return 0 if array is None else array.nbytes


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default="../shared/data/mnist")
    parser.add_argument("--max-iter", type=int, default=1)
    parser.add_argument("--M", type=int, default=100, help="exemplars per step")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    data = load_mnist_splits(args.data_home, "train")
    if data is None:
        return 0
    (X,) = data
    rss_data = peak_rss_mib()
    vae = ExemplarVAE(M=args.M, n_neighbors=None, max_iter=args.max_iter, random_state=0, verbose=1)
    start = time.perf_counter()
    vae.fit(X)
    seconds = time.perf_counter() - start
    blob = pickle.dumps(vae)
    one_row = median_seconds(lambda: vae.score_samples(X[:1]))
    sampling = median_seconds(lambda: vae.sample(100))
    result = {
        "n_samples": len(X),
        "M": vae.M_,
        "max_iter": args.max_iter,
        "seconds_per_epoch": seconds / args.max_iter,
        "peak_rss_mib_after_loading_data": rss_data,
        "peak_rss_mib_after_fit": peak_rss_mib(),
        "pickle_mib": len(blob) / 2**20,
        "pickle_holds_the_rows": X[:5].tobytes() in blob,
        "exemplar_latents_mib": nbytes(getattr(vae, "exemplar_latents_", None)) / 2**20,
        "weights_mib": sum(p.numel() * p.element_size() for p in vae.model_.state_dict().values())
        / 2**20,
        "score_samples_one_row_ms": 1000 * one_row,
        "sample_100_ms": 1000 * sampling,
    }
    # The same estimator, fitted to be trained further: it keeps Adam's moments and the
    # trained weights behind the average.
    vae.set_params(warm_start=True).fit(X)
    result["pickle_mib_with_warm_start"] = len(pickle.dumps(vae)) / 2**20
    result.update(
        torch=torch.__version__,
        threads=torch.get_num_threads(),
        machine=platform.machine(),
        command="python benchmarks/footprint.py " + " ".join(argv or sys.argv[1:]),
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "footprint.json").write_text(json.dumps(result, indent=2) + "\n")
    rows = "\n".join(
        f"| {k} | {v:.1f} |" if isinstance(v, float) else f"| {k} | {v} |"
        for k, v in result.items()
    )
    (out / "footprint.md").write_text("| quantity | value |\n|---|---|\n" + rows + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
