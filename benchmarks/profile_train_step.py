"""Where a training step's time goes: our loop vs Hugging Face's Seq2SeqTrainer, phase by phase.

``bench_train.py`` says which loop is faster; this says why. Each loop trains the same
freshly initialised preset on the same examples as there (same options), while a ``Phases``
clock times, without changing either loop, what both do each step:

- forward (hooks on the model), backward (``torch.autograd.backward``), gradient clipping
  (``Accelerator.clip_grad_norm_``), optimizer (hooks on every optimizer's step), schedule
  (``LRScheduler.step``), zeroing the gradients;
- data: the DataLoader's ``next`` (sampler, indexing) and, apart, the collator
  (``DataCollatorForSeq2Seq``: padding, labels, decoder inputs);
- logging and metering: ours ``maybe_log``, ``write_record``, the throughput meter, the
  progress bar; the Trainer's ``_maybe_log_save_evaluate``, callbacks, FLOP and token counters;
- per-step checks: ours ``maybe_evaluate``, ``maybe_checkpoint``, ``maybe_stop_on_interrupt``.

Times are exclusive (a timed call inside another is taken out of the outer one), so the rows
add up to the step; "rest" is what no row names (the loops' own Python, moving the batch,
reading the loss). A step is the time between two optimizer steps; rows are means over every
step but the first, of each loop's run in the last of ``--repeats`` rounds (each loop goes
first in turn, ``bench_train.rotated``: the first loop of a process pays for the heap's growth).
Then ``cProfile`` records one step of each loop (``--profile-step``) and prints its
functions by own time: where "rest" goes. cProfile slows Python code a few times over, so
read its column as shares, and the phase table for the times. ``torch.profiler`` records
the step after it: its operators by own CPU time (which kernels the step runs).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/profile_train_step.py --task tatoeba-en-es \\
        --steps 40 --batch 32

``--smoke``: tiny sizes, seconds (``tests/benchmarks/test_bench_smoke.py``).
"""

from __future__ import annotations

import cProfile
import functools
import io
import pstats
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import rich.progress
import torch
from accelerate import Accelerator
from bench_train import build_parser, load_data, rotated, run_hf, run_ours
from torch.optim.lr_scheduler import LRScheduler
from torch.optim.optimizer import (
    register_optimizer_step_post_hook,
    register_optimizer_step_pre_hook,
)
from torch.utils.data.dataloader import _BaseDataLoaderIter
from transformers import DataCollatorForSeq2Seq, Trainer
from transformers.trainer_callback import CallbackHandler

from seq2seq_es.models.presets import build_model
from seq2seq_es.training import loop

# (row, owner, attribute): what each row of the table times, by the function it wraps
WRAPPED: list[tuple[str, Any, str]] = [
    ("backward", torch.autograd, "backward"),
    ("clip", Accelerator, "clip_grad_norm_"),
    ("schedule", LRScheduler, "step"),
    ("zero grad", torch.optim.Optimizer, "zero_grad"),
    ("zero grad", torch.nn.Module, "zero_grad"),
    ("data: loader", _BaseDataLoaderIter, "__next__"),
    ("data: collator", DataCollatorForSeq2Seq, "__call__"),
    ("logging/metering", loop, "maybe_log"),
    ("logging/metering", loop, "write_record"),
    ("logging/metering", loop.Throughput, "add"),
    ("logging/metering", rich.progress.Progress, "update"),
    ("logging/metering", Trainer, "_maybe_log_save_evaluate"),
    ("logging/metering", Trainer, "floating_point_ops"),
    ("logging/metering", Trainer, "_track_num_input_tokens"),
    ("logging/metering", CallbackHandler, "call_event"),
    ("per-step checks", loop, "maybe_evaluate"),
    ("per-step checks", loop, "maybe_checkpoint"),
    ("per-step checks", loop, "maybe_stop_on_interrupt"),
]
ROWS = [
    "forward",
    "backward",
    "clip",
    "optimizer",
    "schedule",
    "zero grad",
    "data: loader",
    "data: collator",
    "logging/metering",
    "per-step checks",
    "rest",
]


# The process's CPU time: on a shared machine the wall clock also counts the time other jobs
# hold the cores; with one torch thread this process computes on one thread only.
CLOCK = time.process_time


