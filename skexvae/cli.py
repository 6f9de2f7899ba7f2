"""Command line: ``skexvae demo``."""

import argparse
import sys


def _parser():
    parser = argparse.ArgumentParser(prog="skexvae", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo",
        help="exemplar vs Gaussian prior on scikit-learn's digits (about two minutes)",
    )
    demo.add_argument("--out", default="skexvae-demo", help="folder for the pictures")
    demo.add_argument("--max-iter", type=int, default=150, help="epochs per model")
    demo.add_argument("--random-state", type=int, default=0)
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    if args.command == "demo":
        from ._demo import run_demo

        run_demo(args.out, max_iter=args.max_iter, random_state=args.random_state)
    return 0


if __name__ == "__main__":
    sys.exit(main())
