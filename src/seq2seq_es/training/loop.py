"""One training loop for pretraining and fine-tuning, on Accelerate.

Why Accelerate: the same loop runs on a laptop CPU, one GPU, or many nodes
(`accelerate launch`) without a home-made distributed layer. The loop is kept short
enough to read in one sitting (nanoGPT's lesson).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from torch.utils.data import Dataset
from transformers import get_scheduler

from seq2seq_es.training.config import OptimConfig


@dataclass
class TrainResult:
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    tokens: int = 0


def as_dataset(items: Sequence[Any]) -> Dataset[Any]:
    """A list is a map-style dataset to ``DataLoader``; this only tells the type checker."""
    return cast("Dataset[Any]", items)


def _cycle(make_epoch: Callable[[int], Iterable[dict[str, torch.Tensor]]]) -> Iterator[dict[str, torch.Tensor]]:
    epoch = 0
    while True:
        empty = True
        for batch in make_epoch(epoch):
            empty = False
            yield batch
        if empty:
            raise ValueError("the training data produced no batch")
        epoch += 1


def progress_bar() -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[status]}"), TimeRemainingColumn())


def train(model: Any, make_epoch: Callable[[int], Iterable[dict[str, torch.Tensor]]], optim: OptimConfig,
          output_dir: str | Path, seed: int, description: str = "training") -> TrainResult:
    """Train ``model`` for ``optim.steps`` steps on batches from ``make_epoch(epoch)``.

    Writes one JSON line per logged step to ``output_dir/metrics.jsonl``
    (step, loss, lr, grad_norm, tokens/s). Returns the per-step losses.
    """
    if optim.threads:
        torch.set_num_threads(optim.threads)
    set_seed(seed)
    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": optim.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=optim.lr,
    )
    scheduler = get_scheduler(optim.schedule, optimizer, num_warmup_steps=optim.warmup_steps,
                              num_training_steps=optim.steps)
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    model.train()
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    result = TrainResult()
    batches = _cycle(make_epoch)
    start = time.perf_counter()
    window_tokens, window_start = 0, start
    with open(output_dir / "metrics.jsonl", "w", encoding="utf-8") as log, progress_bar() as bar:
        task = bar.add_task(description, total=optim.steps, status="")
        for step in range(1, optim.steps + 1):
            batch = {k: v.to(accelerator.device) for k, v in next(batches).items()}
            loss = model(**batch).loss
            accelerator.backward(loss)
            grad_norm = accelerator.clip_grad_norm_(model.parameters(), optim.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            value = float(loss.detach())
            if not math.isfinite(value):
                raise FloatingPointError(f"loss became {value} at step {step}; lower the learning rate")
            result.losses.append(value)
            n_tokens = int(batch["attention_mask"].sum())
            result.tokens += n_tokens
            window_tokens += n_tokens
            if step % optim.log_every == 0 or step == optim.steps:
                now = time.perf_counter()
                record = {"step": step, "loss": value, "lr": scheduler.get_last_lr()[0],
                          "grad_norm": float(grad_norm), "tokens_per_s": window_tokens / max(now - window_start, 1e-9)}
                log.write(json.dumps(record) + "\n")
                log.flush()
                window_tokens, window_start = 0, now
            bar.update(task, advance=1, status=f"loss {value:.3f}")
    result.seconds = time.perf_counter() - start
    return result
