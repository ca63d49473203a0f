"""The table of ``pretraining_ablation.sh``: pretrained vs random init, per architecture and task.

    .venv/bin/python benchmarks/pretraining_ablation_table.py [--runs runs/ablation]

Reads each ``compare-<arch>-<task>/compare.json`` (random init is the baseline, the
pretrained model the other system) and each run's ``scores.json`` (training loss), and
prints one Markdown row (``ntrex-en-es``: the Tatoeba en→es models on news, cross-domain) per
architecture × task × score: both values with their 95%
bootstrap intervals, the difference, and the Holm-corrected p-values of the paired
bootstrap and approximate randomization tests. Nothing is computed here that the
``compare`` command did not already write.

A report over the ablation's finished runs, not a benchmark: no ``--smoke``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

ARCHS = ("barto", "t5s")
TASKS = (
    "squad-es-qa",
    "tatoeba-en-es",
    "legal-ar-sum",
    "ntrex-en-es",
)  # ntrex: cross-domain, Tatoeba models
SHOWN = {
    "qa": ("exact_match", "token_f1"),
    "rouge": ("rouge1", "rouge2", "rougeL"),
    "bleu": ("score",),
    "chrf": ("score",),
}


def _load(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _cell(entry: dict[str, Any], score: str) -> str:
    low, high = entry["ci"][score]
    return f"{entry[score]:.2f} [{low:.2f}, {high:.2f}]"


def rows_for(runs: Path, arch: str, task: str) -> list[str]:
    comparison = _load(runs / f"compare-{arch}-{task}" / "compare.json")
    if comparison is None:
        return [f"| {arch} | {task} | (not run) | | | | | | |"]
    random_path, pretrained_path = comparison["systems"]
    losses = []
    for init in ("random", "pretrained"):
        scores = _load(runs / f"{arch}-{init}-{task}" / "scores.json") or {}
        loss = scores.get("training", {}).get("final_train_loss")
        losses.append("—" if loss is None else f"{loss:.2f}")
    rows = []
    for test in comparison["tests"]:
        if test["score"] not in SHOWN.get(test["metric"], ()):
            continue
        metric, score = test["metric"], test["score"]
        label = metric if score == "score" else f"{metric}/{score}"
        rows.append(
            f"| {arch} | {task} (n={comparison['n']}) | {label} | "
            f"{_cell(comparison['results'][random_path][metric], score)} | "
            f"{_cell(comparison['results'][pretrained_path][metric], score)} | "
            f"{test['delta']:+.2f} | {test['p_bootstrap_holm']:.4f} | "
            f"{test['p_randomization_holm']:.4f} | {losses[0]} → {losses[1]} |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=Path, default=Path("runs/ablation"))
    args = parser.parse_args()
    print(
        "| arch | task | score | random init [95% CI] | pretrained [95% CI] | Δ | p bootstrap | p "
        "AR | train loss random → pretrained |"
    )
    print("|---|---|---|---|---|---:|---:|---:|---|")
    for arch in ARCHS:
        for task in TASKS:
            print("\n".join(rows_for(args.runs, arch, task)))


if __name__ == "__main__":
    main()
