"""Plot training (and validation) loss curves from one or more runs' metrics.jsonl.

When the runs logged ``validation_encoder_gain`` (pretraining), a second panel shows it:
the nats per token the decoder gets from its encoder (0 for a collapsed encoder).

    .venv/bin/python benchmarks/plot_losses.py runs/pretrain-barto-tiny runs/pretrain-t5s-tiny \
        --out benchmarks/pretrain_tiny_losses.png

A plot of finished runs, not a benchmark: no ``--smoke``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def read_metrics(run: Path) -> list[dict[str, float]]:
    return [
        json.loads(line)
        for line in (run / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
        if line
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("runs", nargs="+", type=Path, help="Run folders holding metrics.jsonl.")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    metrics = {run: read_metrics(run) for run in args.runs}
    with_gain = any("validation_encoder_gain" in r for records in metrics.values() for r in records)
    figure, axes = plt.subplots(
        1, 2 if with_gain else 1, figsize=(12 if with_gain else 7, 4), squeeze=False
    )
    axis = axes[0][0]
    for run, records in metrics.items():
        train = [(r["step"], r["loss"]) for r in records if "loss" in r]
        valid = [(r["step"], r["validation_loss"]) for r in records if "validation_loss" in r]
        line = axis.plot(*zip(*train, strict=True), label=f"{run.name} train", alpha=0.8)[0]
        if valid:
            axis.plot(
                *zip(*valid, strict=True),
                "o--",
                color=line.get_color(),
                label=f"{run.name} validation",
            )
        gain = [
            (r["step"], r["validation_encoder_gain"])
            for r in records
            if "validation_encoder_gain" in r
        ]
        if gain:
            axes[0][1].plot(*zip(*gain, strict=True), "o-", color=line.get_color(), label=run.name)
    axis.set_xlabel("optimizer step")
    axis.set_ylabel("cross-entropy (nats/token)")
    axis.grid(alpha=0.3)
    axis.legend()
    if with_gain:
        axes[0][1].set_xlabel("optimizer step")
        axes[0][1].set_ylabel("validation encoder gain (nats/token)")
        axes[0][1].grid(alpha=0.3)
        axes[0][1].legend()
    figure.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.out, dpi=120)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
