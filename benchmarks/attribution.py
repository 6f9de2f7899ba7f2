"""Exemplar attribution on real MNIST: ExemplarVAE.explain with a trained model.

    python benchmarks/attribution.py --data-home ../shared/data/mnist

Loads a trained exemplar-prior checkpoint of ``skexvae bench`` (by default the
committed cpu-hour run: 50 000 exemplars) and reports, on the test images:

- how much of the responsibility the top 1, 5 and 100 exemplars carry;
- how often the top exemplar has the test image's label (the attribution's own
  1-NN classifier);
- the time ``explain`` takes per row (median of 3 calls on 1 000 rows), exact and
  with the normaliser over the 100 nearest exemplars of the kNN index
  (``score_neighbors=100``), and how far those weights are from the exact ones;
- training rows whose nearest other exemplars carry another label: each training row
  is explained by the other training rows, and the rows whose leading explainers
  disagree with their label are candidates for a wrong label or an odd image.

Writes ``attribution.json`` / ``attribution.md`` under ``--out`` and a picture
``--figure`` (test digits with their top exemplars; the most disputed training rows
with their explainers). ``--quick`` explains 300 test images and audits 1 000
training rows, for a smoke run. Skips with a message (exit 0) when MNIST is absent.
"""

import argparse
import copy
from pathlib import Path

import numpy as np
from _common import load_mnist_splits, median_seconds, run_description, write_results

from skexvae._plotting import image_grid, write_png
from skexvae.bench._checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parent.parent
CHECKPOINT = ROOT / "docs/results/cpu-hour/checkpoints/cpu-hour/exemplar-seed0.pkl"


def disputed_rows(vae, X_train, y_train, n_audited, n_explainers):
    """The first ``n_audited`` training rows ranked by the weight their other
    ``n_explainers`` leading exemplars put on other labels; the row itself (always
    first) is left out."""
    audited = np.arange(n_audited)
    indices, weights = vae.explain(X_train[audited], n_exemplars=n_explainers + 1)
    assert (indices[:, 0] == audited).all()
    others, other_weights = indices[:, 1:], weights[:, 1:]
    share = other_weights / other_weights.sum(1, keepdims=True)
    against = (share * (y_train[others] != y_train[audited, None])).sum(1)
    order = np.argsort(-against)
    return order, against, others


def neighbour_normaliser(vae, X_train, X, exact_indices, exact_weights, k=100):
    """Time and error of ``explain`` with the normaliser over the ``k`` nearest exemplars."""
    approx = copy.deepcopy(vae).set_params(score_neighbors=k)
    approx.set_exemplars(X_train)  # builds index_ once
    seconds = median_seconds(lambda: approx.explain(X, n_exemplars=5), repeats=3)
    indices, weights = approx.explain(X, n_exemplars=5)
    return {
        "k": k,
        "index": type(approx.index_).__name__,
        "seconds_per_1000_rows": seconds * 1000 / len(X),
        "top1_same_exemplar": float((indices[:, 0] == exact_indices[:, 0]).mean()),
        "top5_weight_ratio_median": float(np.median(weights.sum(1) / exact_weights[:, :5].sum(1))),
        "top5_weight_ratio_max": float(np.max(weights.sum(1) / exact_weights[:, :5].sum(1))),
    }


