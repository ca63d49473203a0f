"""Reference likelihood of the ablation's models: pretrained vs random init, paired, per task.

    .venv/bin/python benchmarks/pretraining_ablation_nll.py [--runs runs/ablation]

For every architecture × task of ``pretraining_ablation.sh``, both fine-tuned models
score the same validation examples (those the ablation decoded) by teacher-forced
cross-entropy of the reference (``tasks/likelihood.py``). Prints one Markdown row per
pair: NLL per target token and perplexity with 95% bootstrap intervals, the difference,
and the paired bootstrap / approximate randomization p-values (Holm over the pairs).
Why next to BLEU/ROUGE: tiny models decode near-degenerate text, where generation
metrics cannot separate two systems but the likelihood of the reference still can.
``ntrex-en-es`` scores the Tatoeba en→es models on news (cross-domain).

A report over the ablation's finished runs, not a benchmark: no ``--smoke``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from seq2seq_es.metrics.bootstrap import confidence_intervals
from seq2seq_es.metrics.significance import compare_systems, holm
from seq2seq_es.models.loading import load_seq2seq
from seq2seq_es.tasks.examples import encode_examples, load_examples
from seq2seq_es.tasks.likelihood import nll_stats, reference_nll
from seq2seq_es.tasks.registry import get_task

ARCHS = ("barto", "t5s")
#: task scored → (task the models were fine-tuned on, validation examples the ablation decoded)
TASKS = {
    "squad-es-qa": ("squad-es-qa", None),
    "tatoeba-en-es": ("tatoeba-en-es", 1000),
    "legal-ar-sum": ("legal-ar-sum", 300),
    "ntrex-en-es": ("tatoeba-en-es", None),
}


def pair_rows(runs: Path, arch: str, task_name: str, data_dir: str) -> dict[str, np.ndarray] | None:
    trained_on, limit = TASKS[task_name]
    folders = {
        init: runs / f"{arch}-{init}-{trained_on}" / "model" for init in ("random", "pretrained")
    }
    if not all(folder.is_dir() for folder in folders.values()):
        return None
    task = get_task(task_name)
    examples = load_examples(task, data_dir, "validation", limit)
    rows = {}
    for init, folder in folders.items():
        model, tokenizer = load_seq2seq(folder)
        rows[init] = reference_nll(model, tokenizer, encode_examples(examples, tokenizer, task))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=Path, default=Path("runs/ablation"))
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--trials", type=int, default=10000)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    results = []
    for arch in ARCHS:
        for task_name in TASKS:
            rows = pair_rows(args.runs, arch, task_name, args.data_dir)
            if rows is None:
                continue
            pretrained, random_init = (
                nll_stats(rows["pretrained"], arch),
                nll_stats(rows["random"], arch),
            )
            test = next(
                t
                for t in compare_systems(
                    pretrained, random_init, args.samples, args.trials, seed=12345
                )
                if t.score == "nll_per_token"
            )
            intervals = confidence_intervals(
                [random_init, pretrained], args.samples, 0.95, np.random.default_rng(0)
            )
            results.append(
                {
                    "arch": arch,
                    "task": task_name,
                    "n": int(rows["random"].shape[0]),
                    "tokens": int(rows["random"][:, 1].sum()),
                    "random": test.b,
                    "pretrained": test.a,
                    "ci": [[iv["nll_per_token"].low, iv["nll_per_token"].high] for iv in intervals],
                    "ppl": [float(np.exp(test.b)), float(np.exp(test.a))],
                    "delta": test.delta,
                    "p_bootstrap": test.p_bootstrap,
                    "p_randomization": test.p_randomization,
                }
            )
    for key in ("p_bootstrap", "p_randomization"):
        for result, adjusted in zip(results, holm([r[key] for r in results]), strict=True):
            result[f"{key}_holm"] = adjusted
    (args.runs / "nll.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(
        "| arch | task (examples, target tokens) | random init: NLL/token [95% CI] (ppl) "
        "| pretrained: NLL/token [95% CI] (ppl) | Δ | p bootstrap (Holm) | p AR (Holm) |"
    )
    print("|---|---|---|---|---:|---:|---:|")
    for r in results:
        cells = [
            f"{value:.3f} [{low:.3f}, {high:.3f}] ({ppl:.1f})"
            for value, (low, high), ppl in zip(
                (r["random"], r["pretrained"]), r["ci"], r["ppl"], strict=True
            )
        ]
        print(
            f"| {r['arch']} | {r['task']} ({r['n']:,}, {r['tokens']:,}) | {cells[0]} | {cells[1]} "
            f"| {r['delta']:+.3f} | {r['p_bootstrap_holm']:.4f} | {r['p_randomization_holm']:.4f} |"
        )


if __name__ == "__main__":
    main()