class Phases:
    """Exclusive CPU seconds per row, per optimizer step, with one step under cProfile."""

    def __init__(self, profile_step: int) -> None:
        self.stack: list[list[Any]] = []  # [row, start, time taken by calls inside]
        self.current: dict[str, float] = defaultdict(float)
        self.steps: list[dict[str, float]] = []
        self.last_step: float | None = None
        self.profile_step = profile_step
        self.profiler: cProfile.Profile | None = None
        self.ops: torch.profiler.profile | None = None
        self.profile = ""
        self.op_table = ""

    def enter(self, row: str) -> None:
        self.stack.append([row, CLOCK(), 0.0])

    def leave(self) -> None:
        row, start, inner = self.stack.pop()
        taken = CLOCK() - start
        self.current[row] += taken - inner
        if self.stack:
            self.stack[-1][2] += taken

    def wrap(self, row: str, function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            self.enter(row)
            try:
                return function(*args, **kwargs)
            finally:
                self.leave()

        return timed

    def step_done(self) -> None:
        """After each optimizer step: close the step that ends here; profile the chosen one."""
        now = CLOCK()
        if self.last_step is not None:
            step = dict(self.current)
            step["step"] = now - self.last_step
            step["rest"] = step["step"] - sum(self.current.values())
            self.steps.append(step)
        self.current = defaultdict(float)
        self.last_step = now
        done = len(self.steps) + 1  # optimizer steps finished so far
        if self.profiler is not None:
            self.profiler.disable()
            self.profile = profile_text(self.profiler)
            self.profiler = None
        if self.ops is not None:
            self.ops.stop()
            self.op_table = self.ops.key_averages().table(
                sort_by="self_cpu_time_total", row_limit=20, max_name_column_width=45
            )
            self.ops = None
        if done == self.profile_step - 1:  # the next step is the one to profile
            self.profiler = cProfile.Profile()
            self.profiler.enable()
        if done == self.profile_step:  # and torch's profiler the one after it
            self.ops = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU])
            self.ops.start()

    def means(self) -> dict[str, float]:
        return {row: statistics.fmean(s.get(row, 0.0) for s in self.steps) for row in ROWS}

    def median_step(self) -> float:
        return statistics.median(s["step"] for s in self.steps)


def profile_text(profiler: cProfile.Profile, lines: int = 25) -> str:
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(lines)
    return out.getvalue()


@contextmanager
def phases_on(model: torch.nn.Module, profile_step: int) -> Iterator[Phases]:
    """Time the rows of ``ROWS`` while the block runs (every wrapper removed after it)."""
    phases = Phases(profile_step)
    saved = [(owner, name, getattr(owner, name)) for _, owner, name in WRAPPED]
    handles = [
        model.register_forward_pre_hook(lambda *_: phases.enter("forward")),
        model.register_forward_hook(lambda *_: phases.leave()),
        register_optimizer_step_pre_hook(lambda *_: phases.enter("optimizer")),
        register_optimizer_step_post_hook(lambda *_: (phases.leave(), phases.step_done())),
    ]
    for row, owner, name in WRAPPED:
        setattr(owner, name, phases.wrap(row, getattr(owner, name)))
    try:
        yield phases
    finally:
        for handle in handles:
            handle.remove()
        for owner, name, original in saved:
            setattr(owner, name, original)


def main() -> None:
    parser = build_parser(__doc__)
    parser.add_argument(
        "--profile-step",
        type=int,
        default=None,
        help="The step cProfile records (default: the middle one).",
    )
    args = parser.parse_args()
    tokenizer, examples = load_data(args)
    runners: dict[str, Callable[..., float]] = {"ours": run_ours, "HF": run_hf}
    if args.task:
        runners["HF grouped"] = functools.partial(run_hf, group_by_length=True)
    profile_step = args.profile_step or max(2, args.steps // 2)
    results: dict[str, Phases] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):  # the last repeat's phases are kept
            for name in rotated(list(runners), repeat):
                model = build_model(args.preset, tokenizer, seed=0)
                folder = Path(tmp) / f"{name.replace(' ', '-')}{repeat}"
                with phases_on(model, profile_step) as phases:
                    runners[name](model, tokenizer, examples, args, folder)
                results[name] = phases
    results = {name: results[name] for name in runners}
    print(
        f"\nmean ms per step over steps 2-{args.steps} ({args.preset}, batch {args.batch}, "
        f"{args.task or 'pretraining blocks'}, {torch.get_num_threads()} torch thread(s))"
    )
    print(f"{'phase':<18}" + "".join(f"{name:>12}" for name in results))
    means = {name: phases.means() for name, phases in results.items()}
    for row in ROWS:
        print(f"{row:<18}" + "".join(f"{means[name][row] * 1e3:>12.2f}" for name in results))
    print(
        f"{'step (mean)':<18}" + "".join(f"{sum(m.values()) * 1e3:>12.2f}" for m in means.values())
    )
    print(
        f"{'step (median)':<18}"
        + "".join(f"{p.median_step() * 1e3:>12.2f}" for p in results.values())
    )
    for name, phases in results.items():
        print(f"\n--- cProfile, step {profile_step}, {name} (by own time) ---")
        print(phases.profile)
        print(f"--- torch.profiler, step {profile_step + 1}, {name} (by self CPU time) ---")
        print(phases.op_table)
    print("profile: done")


if __name__ == "__main__":
    main()
