"""Checkpoint write and load: our safetensors + JSON format vs Accelerate's ``save_state``
(pickles).

The format change (``training/checkpoint.py``) must not make checkpoints slower or larger
by more than 10%. Both sides save the same state in the same run: a barto-small (or any
preset) after one AdamW step (so the optimizer holds its moments), its LR scheduler, and
the random states. The baseline is what the loop did before: a temporary folder,
``accelerator.save_state`` (model.safetensors, optimizer.bin, scheduler.bin,
random_states_0.pkl), ``trainer_state.json``, a rename; loading is ``load_state``. Ours is
``save_checkpoint`` / ``load_checkpoint`` as the loop calls them (the loading side also
checks every safetensors header and the run identity). Rounds alternate the two, so a
busy machine slows both alike; reported: median and best wall seconds, median CPU seconds
of this process (on a machine shared with other jobs the wall time mostly measures the
waiting), bytes, and ratios.

    .venv/bin/python benchmarks/bench_checkpoint.py --preset barto-small --rounds 7
    .venv/bin/python benchmarks/bench_checkpoint.py --smoke   # barto-tiny, 2 rounds: seconds

``--smoke`` checks that the benchmark runs to its ratio lines; its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import statistics
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator

from seq2seq_es.corpus.text_files import iter_texts
from seq2seq_es.files import write_json
from seq2seq_es.models.presets import build_model, count_parameters
from seq2seq_es.tokenizer.bpe import train_byte_level_bpe
from seq2seq_es.training.checkpoint import TrainState, load_checkpoint, save_checkpoint
from seq2seq_es.training.config import OptimConfig
from seq2seq_es.training.optimizers import build_optimizer
from seq2seq_es.training.schedules import build_scheduler

DEFAULT_DATA = (
    Path(__file__).resolve().parents[1].parent / "shared" / "data" / "pretrain" / "sample.jsonl.gz"
)


def trained_state(
    preset: str, data: Path, vocab_size: int, texts: int
) -> tuple[Accelerator, Any, Any, Any]:
    """(accelerator, model, optimizer, scheduler) after one optimizer step of ``preset``."""
    tokenizer = train_byte_level_bpe(
        itertools.islice(iter_texts(data), texts), vocab_size=vocab_size
    )
    model = build_model(preset, tokenizer, seed=0)
    optimizer = build_optimizer(model, OptimConfig())
    scheduler = build_scheduler(optimizer, "linear", 10, 100)
    accelerator = Accelerator(cpu=True)
    model, optimizer = accelerator.prepare(model, optimizer)
    accelerator.register_for_checkpointing(scheduler)
    ids = torch.randint(5, len(tokenizer), (4, 128), generator=torch.Generator().manual_seed(0))
    model(input_ids=ids, labels=ids).loss.backward()
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad()
    print(
        f"{preset}: {count_parameters(accelerator.unwrap_model(model)) / 1e6:.1f}M parameters, "
        f"vocabulary {len(tokenizer)}"
    )
    return accelerator, model, optimizer, scheduler


def save_before(accelerator: Accelerator, root: Path, state: TrainState) -> Path:
    """The loop's checkpoint before the change: Accelerate's save_state in a folder renamed into
    place."""
    final, tmp = root / f"step-{state.step:08d}", root / f".step-{state.step:08d}.tmp"
    tmp.mkdir(parents=True)
    accelerator.save_state(str(tmp))
    write_json(tmp / "trainer_state.json", asdict(state))
    os.replace(tmp, final)
    return final


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="barto-small")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--vocab-size", type=int, default=8000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--texts", type=int, default=3000, help="Corpus texts for the tokenizer.")
    parser.add_argument("--smoke", action="store_true", help="barto-tiny, 2 rounds: seconds.")
    args = parser.parse_args()
    if args.smoke:
        args.preset, args.vocab_size, args.rounds, args.texts = "barto-tiny", 400, 2, 100
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    accelerator, model, optimizer, scheduler = trained_state(
        args.preset, args.data, args.vocab_size, args.texts
    )
    model_config = accelerator.unwrap_model(model).config
    identity = {"preset": args.preset}
    keys = ("write before", "write after", "load before", "load after")
    times: dict[str, list[float]] = {key: [] for key in keys}
    cpu: dict[str, list[float]] = {key: [] for key in keys}
    sizes: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="bench-checkpoint-") as scratch:
        for round_index in range(args.rounds):
            state = TrainState(step=round_index + 1, planned_steps=args.rounds)
            for side in ("before", "after") if round_index % 2 == 0 else ("after", "before"):
                root = Path(scratch) / side
                start, start_cpu = time.perf_counter(), time.process_time()
                if side == "before":
                    path = save_before(accelerator, root, state)
                else:
                    path = save_checkpoint(
                        accelerator,
                        root,
                        state,
                        model,
                        optimizer,
                        scheduler,
                        model_config,
                        identity,
                        keep=1,
                    )
                times[f"write {side}"].append(time.perf_counter() - start)
                cpu[f"write {side}"].append(time.process_time() - start_cpu)
                sizes[side] = folder_bytes(path)
                start, start_cpu = time.perf_counter(), time.process_time()
                if side == "before":
                    accelerator.load_state(str(path))
                else:
                    load_checkpoint(
                        accelerator, path, model, optimizer, scheduler, model_config, identity
                    )
                times[f"load {side}"].append(time.perf_counter() - start)
                cpu[f"load {side}"].append(time.process_time() - start_cpu)
                shutil.rmtree(root)
    print(f"{args.rounds} rounds, alternating; wall seconds (median / best), CPU seconds (median):")
    for key, values in times.items():
        print(
            f"  {key:13s} {statistics.median(values):7.3f} / {min(values):7.3f}   CPU "
            f"{statistics.median(cpu[key]):7.3f}"
        )
    for what in ("write", "load"):
        wall, best, used = (
            [reduce(values[f"{what} {side}"]) for side in ("before", "after")]
            for reduce, values in (
                (statistics.median, times),
                (min, times),
                (statistics.median, cpu),
            )
        )
        print(
            f"ratio {what} after / before: {wall[1] / wall[0]:.2f}x (median wall), "
            f"{best[1] / best[0]:.2f}x (best wall), {used[1] / used[0]:.2f}x (median CPU)"
        )
    print(
        f"size: before {sizes['before'] / 1e6:.2f} MB, after {sizes['after'] / 1e6:.2f} MB; "
        f"ratio size after / before: {sizes['after'] / sizes['before']:.3f}x"
    )


if __name__ == "__main__":
    main()
