"""Command line: ``skexvae demo`` and ``skexvae bench density|knn|ablation|progress``.

Building the parser imports nothing heavy, so that ``--help`` answers at once; torch
and the models load when a command runs.
"""

import argparse
import sys

# Measured: `skexvae demo`, median of 3 whole runs on 2 quiet cores of an AMD EPYC with
# AVX512-BF16: 28 s (27-33), and 41 s (36-42) with bfloat16 turned off, as on CPUs
# without it. README.md and docs/quickstart.md quote the same figure.
DEMO_DURATION = "about 30 s on 2 CPU cores, 40 s without bfloat16"
DESCRIPTION = (
    "The Exemplar VAE (Norouzi, Fleet & Norouzi, NeurIPS 2020) from the command line: "
    "a demo on scikit-learn's digits, and the paper's MNIST experiments."
)


def _parser():
    parser = argparse.ArgumentParser(prog="skexvae", description=DESCRIPTION)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo",
        help=f"exemplar vs Gaussian prior on scikit-learn's digits ({DEMO_DURATION})",
    )
    demo.add_argument("--out", default="skexvae-demo", help="folder for the pictures")
    demo.add_argument("--max-iter", type=int, default=150, help="epochs per model")
    demo.add_argument(
        "--random-state", type=int, default=0, help="seed of the split and of both fits"
    )

    bench = commands.add_parser(
        "bench", help="reproduce the paper's MNIST tables (density, kNN, ablations)"
    )
    experiments = bench.add_subparsers(dest="experiment", required=True)
    for name, help_text in [
        ("density", "test log-likelihood of each prior (Table 3), curves and samples"),
        ("knn", "kNN error on latents (Table 4) and a t-SNE picture (Fig. 5)"),
        ("ablation", "leave-one-out on/off (Table 1) or M/N (Table 2), exemplar prior"),
    ]:
        command = experiments.add_parser(name, help=help_text)
        _bench_options(command, name)
    progress = experiments.add_parser(
        "progress",
        help="epochs, validation curve and early stopping of the runs under --out, "
        "from their checkpoints (also while they train)",
    )
    progress.add_argument("--out", default="skexvae-bench", help="a bench command's --out")
    return parser


def _bench_options(command, name):
    from ._precision import PRECISIONS
    from .bench._budgets import ARCHITECTURES, BUDGETS, PRIORS, STUDIES

    command.add_argument(
        "--data-home",
        default=None,
        help="folder with the four MNIST .gz files (default: $SKEXVAE_DATA, else ~/skexvae_data)",
    )
    command.add_argument(
        "--download",
        action="store_true",
        help="download the MNIST files that are missing from the data home first "
        "(checked against their SHA-256 sums)",
    )
    command.add_argument(
        "--budget",
        choices=sorted(BUDGETS),
        default="quick",
        help="quick: seconds; cpu-hour: at most an hour of training per prior on 2 cores; "
        "paper: the full protocol",
    )
    command.add_argument("--out", default="skexvae-bench", help="results and checkpoints")
    command.add_argument("--seeds", type=int, default=1, help="runs per setting")
    command.add_argument(
        "--max-epochs", type=int, default=None, help="override the budget's epoch limit"
    )
    command.add_argument(
        "--precision",
        choices=list(PRECISIONS),
        default="auto",
        help="the networks' arithmetic (ExemplarVAE's precision); a forced one keeps "
        "checkpoints of its own",
    )
    command.add_argument(
        "--keep-training-state",
        action="store_true",
        help="keep finished runs' optimizer state in their checkpoints (2-5x larger), "
        "so that a larger --max-epochs can extend them; by default they keep their best "
        "weights only",
    )
    if name == "ablation":
        command.add_argument(
            "--study",
            choices=list(STUDIES),
            required=True,
            help="loo: leave-one-out on and off (Table 1); m-ratio: M/N from 1 to 0.1 (Table 2)",
        )
    else:
        command.add_argument(
            "--prior",
            choices=["all", *PRIORS],
            default="all",
            help="the prior to train and evaluate (default: all three)",
        )
        command.add_argument(
            "--architecture",
            choices=list(ARCHITECTURES),
            default="mlp",
            help=(
                "Table 3's rows: mlp (VAE), hvae, convhvae, pixelsnail (the last two with "
                "RAT 10-NN for the exemplar prior)"
            ),
        )
    if name != "knn":
        command.add_argument(
            "--score-neighbors",
            type=int,
            default=None,
            help="kNN-accelerated IWAE for the exemplar prior (a lower bound); "
            "default: every exemplar",
        )


def _bench(args):
    from .bench import run_ablation, run_density, run_knn, run_progress
    from .bench._budgets import PRIORS
    from .datasets import load_mnist

    if args.experiment == "progress":
        return run_progress(args.out)
    if args.download:
        for split in ("train+validation", "test"):
            load_mnist(args.data_home, split=split, download=True)

    common = {
        "budget": args.budget,
        "out": args.out,
        "n_seeds": args.seeds,
        "max_epochs": args.max_epochs,
        "precision": args.precision,
        "keep_training_state": args.keep_training_state,
    }
    if args.experiment == "ablation":
        return run_ablation(
            args.data_home, study=args.study, score_neighbors=args.score_neighbors, **common
        )
    common["priors"] = PRIORS if args.prior == "all" else (args.prior,)
    common["architecture"] = args.architecture
    if args.experiment == "density":
        return run_density(args.data_home, score_neighbors=args.score_neighbors, **common)
    return run_knn(args.data_home, **common)


def main(argv=None):
    args = _parser().parse_args(argv)
    if args.command == "demo":
        from ._demo import run_demo

        run_demo(args.out, max_iter=args.max_iter, random_state=args.random_state)
    elif args.command == "bench":
        try:
            _bench(args)
        except FileNotFoundError as exc:
            print(f"skexvae bench: MNIST not found: {exc}", file=sys.stderr)
            return 2
        except ValueError as exc:  # e.g. an unreadable checkpoint, named in the message
            print(f"skexvae bench: {exc}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
