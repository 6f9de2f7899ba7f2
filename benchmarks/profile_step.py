"""Where a training step's time goes: torch.profiler over one epoch on 10k MNIST images.

    python benchmarks/profile_step.py --data-home ../shared/data/mnist

Writes ``benchmarks/results/profile.md``: per prior, the wall time per step, the share
of matrix products (the model's arithmetic) and the operators that take the rest.
"""

import argparse
import sys
import time

import numpy as np
import torch
from _common import load_mnist_splits, write_results
from torch.profiler import ProfilerActivity, profile

from skexvae import ExemplarVAE

SETTINGS = {
    "Gaussian prior": {"prior": "gaussian"},
    "VampPrior, 500 pseudo-inputs": {"prior": "vamp"},
    "Exemplar RAT K=10": {"n_neighbors": 10},
}
GEMMS = {"aten::mm", "aten::addmm", "aten::bmm"}


def profile_epoch(X, params):
    vae = ExemplarVAE(max_iter=1, random_state=0, binarize=None, **params)
    vae.fit(X[:500])  # warm the allocator and the kernels
    start = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        vae.fit(X)
    wall = time.perf_counter() - start
    steps = int(np.ceil(len(X) / vae.batch_size))
    ops = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in ops)
    gemm = sum(e.self_cpu_time_total for e in ops if e.key in GEMMS)
    top = [
        {"op": e.key, "ms_per_step": e.self_cpu_time_total / 1e3 / steps, "calls": e.count}
        for e in ops[:12]
    ]
    return {
        "wall_ms_per_step": 1e3 * wall / steps,
        "profiled_ms_per_step": total / 1e3 / steps,
        "gemm_ms_per_step": gemm / 1e3 / steps,
        "top_ops": top,
    }


def markdown(result):
    lines = [f"Command: `{result['command']}`", ""]
    for name, r in result["settings"].items():
        lines += [
            f"### {name}",
            "",
            f"Wall time {r['wall_ms_per_step']:.1f} ms per step under the profiler; operator "
            f"self time {r['profiled_ms_per_step']:.1f} ms, of which matrix products "
            f"{r['gemm_ms_per_step']:.1f} ms "
            f"({r['gemm_ms_per_step'] / r['profiled_ms_per_step']:.0%}).",
            "",
            "| operator | ms / step | calls |",
            "|---|---|---|",
        ]
        lines += [f"| `{o['op']}` | {o['ms_per_step']:.2f} | {o['calls']} |" for o in r["top_ops"]]
        lines.append("")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default="../shared/data/mnist")
    parser.add_argument("--n", type=int, default=10_000, help="training images")
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args(argv)
    data = load_mnist_splits(args.data_home, "train")
    if data is None:
        return 0
    X = np.ascontiguousarray(data[0][: args.n])
    result = {
        "command": "python benchmarks/profile_step.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "settings": {},
    }
    for name, params in SETTINGS.items():
        result["settings"][name] = profile_epoch(X, params)
        print(f"  {name}: {result['settings'][name]['wall_ms_per_step']:.1f} ms/step", flush=True)
    write_results(args.out, "profile", result, markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
