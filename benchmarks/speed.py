"""skexvae against pythae 0.1.2, side by side in one process, on real MNIST.

    pip install ".[bench]"
    python benchmarks/speed.py --data-home ../shared/data/mnist

Writes ``benchmarks/results/speed.json`` and ``speed.md`` (``speed-n{N}.*`` with
``--n-train N``). The same gated MLP
(784-300-300-40, our module inside pythae's encoder and decoder wrappers), batch 100,
Adam 5e-4, one epoch on the 50k training images (``--n-train`` for fewer); each row
alternates ours at the default precision, ours in float32 and pythae's, ``--repeats``
times, and reports medians. IWAE rows: ms per test point at S = 1000 importance
samples. The fraction-of-peak table sets each epoch's matrix-product FLOP (counted
by ``torch.utils.flop_counter``) against this machine's measured float32 and
bfloat16 GEMM rates. Skips with a message when MNIST or pythae is absent.
"""

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _common import binarize_once, load_mnist_splits, run_description, write_results
from rat import exact_step_seconds
from torch import nn

from skexvae import ExemplarVAE
from skexvae._precision import resolve_precision
from skexvae.models import MLPDecoder, MLPEncoder

HIDDEN = (300, 300)
LATENT = 40
# The paper's reference code, measured unmodified on this machine (issue 6).
REFERENCE_EXACT_EPOCH_S = 418.0


def pythae_model(kind, n_features):
    from pythae.models import VAE, VAMP, VAEConfig, VAMPConfig
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder, BaseEncoder

    class Encoder(BaseEncoder):
        def __init__(self):
            super().__init__()
            self.net = MLPEncoder(n_features, LATENT, HIDDEN)

        def forward(self, x):
            mean, log_var = self.net(x.reshape(len(x), -1))
            return ModelOutput(embedding=mean, log_covariance=log_var)

    class Decoder(BaseDecoder):
        def __init__(self):
            super().__init__()
            self.net = MLPDecoder(LATENT, n_features, HIDDEN)

        def forward(self, z):
            return ModelOutput(reconstruction=torch.sigmoid(self.net(z)))

    common = {"input_dim": (n_features,), "latent_dim": LATENT, "reconstruction_loss": "bce"}
    if kind == "vamp":
        config = VAMPConfig(number_components=500, **common)
        return VAMP(config, encoder=Encoder(), decoder=Decoder())
    return VAE(VAEConfig(**common), encoder=Encoder(), decoder=Decoder())


def pythae_epoch(model, X):
    from pythae.pipelines import TrainingPipeline
    from pythae.trainers import BaseTrainerConfig

    with tempfile.TemporaryDirectory() as out:
        config = BaseTrainerConfig(
            output_dir=out,
            num_epochs=1,
            per_device_train_batch_size=100,
            learning_rate=5e-4,
            no_cuda=True,
        )
        start = time.perf_counter()
        TrainingPipeline(model=model, training_config=config)(train_data=X)
        return time.perf_counter() - start


def our_epoch(X, **params):
    # pythae trains on the grey pixels as given; binarize=None gives ours the same work.
    # Without a precision in params, ours runs at the default ("auto").
    start = time.perf_counter()
    vae = ExemplarVAE(max_iter=1, random_state=0, binarize=None, **params).fit(X)
    return time.perf_counter() - start, vae


def epochs(X, repeats):
    """Training epoch, ours and pythae's alternating; medians over ``repeats``."""
    pairs = [
        ("Gaussian prior", {"prior": "gaussian"}, "vae"),
        ("VampPrior, 500 pseudo-inputs", {"prior": "vamp"}, "vamp"),
        ("Exemplar RAT K=10 (vs pythae VAMP)", {"n_neighbors": 10}, "vamp"),
    ]
    rows, fitted = {}, {}
    for name, params, peer in pairs:
        ours, ours_fp32, theirs = [], [], []
        for _ in range(repeats):
            seconds, fitted[name] = our_epoch(X, **params)
            ours.append(seconds)
            ours_fp32.append(our_epoch(X, precision="float32", **params)[0])
            theirs.append(pythae_epoch(pythae_model(peer, X.shape[1]), X))
        rows[name] = _row(ours, theirs, f"pythae {peer.upper()}", ours_fp32)
        print(f"  {name}: counting the epoch's FLOP", flush=True)
        rows[name]["flop"] = epoch_flop(X, params)
        print(f"  {name}: {rows[name]}", flush=True)
    return rows, fitted


