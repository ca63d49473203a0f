"""Training throughput: our Accelerate loop vs Hugging Face's Seq2SeqTrainer, same model/data/batch.

Both loops train the same freshly initialised preset on the same examples, batch size,
optimizer (AdamW), schedule and padding collator, on this machine's CPU threads. The
examples are either pre-noised BART pretraining examples (text infilling on packed
Spanish blocks: nearly equal lengths) or, with ``--task``, a fine-tuning task's training
pairs (lengths vary: there our loop batches by length, as ``finetune`` does by default,
and the Trainer is also run with its own ``train_sampling_strategy="group_by_length"``). Reported:
examples/s
and tokens/s (real tokens, padding excluded) of each, their ratio, and the MFU against
the fp32 GEMM peak measured in the same run; then each loop's median step (wall and CPU
time between two optimizer steps, so setup and teardown are out of it) and their ratios.
CPU time is the process's: on a shared machine it moves less than the wall clock (with one
torch thread, ``OMP_NUM_THREADS=1``, nothing else runs in the process).

    .venv/bin/python benchmarks/bench_train.py --preset barto-tiny --steps 30
    .venv/bin/python benchmarks/bench_train.py --preset barto-base --steps 6 --batch 4 --seq-len 256
    .venv/bin/python benchmarks/bench_train.py --task tatoeba-en-es --steps 40 --batch 32
    .venv/bin/python benchmarks/bench_train.py --task tatoeba-en-es --steps 40 --token-budget

``--token-budget`` adds our loop on token-budget batches (``finetune train_max_tokens``, the
padding-free path of issue 38): its tokens/s counts the real tokens it drew, so it compares
with the fixed-size batches on the work done, not on the number of examples.

``--smoke`` runs every loop of the chosen mode at tiny sizes in seconds: it checks that the
benchmark runs to its ratio line (CI: ``tests/benchmarks/test_bench_smoke.py``), and its
numbers mean nothing.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.optim.optimizer import register_optimizer_step_post_hook
from transformers import DataCollatorForSeq2Seq, Seq2SeqTrainer, Seq2SeqTrainingArguments
from transformers.utils import logging as hf_logging

from seq2seq_es.corpus.text_files import iter_texts
from seq2seq_es.models.presets import build_model, count_parameters
from seq2seq_es.objectives.bart_denoising import BartDenoisingCollator, BartNoiseSettings
from seq2seq_es.tasks.examples import encode_examples, load_examples, pair_lengths
from seq2seq_es.tasks.registry import get_task
from seq2seq_es.tokenizer.bpe import train_byte_level_bpe
from seq2seq_es.training.batches import EpochBatches, WithoutIndex
from seq2seq_es.training.config import EngineConfig, OptimConfig
from seq2seq_es.training.flops import model_shape, step_flops
from seq2seq_es.training.loop import train
from seq2seq_es.training.peak_probe import probe_cpu_peak
from seq2seq_es.training.token_batches import TokenBatches

DEFAULT_DATA = (
    Path(__file__).resolve().parents[1].parent / "shared" / "data" / "pretrain" / "sample.jsonl.gz"
)


# --smoke: sizes that make a run take seconds (a tokenizer of 400 tokens trained on 200 texts,
# 3 steps of 4 examples, one repeat, a short GEMM probe).
SMOKE = {"steps": 3, "batch": 4, "seq_len": 32, "vocab": 400, "texts": 200, "repeats": 1}
PROBE_REPEATS = {False: 40, True: 2}


@dataclass
class StepClock:
    """Wall and CPU time at the end of every optimizer step, in either loop.

    A global post-step hook on every torch optimizer (``register_optimizer_step_post_hook``)
    sees both loops' optimizers without touching either loop, so the interval between two
    hooks is one whole training step as each loop runs it: data, forward, backward, clipping,
    optimizer, schedule, logging."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def __enter__(self) -> StepClock:
        self.handle = register_optimizer_step_post_hook(self.tick)
        return self

    def __exit__(self, *exc: object) -> None:
        self.handle.remove()

    def tick(self, *_: object) -> None:
        self.wall.append(time.perf_counter())
        self.cpu.append(time.process_time())

    def median_steps(self) -> tuple[float, float]:
        """(wall, CPU) seconds of the median step; the first step (no interval) is left out."""
        return (
            statistics.median(b - a for a, b in itertools.pairwise(self.wall)),
            statistics.median(b - a for a, b in itertools.pairwise(self.cpu)),
        )