def figure(path, X_test, test_indices, X_train, disputed, disputed_explainers, n_show=8):
    tiles = []
    for i in range(n_show):
        tiles += [X_test[i], *X_train[test_indices[i, :5]]]
    for row in disputed[:n_show]:
        tiles += [X_train[row], *X_train[disputed_explainers[row, :5]]]
    images = np.asarray(tiles).reshape(-1, 28, 28)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_png(path, image_grid(images, n_cols=6, scale=2, pad=2))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default="../shared/data/mnist")
    parser.add_argument("--checkpoint", default=str(CHECKPOINT))
    parser.add_argument("--n-test", type=int, default=10000, help="test images to explain")
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results"))
    parser.add_argument("--figure", default=str(ROOT / "docs/results/attribution.png"))
    parser.add_argument("--quick", action="store_true", help="a smoke run, figure under --out")
    args = parser.parse_args(argv)
    n_audited = None
    if args.quick:
        args.n_test, n_audited = 300, 1000
        args.figure = str(Path(args.out) / "attribution.png")
    data = load_mnist_splits(args.data_home, "train", "test", labels=True)
    if data is None:
        return 0
    (X_train, y_train), (X_test, y_test) = data
    X_test, y_test = X_test[: args.n_test], y_test[: args.n_test]
    vae, _ = load_checkpoint(args.checkpoint, X_train)

    seconds = median_seconds(lambda: vae.explain(X_test[:1000], n_exemplars=5), repeats=3)
    indices, weights = vae.explain(X_test, n_exemplars=100)
    knn = neighbour_normaliser(vae, X_train, X_test[:1000], indices[:1000], weights[:1000])
    mass = {k: float(weights[:, :k].sum(1).mean()) for k in (1, 5, 100)}
    top_label = float((y_train[indices[:, 0]] == y_test).mean())
    n_audited = n_audited or len(X_train)
    disputed, against, explainers = disputed_rows(vae, X_train, y_train, n_audited, 10)
    figure(args.figure, X_test, indices, X_train, disputed, explainers)

    result = {
        **run_description("attribution.py", argv),
        "checkpoint": Path(args.checkpoint).name,
        "n_exemplars": len(vae.exemplar_latents_),
        "n_test": len(X_test),
        "n_audited": n_audited,
        "sigma": vae.sigma_,
        "seconds_per_1000_rows": seconds,
        "neighbour_normaliser": knn,
        "mean_weight_of_top": mass,
        "top_exemplar_has_the_label": top_label,
        "disputed_training_rows": [
            {
                "row": int(row),
                "label": int(y_train[row]),
                "weight_on_other_labels": float(against[row]),
                "explainer_labels": [int(label) for label in y_train[explainers[row, :5]]],
            }
            for row in disputed[:8]
        ],
        "training_rows_mostly_explained_by_other_labels": int((against > 0.5).sum()),
    }
    write_results(args.out, "attribution", result, markdown(result))
    return 0


def markdown(result):
    mass, knn = result["mean_weight_of_top"], result["neighbour_normaliser"]
    lines = [
        "# Exemplar attribution on MNIST",
        "",
        f"`{result['command']}` ({result['machine']})",
        "",
        f"Checkpoint `{result['checkpoint']}`: {result['n_exemplars']} exemplars, "
        f"sigma {result['sigma']:.4f}; {result['n_test']} test images.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| mean weight of the top 1 / 5 / 100 exemplars | {mass[1]:.3f} / "
        f"{mass[5]:.3f} / {mass[100]:.3f} |",
        f"| top exemplar has the test image's label "
        f"| {100 * result['top_exemplar_has_the_label']:.2f} % |",
        f"| `explain` on 1 000 rows, exact over all exemplars "
        f"| {result['seconds_per_1000_rows']:.2f} s |",
        f"| ... over the {knn['k']} nearest (`score_neighbors={knn['k']}`, index "
        f"`{knn['index']}`) | {knn['seconds_per_1000_rows']:.2f} s |",
        f"| ... its top exemplar the exact one | {100 * knn['top1_same_exemplar']:.1f} % |",
        f"| ... its top-5 weight over the exact, median / max "
        f"| {knn['top5_weight_ratio_median']:.4f} / {knn['top5_weight_ratio_max']:.4f} |",
        f"| of the first {result['n_audited']} training rows, those whose 10 leading other "
        "exemplars put > 1/2 of their weight on other labels "
        f"| {result['training_rows_mostly_explained_by_other_labels']} |",
        "",
        "Most disputed training rows (the figure's lower half, left column):",
        "",
        "| row | label | weight on other labels | labels of its top 5 explainers |",
        "|---|---|---|---|",
    ]
    for row in result["disputed_training_rows"]:
        lines.append(
            f"| {row['row']} | {row['label']} | {row['weight_on_other_labels']:.2f} | "
            f"{', '.join(map(str, row['explainer_labels']))} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
