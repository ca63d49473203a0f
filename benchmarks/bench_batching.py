"""Fine-tuning batches: fixed examples (random, or grouped by length) vs a token budget.

Three ``finetune`` runs of the same preset, task, examples, steps and seed, in one process:

* ``random``: ``--batch`` examples per step in random order (``group_by_length=false``);
* ``group_by_length``: the same, grouped by length (the default, ``training/batches.py``);
* ``tokens``: ``train_max_tokens`` (``training/token_batches.py``) set so that a step holds
  ``--batch`` examples on average (searched on the epoch's batch plan), cap 4 × ``--batch``.

Reported for each: examples per step, the padding share of the source + target tokens, real
(non-pad) and padded tokens/s, and the final scores of the run's own decoding of the validation
examples (BLEU, chrF, and the teacher-forced NLL per target token, with bootstrap 95% intervals:
over examples, not over training seeds; run another ``--seed`` for that). Then the ratios of real
tokens/s against ``random`` and ``group_by_length``, measured in the same run from the median of
the loop's 20 logged windows (a load spike from another process moves a window, not the median;
the whole-loop figure, from ``scores.json``'s ``training.efficiency.seconds``, is printed too).
The token counts come from replaying each run's batch plan (a pure function of the seed).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_batching.py --steps 300 --batch 32

``--smoke`` runs the three at tiny sizes (2 steps of 4 examples, 4 decoded examples): it checks
that the benchmark runs to its ratio lines (``tests/benchmarks/test_bench_smokes.py``), and its
numbers mean nothing.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console
from transformers import DataCollatorForSeq2Seq

from seq2seq_es.commands.base import run_command
from seq2seq_es.commands.finetune import COMMANDS
from seq2seq_es.corpus.text_files import iter_texts
from seq2seq_es.models.presets import preset_tokenizer
from seq2seq_es.tasks.config import FinetuneConfig
from seq2seq_es.tasks.examples import encode_examples, load_examples
from seq2seq_es.tasks.finetune import training_batches
from seq2seq_es.tasks.registry import get_task
from seq2seq_es.tokenizer.bpe import train_byte_level_bpe
from seq2seq_es.tokenizer.save import save_tokenizer
from seq2seq_es.training.batches import WithoutIndex
from seq2seq_es.training.token_batches import epoch_plan

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"
# --smoke: a tokenizer of 400 tokens on 100 texts, 2 steps of 4 examples, 4 decoded examples
SMOKE = {"steps": 2, "batch": 4, "vocab": 400, "texts": 100, "eval_examples": 4}
MODES = ("random", "group_by_length", "tokens")


def comparable_budget(features: list[dict[str, Any]], batch: int, seed: int) -> int:
    """The smallest token budget whose epoch-0 plan averages at least ``batch`` examples a
    batch (bisection: the average grows with the budget)."""
    sources = [len(f["input_ids"]) for f in features]
    targets = [len(f["labels"]) for f in features]
    low, high = max(sources) + max(targets), batch * (max(sources) + max(targets))
    while low < high:
        middle = (low + high) // 2
        plan = epoch_plan(sources, targets, middle, 4 * batch, seed, 0, 1)
        if sum(map(len, plan)) / len(plan) < batch:
            low = middle + 1
        else:
            high = middle
    return low


def replay(config: FinetuneConfig, features: list[dict[str, Any]], tokenizer: Any) -> dict:
    """Examples, real and padded source + target tokens of the run's first ``steps`` batches,
    from the same batch plan the run trained on."""
    collate = WithoutIndex(DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=-100))
    batches = training_batches(config, features, collate)
    wanted = config.optim.steps * config.optim.grad_accum_steps
    taken = itertools.islice(
        (b for epoch in itertools.count() for b in batches.sampler(epoch, 0, 0, 1)), wanted
    )
    examples = real = padded = 0
    for batch in taken:
        source = [len(features[i]["input_ids"]) for i in batch]
        target = [len(features[i]["labels"]) for i in batch]
        examples += len(batch)
        real += sum(source) + sum(target)
        padded += len(batch) * (max(source) + max(target))
    return {"examples": examples, "real": real, "padded": padded}


def median_window_speed(folder: Path) -> float:
    """The median of the loop's per-window padded tokens/s (``metrics.jsonl``), the first window
    left out (warm-up): a load spike from another process on a shared machine moves a window,
    not the median."""
    lines = (folder / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    speeds = [
        record["tokens_per_s"] for record in map(json.loads, lines) if "tokens_per_s" in record
    ]
    return statistics.median(speeds[1:] or speeds)


def score_text(scores: dict[str, Any], metric: str) -> str:
    """``metric`` (``bleu``, ``nll.nll_per_token``) and its bootstrap 95% interval, e.g.
    ``12.34 [11.02, 13.70]``."""
    name, _, key = metric.partition(".")
    found, key = scores[name], key or "score"
    low, high = found.get("ci", {}).get(key, (float("nan"), float("nan")))
    return f"{found[key]:.2f} [{low:.2f}, {high:.2f}]"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--task", default="tatoeba-en-es")
    parser.add_argument("--data-dir", default=str(DATA_DIR))
    parser.add_argument("--preset", default="barto-tiny")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--max-tokens", type=int, default=None, help="Default: comparable.")
    parser.add_argument("--vocab", type=int, default=8000)
    parser.add_argument("--texts", type=int, default=2000, help="Corpus texts for the tokenizer.")
    parser.add_argument("--eval-examples", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--smoke", action="store_true", help="Tiny sizes, seconds.")
    args = parser.parse_args()
    if args.smoke:
        vars(args).update(SMOKE)

    work = Path(tempfile.mkdtemp(prefix="bench_batching_"))
    corpus = Path(args.data_dir) / "pretrain" / "sample.jsonl.gz"
    save_tokenizer(
        train_byte_level_bpe(itertools.islice(iter_texts(corpus), args.texts), args.vocab),
        work / "tokenizer",
    )
    tokenizer = preset_tokenizer(args.preset, str(work / "tokenizer"))
    count = args.steps * args.batch  # about one epoch: each example once
    task = get_task(args.task)
    features = encode_examples(load_examples(task, args.data_dir, "train", count), tokenizer, task)
    budget = args.max_tokens or comparable_budget(features, args.batch, args.seed)
    common = {
        "task": args.task,
        "data_dir": args.data_dir,
        "model": args.preset,
        "tokenizer": str(work / "tokenizer"),
        "max_train_examples": count,
        "max_eval_examples": args.eval_examples,
        "bootstrap_samples": 200,
        "seed": args.seed,
        "optim": {"steps": args.steps, "batch_size": args.batch, "lr": 5e-4, "warmup_steps": 30},
        "engine": {
            "measure_mfu": False,
            "tensorboard": False,
            "log_every": max(args.steps // 20, 1),
        },
    }
    settings = {
        "random": {"group_by_length": False},
        "group_by_length": {},
        "tokens": {
            "train_max_tokens": budget,
            "optim": {**common["optim"], "batch_size": 4 * args.batch},
        },
    }
    console = Console(stderr=True)
    rows = {}
    for mode in MODES:
        config = FinetuneConfig.model_validate(
            {**common, **settings[mode], "output_dir": str(work / mode)}
        )
        scores = run_command(COMMANDS[0], config, console)
        seconds = scores["training"]["efficiency"]["seconds"]
        counts = replay(config, features, tokenizer)
        rows[mode] = {
            **counts,
            "seconds": seconds,
            "median_padded_per_s": median_window_speed(work / mode),
            "scores": scores,
        }
        (work / f"{mode}.json").write_text(json.dumps(counts), encoding="utf-8")

    print(
        f"{args.preset} on {args.task}: {args.steps} steps, {count} training examples, seed "
        f"{args.seed}; token budget {budget} (cap {4 * args.batch} examples); runs in {work}"
    )
    print(
        "mode | examples/step | padding | real tok/s (whole loop) | real tok/s (median window) "
        "| padded tok/s (median window) | train s | BLEU | chrF | validation NLL/token"
    )
    speed = {}
    for mode, row in rows.items():
        real_share = row["real"] / row["padded"]
        speed[mode] = row["median_padded_per_s"] * real_share
        print(
            f"{mode} | {row['examples'] / args.steps:.1f} | {1 - real_share:.1%} | "
            f"{row['real'] / row['seconds']:,.0f} | {speed[mode]:,.0f} | "
            f"{row['median_padded_per_s']:,.0f} | {row['seconds']:.1f} | "
            f"{score_text(row['scores'], 'bleu')} | {score_text(row['scores'], 'chrf')} | "
            f"{score_text(row['scores'], 'nll.nll_per_token')}"
        )
    for mode, baseline in (
        ("group_by_length", "random"),
        ("tokens", "random"),
        ("tokens", "group_by_length"),
    ):
        print(
            f"ratio {mode} / {baseline} (real tokens/s, median window): "
            f"{speed[mode] / speed[baseline]:.2f}x"
        )


if __name__ == "__main__":
    main()