def epoch_flop(X, params):
    """Matrix-product FLOP of one training epoch, forward and backward, counted by torch."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        our_epoch(X, precision="float32", **params)
    return counter.get_total_flops()


def peak_rates():
    """float32 and bfloat16 GEMM FLOP/s here: at the batch's shape and at 1000 rows."""
    return {
        f"{dtype}_{rows}_rows": gemm_flop_per_second(rows, 784, 2 * HIDDEN[0], dtype)
        for dtype in ("float32", "bfloat16")
        for rows in (100, 1000)
    }


def scoring(fitted, X_test, n_points, repeats):
    """IWAE ms per test point at S = 1000: ours and pythae's get_nll."""
    x = torch.from_numpy(X_test[:n_points])
    rows = {}
    for name, our_vae, params, peer in [
        ("Gaussian prior", fitted["Gaussian prior"], {}, "vae"),
        (
            f"Exemplar, all {len(fitted['Gaussian prior'].exemplars_)} exemplars",
            fitted["Exemplar RAT K=10 (vs pythae VAMP)"],
            {},
            "vamp",
        ),
        (
            "Exemplar, 10-NN prior",
            fitted["Exemplar RAT K=10 (vs pythae VAMP)"],
            {"score_neighbors": 10},
            "vamp",
        ),
    ]:
        our_vae.set_params(n_importance_samples=1000, **params)
        # Untrained: the cost of get_nll does not depend on the weights.
        peer_model = pythae_model(peer, X_test.shape[1]).eval()
        ours, ours_fp32, theirs = [], [], []
        for _ in range(repeats):
            for precision, times in (("auto", ours), ("float32", ours_fp32)):
                our_vae.set_params(precision=precision)
                start = time.perf_counter()
                our_vae.score_samples(X_test[:n_points])
                times.append(1e3 * (time.perf_counter() - start) / n_points)
            start = time.perf_counter()
            with torch.no_grad():
                peer_model.get_nll(x, n_samples=1000, batch_size=1000)
            theirs.append(1e3 * (time.perf_counter() - start) / n_points)
        our_vae.set_params(precision="auto")
        rows[name] = _row(ours, theirs, f"pythae {peer.upper()} get_nll", ours_fp32)
        print(f"  {name}: {rows[name]}", flush=True)
    return rows


def throughput(fitted, X_test, repeats):
    """Seconds to transform and to sample ``len(X_test)`` rows: ours and pythae's VAE."""
    from pythae.samplers import NormalSampler

    vae, n = fitted["Gaussian prior"], len(X_test)
    peer = pythae_model("vae", X_test.shape[1]).eval()
    x = torch.from_numpy(X_test)

    def peer_transform():
        with torch.no_grad():
            return torch.cat([peer.encoder(chunk).embedding for chunk in x.split(1000)])

    def peer_sample():
        return NormalSampler(model=peer).sample(num_samples=n, batch_size=1000, return_gen=True)

    rows = {}
    for name, ours, theirs, peer_name in [
        (f"transform, {n} rows", lambda: vae.transform(X_test), peer_transform, "encoder"),
        (
            f"sample, {n} rows (decoder means, as pythae returns)",
            lambda: vae.sample(n, return_mean=True),
            peer_sample,
            "NormalSampler",
        ),
    ]:
        ours_s, theirs_s = [], []
        for _ in range(repeats):
            ours_s.append(_seconds(ours))
            theirs_s.append(_seconds(theirs))
        rows[name] = _row(ours_s, theirs_s, f"pythae VAE {peer_name}")
        print(f"  {name}: {rows[name]}", flush=True)
    return rows


