"""Fine-tuning loss curves of the pretraining ablation: pretrained vs random init, per arch × task.

    .venv/bin/python benchmarks/plot_ablation.py --runs runs/ablation --out
    benchmarks/ablation_finetune_losses.png

Both runs of a panel see the same batches in the same order (same seed), so the gap
between the curves at a step is the effect of the initialisation alone.

A plot of finished runs, not a benchmark: no ``--smoke``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from plot_losses import read_metrics  # the sibling script (benchmarks/ is on sys.path)

ARCHS = ("barto", "t5s")
TASKS = ("squad-es-qa", "tatoeba-en-es", "legal-ar-sum")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=Path, default=Path("runs/ablation"))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--archs", nargs="+", default=list(ARCHS), choices=ARCHS, help="rows to plot"
    )
    args = parser.parse_args()
    figure, axes = plt.subplots(
        len(args.archs), len(TASKS), figsize=(12, 3 * len(args.archs)), squeeze=False
    )
    for row, arch in enumerate(args.archs):
        for column, task in enumerate(TASKS):
            axis = axes[row][column]
            for init, style in (("random", "--"), ("pretrained", "-")):
                run = args.runs / f"{arch}-{init}-{task}"
                if not (run / "metrics.jsonl").is_file():
                    continue
                records = [r for r in read_metrics(run) if "loss" in r]
                axis.plot(
                    [r["step"] for r in records], [r["loss"] for r in records], style, label=init
                )
            axis.set_title(f"{arch}-tiny, {task}", fontsize=10)
            axis.set_xlabel("step")
            axis.set_ylabel("training loss")
            axis.grid(alpha=0.3)
            if axis.lines:
                axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(args.out, dpi=120)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
