"""One training loop for pretraining and fine-tuning, on Accelerate.

Why Accelerate: the same loop runs on a laptop CPU, one GPU, or many nodes
(``accelerate launch --config_file configs/accelerate/…``; DDP, FSDP, DeepSpeed)
without a home-made distributed layer. The loop is short enough to read in one
sitting (nanoGPT's lesson): micro-batches with gradient accumulation, clipping,
optimizer and schedule step, logging (JSONL, TensorBoard, Rich), validation, and
atomic checkpoints from which ``resume=True`` continues bit-exactly on CPU.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO, cast

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from rich.console import Console
from torch.utils.data import Dataset

from seq2seq_es.errors import CheckpointError, DataError
from seq2seq_es.models.loading import state_dict_for_saving
from seq2seq_es.progress import progress_bar
from seq2seq_es.training.batches import EpochBatches
from seq2seq_es.training.checkpoint import (
    TrainState,
    list_checkpoints,
    load_checkpoint,
    save_checkpoint,
)
from seq2seq_es.training.config import EngineConfig, OptimConfig
from seq2seq_es.training.flops import ModelShape, model_shape, peak_flops, step_flops
from seq2seq_es.training.optimizers import build_optimizer
from seq2seq_es.training.schedules import build_scheduler
from seq2seq_es.training.trackers import Trackers

Batch = dict[str, torch.Tensor]
Evaluate = Callable[[Any, int], dict[str, float]]  # (model, step) → numbers to log


@dataclass
class TrainResult:
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    tokens: int = 0
    final_state: TrainState = field(default_factory=TrainState)
    last_eval: dict[str, float] = field(default_factory=dict)
    model: Any = None  # the trained model, unwrapped from DDP/compile
    state_dict: dict[str, Any] | None = None  # full weights, gathered when FSDP/ZeRO shard them
    is_main_process: bool = True

    def save_model(self, folder: Path) -> None:
        """``save_pretrained`` with the gathered weights (call on the main process).

        A shared BERT2BERT is written untied (safetensors forbids aliased tensors);
        ``models.loading.load_seq2seq`` ties it again.
        """
        self.model.save_pretrained(folder, state_dict=self.state_dict or state_dict_for_saving(self.model))


def as_dataset(items: Sequence[Any]) -> Dataset[Any]:
    """A list is a map-style dataset to ``DataLoader``; this only tells the type checker."""
    return cast("Dataset[Any]", items)


def make_accelerator(engine: EngineConfig) -> Accelerator:
    """An Accelerator with the precision the hardware supports (bf16 on GPU, fp32 on CPU)."""
    cuda = torch.cuda.is_available()
    precision = engine.mixed_precision
    if precision == "auto":
        precision = "bf16" if cuda and torch.cuda.is_bf16_supported() else "no"
    if cuda and engine.tf32:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    return Accelerator(cpu=not cuda, mixed_precision=precision)


def micro_batches(batches: EpochBatches, start: TrainState, rank: int, world: int) -> Iterator[tuple[Batch, int, int]]:
    """Yield (batch, epoch, next batch index) forever, crossing epoch boundaries."""
    epoch, first = start.epoch, start.batch_in_epoch
    while True:
        produced = False
        for offset, batch in enumerate(batches.epoch(epoch, first, rank, world)):
            produced = True
            yield batch, epoch, first + offset + 1
        if not produced and first == 0:
            raise DataError(f"The training data gives no full batch: {len(batches.dataset)} examples, "
                            f"batch_size {batches.batch_size}. Add data or lower optim.batch_size.")
        epoch, first = epoch + 1, 0


def _open_metrics(path: Path, resume_step: int) -> TextIO:
    """Open metrics.jsonl for appending, dropping lines a killed run wrote after its checkpoint."""
    kept: list[str] = []
    if resume_step and path.is_file():
        kept = [line for line in path.read_text(encoding="utf-8").splitlines()
                if line.strip() and json.loads(line).get("step", 0) <= resume_step]
    handle = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed by the caller's ExitStack
    handle.writelines(line + "\n" for line in kept)
    return handle


def train(model: Any, batches: EpochBatches, optim: OptimConfig, engine: EngineConfig, output_dir: str | Path,
          seed: int, description: str = "training", resume: bool = False,
          evaluate: Evaluate | None = None, should_stop: Callable[[], bool] | None = None) -> TrainResult:
    """Train ``model`` for ``optim.steps`` optimizer steps; see the module docstring.

    ``evaluate(model, step)`` runs every ``engine.eval_every`` steps (its numbers are logged);
    ``should_stop()`` is asked after each evaluation (early stopping).
    """
    if engine.threads:
        torch.set_num_threads(engine.threads)
    output_dir = Path(output_dir)
    checkpoints = output_dir / "checkpoints"
    accelerator = make_accelerator(engine)
    set_seed(seed)
    model_config = model.config
    shape = model_shape(model)
    if engine.compile:
        model = torch.compile(model)
    optimizer = build_optimizer(model, optim)
    scheduler = build_scheduler(optimizer, optim.schedule, optim.warmup_steps, optim.steps, optim.min_lr_ratio)
    model, optimizer = accelerator.prepare(model, optimizer)
    accelerator.register_for_checkpointing(scheduler)

    state = TrainState()
    existing = list_checkpoints(checkpoints)
    if existing and not resume:
        raise CheckpointError(f"{checkpoints} already holds checkpoints. Pass --resume to continue that run, "
                              "or choose a new output_dir.")
    if resume and existing:
        state = load_checkpoint(accelerator, existing[-1], model_config)
        accelerator.print(f"resuming from {existing[-1]} (step {state.step})")

    peak, peak_source = peak_flops() if engine.measure_mfu else (0.0, "not measured")
    main = accelerator.is_main_process
    output_dir.mkdir(parents=True, exist_ok=True)
    result = TrainResult()
    stream = micro_batches(batches, state, accelerator.process_index, accelerator.num_processes)
    model.train()
    with contextlib.ExitStack() as stack:
        log = stack.enter_context(_open_metrics(output_dir / "metrics.jsonl", state.step)) if main else None
        trackers = Trackers(output_dir, state.step, engine.tensorboard, engine.trackio) if main else None
        if trackers is not None:
            stack.callback(trackers.close)
        bar = stack.enter_context(progress_bar()) if main else None
        task = bar.add_task(description, total=optim.steps, completed=state.step, status="") if bar else None
        window = {"start": time.perf_counter(), "tokens": 0, "flops": 0.0}
        start_time = time.perf_counter()
        while state.step < optim.steps:
            loss_sum = torch.zeros((), device=accelerator.device)
            for micro in range(optim.grad_accum_steps):
                batch, state.epoch, state.batch_in_epoch = next(stream)
                batch = {k: v.to(accelerator.device) for k, v in batch.items()}
                sync = micro == optim.grad_accum_steps - 1
                with contextlib.nullcontext() if sync else accelerator.no_sync(model):
                    loss = model(**batch).loss
                    accelerator.backward(loss / optim.grad_accum_steps)
                loss_sum += loss.detach()
                tokens, flops = _batch_cost(shape, batch)
                window["tokens"] += tokens * accelerator.num_processes
                window["flops"] += flops * accelerator.num_processes
            grad_norm = accelerator.clip_grad_norm_(model.parameters(), optim.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            state.step += 1
            loss_value = float(accelerator.reduce(loss_sum / optim.grad_accum_steps, reduction="mean"))
            if not math.isfinite(loss_value):
                raise FloatingPointError(f"loss became {loss_value} at step {state.step}; lower optim.lr "
                                         "or raise optim.warmup_steps")
            result.losses.append(loss_value)
            record: dict[str, Any] = {}
            if state.step % engine.log_every == 0 or state.step == optim.steps:
                now = time.perf_counter()
                elapsed = max(now - cast(float, window["start"]), 1e-9)
                achieved = window["flops"] / elapsed
                record = {"step": state.step, "loss": loss_value, "lr": scheduler.get_last_lr()[0],
                          "grad_norm": float(grad_norm), "tokens_per_s": window["tokens"] / elapsed,
                          "tflops": achieved / 1e12, "mfu": achieved / peak if peak else None}
                result.tokens += int(window["tokens"])
                window = {"start": now, "tokens": 0, "flops": 0.0}
            evaluated = evaluate is not None and bool(engine.eval_every) and state.step % (engine.eval_every or 1) == 0
            if evaluated and evaluate is not None:
                result.last_eval = evaluate(model, state.step)
                record = {"step": state.step, **record, **result.last_eval}
            if record and log is not None:
                log.write(json.dumps(record) + "\n")
                log.flush()
                if trackers is not None:
                    trackers.log(record, state.step)
            if engine.checkpoint_every and (state.step % engine.checkpoint_every == 0 or state.step == optim.steps):
                save_checkpoint(accelerator, checkpoints, state, model_config, engine.keep_checkpoints)
            if bar is not None and task is not None:
                bar.update(task, completed=state.step, status=f"loss {loss_value:.3f}")
            if evaluated and should_stop is not None and should_stop():
                accelerator.print(f"early stop at step {state.step}")
                if engine.checkpoint_every and state.step % engine.checkpoint_every:
                    save_checkpoint(accelerator, checkpoints, state, model_config, engine.keep_checkpoints)
                break
        result.seconds = time.perf_counter() - start_time
    result.final_state = state
    result.model = accelerator.unwrap_model(model)
    result.state_dict = accelerator.get_state_dict(model) if accelerator.num_processes > 1 else None
    result.is_main_process = main
    accelerator.wait_for_everyone()
    if main:
        Console().print(f"[dim]MFU peak: {peak / 1e9:.1f} GFLOP/s ({peak_source})[/]" if peak else "")
    return result


def _batch_cost(shape: ModelShape, batch: Batch) -> tuple[int, float]:
    """(source + target tokens, training FLOPs) of one padded micro-batch on this process."""
    rows, source_len = batch["input_ids"].shape
    target_len = batch["labels"].shape[1]
    return rows * (source_len + target_len), step_flops(shape, rows, source_len, target_len)