def _seconds(function):
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def exact_prior(X, n_steps):
    """Exact exemplar prior, M = N/2: epoch time from ``n_steps`` steps; its arithmetic bound."""
    M = len(X) // 2
    steps = math.ceil(len(X) / 100)
    flop = exact_step_flop(X.shape[1], M)
    gemm = gemm_flop_per_second(M + 1, X.shape[1], 2 * HIDDEN[0])
    print(f"  {n_steps + 1} steps at the default precision, then in float32", flush=True)
    epoch = exact_step_seconds(X, M, n_steps, precision="auto") * steps
    print(f"  default: {epoch:.0f} s per epoch", flush=True)
    epoch_fp32 = exact_step_seconds(X, M, n_steps, precision="float32") * steps
    return {
        "M": M,
        "ours_epoch_s": epoch,
        "ours_float32_epoch_s": epoch_fp32,
        "reference_epoch_s": REFERENCE_EXACT_EPOCH_S,
        "ratio_ours_to_reference": epoch / REFERENCE_EXACT_EPOCH_S,
        "flop_per_step": flop,
        "gemm_gflop_per_s": gemm / 1e9,
        "bound_epoch_s": steps * flop / gemm,
        "achieved_gflop_per_s": steps * flop / epoch / 1e9,
        "achieved_float32_gflop_per_s": steps * flop / epoch_fp32 / 1e9,
    }


def exact_step_flop(n_features, M, batch=100):
    """Matrix-product FLOP of one exact-prior step: the batch's VAE and M + 1 exemplar means.

    Forward and backward; the backward pass computes weight gradients for every layer
    and input gradients for every layer but the first.
    """

    def linears(module):
        layers = [m for m in module.modules() if isinstance(m, nn.Linear)]
        return [(m.in_features, m.out_features) for m in layers]

    def train_flop(shapes):
        macs = sum(i * o for i, o in shapes)
        return 2 * (3 * macs - shapes[0][0] * shapes[0][1])

    encoder = MLPEncoder(n_features, LATENT, HIDDEN)
    decoder = MLPDecoder(LATENT, n_features, HIDDEN)
    mean_path = linears(encoder.body) + linears(encoder.head.mean)
    vae_path = linears(encoder) + linears(decoder)
    return (M + 1) * train_flop(mean_path) + batch * train_flop(vae_path)


def gemm_flop_per_second(rows, inner, cols, dtype="float32", repeats=5):
    """Sustained FLOP/s of one (rows x inner) @ (inner x cols) product here."""
    dtype = getattr(torch, dtype)
    a, b = torch.rand(rows, inner, dtype=dtype), torch.rand(inner, cols, dtype=dtype)
    torch.mm(a, b)
    best = min(_seconds(lambda: torch.mm(a, b)) for _ in range(repeats))
    return 2 * rows * inner * cols / best


# Peak RSS from VmHWM, which exec resets: ru_maxrss of a child would count the parent
# it was forked from.
FOOTPRINT_SCRIPT = """
import json, pickle, sys, tempfile
from pathlib import Path
sys.path.insert(0, {bench!r})
import speed
def peak_rss_mib():
    status = Path("/proc/self/status").read_text().split("VmHWM:")[1]
    return int(status.split()[0]) / 1024
X, = speed.load_mnist_splits({data_home!r}, "train")
X = X[:{n}]
rss_data = peak_rss_mib()
who = {who!r}
if who == "pythae VAE":
    model = speed.pythae_model("vae", X.shape[1])
    speed.pythae_epoch(model, X)
    with tempfile.TemporaryDirectory() as out:
        model.save(out)
        size = sum(f.stat().st_size for f in Path(out).rglob("*") if f.is_file())
else:
    params = {{"prior": "gaussian"}} if who == "skexvae Gaussian" else {{"n_neighbors": 10}}
    _, vae = speed.our_epoch(X, **params)
    size = len(pickle.dumps(vae))
print(json.dumps({{"peak_rss_mib_data": rss_data, "peak_rss_mib": peak_rss_mib(),
                  "saved_mib": size / 2**20}}))
"""


def footprints(data_home, n):
    """Peak resident memory of a one-epoch fit on ``n`` rows and the size of what it saves."""
    rows = {}
    for who in ["skexvae Gaussian", "skexvae exemplar RAT K=10", "pythae VAE"]:
        script = FOOTPRINT_SCRIPT.format(
            bench=str(Path(__file__).resolve().parent), data_home=data_home, who=who, n=n
        )
        out = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True
        )
        rows[who] = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"  {who}: {rows[who]}", flush=True)
    return rows


