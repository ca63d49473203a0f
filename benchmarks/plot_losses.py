"""Plot training (and validation) loss curves from one or more runs' metrics.jsonl.

    .venv/bin/python benchmarks/plot_losses.py runs/pretrain-barto-tiny runs/pretrain-t5s-tiny \
        --out benchmarks/pretrain_tiny_losses.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def read_metrics(run: Path) -> list[dict[str, float]]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text(encoding="utf-8").splitlines() if line]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="Run folders holding metrics.jsonl.")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    figure, axis = plt.subplots(figsize=(7, 4))
    for run in args.runs:
        records = read_metrics(run)
        train = [(r["step"], r["loss"]) for r in records if "loss" in r]
        valid = [(r["step"], r["validation_loss"]) for r in records if "validation_loss" in r]
        line = axis.plot(*zip(*train, strict=True), label=f"{run.name} train", alpha=0.8)[0]
        if valid:
            axis.plot(*zip(*valid, strict=True), "o--", color=line.get_color(), label=f"{run.name} validation")
    axis.set_xlabel("optimizer step")
    axis.set_ylabel("cross-entropy (nats/token)")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.out, dpi=120)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