@dataclass(frozen=True)
class Timing:
    """One run of one loop: whole-run wall and CPU seconds, median step wall and CPU seconds."""

    seconds: float
    cpu_seconds: float
    step: float
    step_cpu: float


def timed(runner: Callable[[], float]) -> Timing:
    """Run one loop (``runner`` returns its wall seconds) under a ``StepClock``."""
    cpu_start = time.process_time()
    with StepClock() as clock:
        seconds = runner()
    return Timing(seconds, time.process_time() - cpu_start, *clock.median_steps())


def rotated(names: list[str], repeat: int) -> list[str]:
    """The loops' order in repeat ``repeat``: each goes first in turn. The first loop of a
    process pays for the heap's growth (glibc returns freed memory to the system until its
    thresholds adapt: thousands of page faults a step, measured), so a fixed order would
    charge it to one loop."""
    shift = repeat % len(names)
    return names[shift:] + names[:shift]


def make_examples(
    tokenizer: Any, data: Path, seq_len: int, count: int, seed: int, texts_read: int
) -> list[dict[str, list[int]]]:
    """Pack the corpus into blocks and noise each once: the fixed data both loops train on."""
    texts = itertools.islice(iter_texts(data), texts_read)
    stream: list[int] = []
    for ids in tokenizer(list(texts), add_special_tokens=False)["input_ids"]:
        stream.extend([*ids, tokenizer.eos_token_id])
    body = seq_len - 2
    collator = BartDenoisingCollator.from_tokenizer(tokenizer, BartNoiseSettings(), seed)
    examples = []
    for i in range(min(count, len(stream) // body)):
        batch = collator([(i, stream[i * body : (i + 1) * body])])
        source = batch["input_ids"][0]
        examples.append(
            {
                "input_ids": source[source != tokenizer.pad_token_id].tolist(),
                "labels": batch["labels"][0].tolist(),
            }
        )
    return examples


def task_examples(
    tokenizer: Any, task_name: str, data_dir: str, count: int
) -> list[dict[str, list[int]]]:
    """A fine-tuning task's first ``count`` training pairs, tokenized as ``finetune`` does."""
    task = get_task(task_name)
    return encode_examples(load_examples(task, data_dir, "train", count), tokenizer, task)


def run_ours(
    model: Any,
    tokenizer: Any,
    examples: list[dict[str, list[int]]],
    args: argparse.Namespace,
    folder: Path,
    token_budget: int | None = None,
) -> float:
    collate = WithoutIndex(DataCollatorForSeq2Seq(tokenizer, model=model, label_pad_token_id=-100))
    batches: EpochBatches
    if token_budget:
        batches = TokenBatches(examples, collate, token_budget, args.batch, seed=0)
    else:
        lengths = pair_lengths(examples) if args.task else None
        batches = EpochBatches(examples, collate, args.batch, seed=0, lengths=lengths)
    optim = OptimConfig(
        steps=args.steps, batch_size=args.batch, lr=1e-4, warmup_steps=2, weight_decay=0.0
    )
    engine = EngineConfig(
        log_every=args.steps, tensorboard=False, measure_mfu=False, compile=args.compile
    )
    folder.mkdir(parents=True)  # the loop writes into the folder its caller claimed and made
    start = time.perf_counter()
    train(model, batches, optim, engine, folder, seed=0, description="ours")
    return time.perf_counter() - start


def budget_tokens(
    examples: list[dict[str, list[int]]], budget: int, batch: int, steps: int
) -> tuple[int, int]:
    """(examples, real source + target tokens) of the first ``steps`` token-budget batches, in
    the order our loop draws them (epoch after epoch): what its tokens/s counts."""
    lengths = [len(e["input_ids"]) + len(e["labels"]) for e in examples]
    sampler = TokenBatches(examples, lambda rows: {}, budget, batch, seed=0)
    rows: list[int] = []
    epoch = 0
    while len(rows) < steps:
        rows += list(sampler.sampler(epoch, 0, 0, 1))
        epoch += 1
    drawn = [i for batch_rows in rows[:steps] for i in batch_rows]
    return len(drawn), sum(lengths[i] for i in drawn)


def run_hf(
    model: Any,
    tokenizer: Any,
    examples: list[dict[str, list[int]]],
    args: argparse.Namespace,
    folder: Path,
    group_by_length: bool = False,
) -> float:
    training_args = Seq2SeqTrainingArguments(
        output_dir=str(folder),
        per_device_train_batch_size=args.batch,
        max_steps=args.steps,
        learning_rate=1e-4,
        warmup_steps=2,
        weight_decay=0.0,
        lr_scheduler_type="linear",
        logging_steps=args.steps,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        dataloader_num_workers=0,
        disable_tqdm=True,
        seed=0,
        torch_compile=args.compile,
        train_sampling_strategy="group_by_length" if group_by_length else "random",
    )
    collator = DataCollatorForSeq2Seq(tokenizer, model=model, label_pad_token_id=-100)
    trainer = Seq2SeqTrainer(
        model=model,
        args=training_args,
        train_dataset=examples,  # type: ignore[arg-type]
        data_collator=collator,
    )
    start = time.perf_counter()
    trainer.train()
    return time.perf_counter() - start


def build_parser(description: str | None = __doc__) -> argparse.ArgumentParser:
    """The options of this benchmark (``profile_train_step.py`` shares them)."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--preset", default="barto-tiny")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--vocab", type=int, default=8000)
    parser.add_argument(
        "--repeats",
        type=int,
        default=2,
        help="Alternate the loops this many times (each first in turn); best of each.",
    )
    parser.add_argument("--compile", action="store_true", help="torch.compile in both loops.")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument(
        "--task", default=None, help="Train on this task's pairs instead (e.g. tatoeba-en-es)."
    )
    parser.add_argument(
        "--data-dir", default=str(DEFAULT_DATA.parents[1]), help="Task data folder (with --task)."
    )
    parser.add_argument(
        "--texts", type=int, default=2000, help="Corpus texts read for the tokenizer and blocks."
    )
    parser.add_argument(
        "--token-budget",
        action="store_true",
        help="With --task: also our loop on token-budget batches (finetune's train_max_tokens) of "
        "batch × mean real tokens, at most --batch rows; tokens/s counts the real tokens it drew.",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="Tiny sizes, seconds: check that the benchmark runs (its numbers mean nothing).",
    )
    return parser


def load_data(args: argparse.Namespace) -> tuple[Any, list[dict[str, list[int]]]]:
    """(tokenizer, examples) both loops train on: one epoch, every example once in both."""
    if args.smoke:
        vars(args).update(SMOKE)
    if not args.data.is_file():
        sys.exit(f"{args.data} not found: pass --data with a JSONL(.gz) file of Spanish text")
    hf_logging.set_verbosity_error()
    tokenizer = train_byte_level_bpe(
        itertools.islice(iter_texts(args.data), args.texts), args.vocab
    )
    count = args.batch * args.steps
    examples = (
        task_examples(tokenizer, args.task, args.data_dir, count)
        if args.task
        else make_examples(tokenizer, args.data, args.seq_len, count, seed=0, texts_read=args.texts)
    )
    return tokenizer, examples


def main() -> None:
    args = build_parser().parse_args()
    tokenizer, examples = load_data(args)
    source_tokens = sum(len(e["input_ids"]) for e in examples) / len(examples)
    target_tokens = sum(len(e["labels"]) for e in examples) / len(examples)
    # ~2 s at 190 GFLOP/s, in this run: never cached
    peak = probe_cpu_peak(repeats=PROBE_REPEATS[args.smoke]).best
    print(f"torch threads {torch.get_num_threads()}, fp32 GEMM peak {peak / 1e9:.1f} GFLOP/s")

    runners: dict[str, Callable[..., float]] = {"ours": run_ours, "hf": run_hf}
    budget = round(args.batch * (source_tokens + target_tokens))
    if args.task:
        runners["hf-grouped"] = functools.partial(run_hf, group_by_length=True)
        if args.token_budget:
            runners["ours-tokens"] = functools.partial(run_ours, token_budget=budget)
    times: dict[str, list[Timing]] = {name: [] for name in runners}
    params = 0
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            for name in rotated(list(runners), repeat):
                runner = runners[name]
                model = build_model(args.preset, tokenizer, seed=0)
                params = count_parameters(model)
                shape = model_shape(model)
                folder = Path(tmp) / f"{name}{repeat}"
                times[name].append(
                    timed(functools.partial(runner, model, tokenizer, examples, args, folder))
                )
    examples_done = args.batch * args.steps
    flops = step_flops(shape, examples_done, int(source_tokens), int(target_tokens))
    drawn = {
        name: (examples_done, examples_done * (source_tokens + target_tokens)) for name in times
    }
    if "ours-tokens" in times:
        drawn["ours-tokens"] = budget_tokens(examples, budget, args.batch, args.steps)
    # the FLOP count is for the fixed batches' tokens; a token budget's run drew other tokens
    share = {name: drawn[name][1] / drawn["ours"][1] for name in drawn}
    data = f"task {args.task}" if args.task else f"seq_len {args.seq_len}"
    print(
        f"\npreset {args.preset} ({params / 1e6:.1f}M parameters), batch {args.batch}, {data}, "
        f"{args.steps} steps, mean source/target tokens {source_tokens:.0f}/{target_tokens:.0f}"
    )
    if "ours-tokens" in drawn:
        print(f"token budget {budget} (batch × mean real tokens), at most {args.batch} rows")
    print(
        f"{'loop':<22}{'best s':>9}{'CPU s':>8}{'examples/s':>12}{'tokens/s':>11}{'MFU':>8}"
        f"{'step ms':>9}{'CPU ms':>8}"
    )
    best = {name: min(values, key=lambda t: t.seconds) for name, values in times.items()}
    # each loop's fastest median step over the repeats (wall, CPU)
    step = {name: min(t.step for t in values) for name, values in times.items()}
    step_cpu = {name: min(t.step_cpu for t in values) for name, values in times.items()}
    for name, timing in best.items():
        label = {
            "ours": "ours (Accelerate)",
            "hf": "HF Seq2SeqTrainer",
            "hf-grouped": "HF, group_by_length",
            "ours-tokens": "ours, token budget",
        }[name]
        rate = drawn[name][0] / timing.seconds
        print(
            f"{label:<22}{timing.seconds:>9.2f}{timing.cpu_seconds:>8.2f}{rate:>12.1f}"
            f"{drawn[name][1] / timing.seconds:>11.0f}"
            f"{share[name] * flops / timing.seconds / peak:>8.1%}"
            f"{step[name] * 1e3:>9.1f}{step_cpu[name] * 1e3:>8.1f}"
        )
    others = {"hf": "HF", "hf-grouped": "HF with group_by_length"}
    print(f"\nratio ours / HF (tokens/s): {best['hf'].seconds / best['ours'].seconds:.2f}x")
    if "hf-grouped" in best:
        print(
            "ratio ours / HF with group_by_length: "
            f"{best['hf-grouped'].seconds / best['ours'].seconds:.2f}x"
        )
    if "ours-tokens" in best:
        real = {name: drawn[name][1] / best[name].cpu_seconds for name in best}
        print(
            "ratio ours with a token budget / HF with group_by_length (real tokens per CPU s): "
            f"{real['ours-tokens'] / real['hf-grouped']:.2f}x"
        )
    for name in (n for n in others if n in best):
        print(
            f"median step ratio ours / {others[name]}: wall {step[name] / step['ours']:.2f}x, "
            f"CPU {step_cpu[name] / step_cpu['ours']:.2f}x"
        )


if __name__ == "__main__":
    main()