def _row(ours, theirs, peer, ours_fp32=None):
    ours_median, theirs_median = statistics.median(ours), statistics.median(theirs)
    row = {
        "ours": ours_median,
        "peer": peer,
        "peer_value": theirs_median,
        "ratio_ours_to_peer": ours_median / theirs_median,
        "ours_all": ours,
        "peer_all": theirs,
    }
    if ours_fp32 is not None:
        row["ours_float32"] = statistics.median(ours_fp32)
        row["ours_float32_all"] = ours_fp32
        row["ratio_float32_to_peer"] = row["ours_float32"] / theirs_median
    return row


def _ratio_table(rows, unit):
    if not all("ours_float32" in r for r in rows.values()):
        lines = [f"| skexvae | {unit} | peer | {unit} | ours / peer |", "|---|---|---|---|---|"]
        for name, r in rows.items():
            lines.append(
                f"| {name} | {r['ours']:.3g} | {r['peer']} | {r['peer_value']:.3g} "
                f"| **{r['ratio_ours_to_peer']:.2f}** |"
            )
        return lines
    lines = [
        f"| skexvae | default, {unit} | float32, {unit} | peer | {unit} "
        "| default / peer | float32 / peer |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in rows.items():
        lines.append(
            f"| {name} | {r['ours']:.3g} | {r['ours_float32']:.3g} | {r['peer']} "
            f"| {r['peer_value']:.3g} | **{r['ratio_ours_to_peer']:.2f}** "
            f"| {r['ratio_float32_to_peer']:.2f} |"
        )
    return lines


def _peak_table(result):
    peak = result["peak"]
    lines = [
        "| prior | GFLOP / epoch | default: GFLOP/s | of bf16 peak | float32: GFLOP/s "
        "| of fp32 peak |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in result["epochs"].items():
        default, fp32 = r["flop"] / r["ours"], r["flop"] / r["ours_float32"]
        lines.append(
            f"| {name} | {r['flop'] / 1e9:.0f} | {default / 1e9:.0f} "
            f"| {default / peak['bfloat16_1000_rows']:.0%} | {fp32 / 1e9:.0f} "
            f"| {fp32 / peak['float32_1000_rows']:.0%} |"
        )
    return lines


def markdown(result):
    exact = result["exact"]
    # The reference code was timed at N = 50 000 only.
    at_reference_size = result["N"] == 50_000
    lines = [f"Command: `{result['command']}`  ", f"Machine: {result['machine']}", ""]
    lines += [
        f"### Training epoch, N = {result['N']} (s, median of {result['repeats']})",
        "",
        "Both sides train on the grey pixels with the Bernoulli cross-entropy "
        "(ours with `binarize=None`, as pythae has no dynamic binarization).",
        "",
        *_ratio_table(result["epochs"], "s"),
        "",
        f"Default precision here: `{result['precision']}`.",
        "",
        "### Fraction of peak",
        "",
        "GEMM rates measured here, (rows x 784) @ (784 x 600): float32 "
        f"{result['peak']['float32_100_rows'] / 1e9:.0f} GFLOP/s at 100 rows, "
        f"{result['peak']['float32_1000_rows'] / 1e9:.0f} at 1000; bfloat16 "
        f"{result['peak']['bfloat16_100_rows'] / 1e9:.0f} at 100, "
        f"{result['peak']['bfloat16_1000_rows'] / 1e9:.0f} at 1000. Each epoch's "
        "matrix-product FLOP (forward and backward, counted by `torch.utils.flop_counter`) "
        "over its median time, against the 1000-row rates:",
        "",
        *_peak_table(result),
        "",
        f"### Exact exemplar prior, M = N/2 = {exact['M']} (epoch from "
        f"{result['exact_steps']} steps)",
        "",
        "| | s / epoch |",
        "|---|---|",
        f"| skexvae, default precision | {exact['ours_epoch_s']:.0f} |",
        f"| skexvae, float32 | {exact['ours_float32_epoch_s']:.0f} |",
        *(
            [
                "| paper's reference code at N = 50 000 (issue 6, same machine) "
                f"| {exact['reference_epoch_s']:.0f} |"
            ]
            if at_reference_size
            else []
        ),
        f"| arithmetic bound: {exact['flop_per_step'] / 1e9:.0f} GFLOP per step at this "
        f"machine's float32 {exact['gemm_gflop_per_s']:.0f} GFLOP/s (one large matrix "
        f"product) | {exact['bound_epoch_s']:.0f} |",
        "",
        (
            f"Ours / reference: **{exact['ratio_ours_to_reference']:.2f}**; ours runs at "
            if at_reference_size
            else "Ours runs at "
        )
        + f"{exact['achieved_gflop_per_s']:.0f} GFLOP/s at the default precision and "
        f"{exact['achieved_float32_gflop_per_s']:.0f} GFLOP/s in float32, "
        f"{exact['achieved_float32_gflop_per_s'] / exact['gemm_gflop_per_s']:.0%} of the "
        "float32 rate.",
        "",
        f"### IWAE, S = 1000 (ms per test point, {result['n_points']} points, median of "
        f"{result['repeats']})",
        "",
        *_ratio_table(result["scoring"], "ms"),
        "",
        "The 10-NN row builds a pynndescent index over the exemplar means in every "
        "`score_samples` call (about 2 s at 50 000), here spread over "
        f"{result['n_points']} points; `knn_scoring.md` separates the two costs.",
        "",
        f"### Transform and sample (s, median of {result['repeats']})",
        "",
        *_ratio_table(result["throughput"], "s"),
        "",
        f"### Footprint of a one-epoch fit on {result['N']} images (each in its own process)",
        "",
        "| fit | peak RSS after loading MNIST (MiB) | peak RSS after the fit (MiB) | saved (MiB) |",
        "|---|---|---|---|",
    ]
    for name, r in result["footprint"].items():
        lines.append(
            f"| {name} | {r['peak_rss_mib_data']:.0f} | {r['peak_rss_mib']:.0f} "
            f"| {r['saved_mib']:.1f} |"
        )
    lines += [
        "",
        "Saved: the pickle for skexvae, which keeps the training set as its exemplars "
        "(float32, once); `model.save` for pythae, weights only.",
    ]
    return "\n".join(lines) + "\n"


def results_name(n_train):
    """``speed`` for the full 50 000 training images, ``speed-n{N}`` for a subset."""
    return "speed" if n_train == 50_000 else f"speed-n{n_train}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default="../shared/data/mnist")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n-points", type=int, default=50, help="test points scored")
    parser.add_argument("--exact-steps", type=int, default=3, help="steps timed at M = N/2")
    parser.add_argument("--n-train", type=int, default=50_000, help="training images")
    parser.add_argument("--quick", action="store_true", help="2 000 images: checks the harness")
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args(argv)
    try:
        import pythae  # noqa: F401
    except ImportError:
        print('skipped: pythae is not installed (pip install ".[bench]")')
        return 0
    data = load_mnist_splits(args.data_home, "train", "test")
    if data is None:
        return 0
    X, X_test = data
    X = X[: args.n_train]
    if args.quick:
        X, args.repeats, args.n_points, args.exact_steps = X[:2000], 1, 5, 1
    X_test = binarize_once(X_test)
    print("[speed] warming up (allocator, numba)", flush=True)
    our_epoch(X[:1000], n_neighbors=10)
    result = {
        **run_description("speed.py", argv),
        "N": len(X),
        "repeats": args.repeats,
        "n_points": args.n_points,
        "exact_steps": args.exact_steps,
        "precision": resolve_precision("auto", torch.device("cpu")),
        "peak": peak_rates(),
    }
    print("[speed] training epochs", flush=True)
    result["epochs"], fitted = epochs(np.ascontiguousarray(X), args.repeats)
    print("[speed] IWAE scoring", flush=True)
    result["scoring"] = scoring(fitted, X_test, args.n_points, args.repeats)
    print("[speed] transform and sample", flush=True)
    result["throughput"] = throughput(fitted, X_test, args.repeats)
    print("[speed] exact prior, M = N/2", flush=True)
    result["exact"] = exact_prior(X, args.exact_steps)
    print("[speed] footprint (separate processes)", flush=True)
    result["footprint"] = footprints(args.data_home, len(X))
    write_results(args.out, results_name(args.n_train), result, markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
