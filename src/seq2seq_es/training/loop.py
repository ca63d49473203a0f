"""One training loop for pretraining and fine-tuning, on Accelerate.

Why Accelerate: the same loop runs on a laptop CPU, one GPU, or many nodes
(``accelerate launch --config_file configs/accelerate/…``; DDP, FSDP, DeepSpeed)
without a home-made distributed layer. The loop is short enough to read in one
sitting (nanoGPT's lesson): micro-batches with gradient accumulation, clipping,
optimizer and schedule step, logging (JSONL, TensorBoard, Rich), validation, and
atomic checkpoints (``training/checkpoint.py``) from which ``resume=True`` continues
bit-exactly on CPU, dropout included: every random stream is either restored (torch,
numpy and Python RNG states, per process) or a pure function of (seed, epoch, index)
(data order, noise), and callbacks' state (fine-tuning's selection) rides in the
checkpoint. Ctrl-C stops at the next step boundary with a checkpoint
(``training/interrupt.py``).
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO, cast

import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState
from accelerate.utils import DistributedType, broadcast_object_list, set_seed
from torch.utils.data import Dataset

from seq2seq_es.errors import CheckpointError, ConfigError, DataError, DivergenceError
from seq2seq_es.files import remove_leftovers
from seq2seq_es.progress import progress_bar
from seq2seq_es.training.batches import EpochBatches
from seq2seq_es.training.checkpoint import (
    ModelState,
    TrainState,
    list_checkpoints,
    load_checkpoint,
    prune,
    require_checkpoint_support,
    save_checkpoint,
)
from seq2seq_es.training.compiled import compile_model, mark_lengths_dynamic
from seq2seq_es.training.config import EngineConfig, OptimConfig
from seq2seq_es.training.flops import (
    NOT_MEASURED,
    ModelShape,
    PeakFlops,
    mfu_fields,
    model_shape,
    resolve_peak,
    step_flops,
)
from seq2seq_es.training.interrupt import (
    StopFlag,
    TrainingInterrupted,
    catch_interrupts,
    requeue_slurm_job,
)
from seq2seq_es.training.losses import IGNORE_INDEX, training_loss
from seq2seq_es.training.optimizers import build_optimizer
from seq2seq_es.training.run_folder import CHECKPOINTS
from seq2seq_es.training.schedules import build_scheduler
from seq2seq_es.training.sharding import FullCopy, local_value, shard_model
from seq2seq_es.training.trackers import Trackers
from seq2seq_es.verbose_notes import verbose_note

Batch = dict[str, torch.Tensor]
Evaluate = Callable[[Any, int], dict[str, float]]  # (unwrapped model, step) → numbers to log


class Stateful(Protocol):
    """A callback's state that must survive a resume (fine-tuning's selection), as JSON data."""

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


@dataclass
class TrainResult:
    """What a run produced. ``losses``: per-step losses (after a resume, the last ones of the
    run before it, from the checkpoint, then this invocation's), so a summary's final loss is
    the same whether or not the run was resumed."""

    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    tokens: int = 0
    flops: float = 0.0
    peak: PeakFlops = NOT_MEASURED
    final_state: TrainState = field(default_factory=TrainState)
    last_eval: dict[str, float] = field(default_factory=dict)
    model: Any = None  # the trained model, unwrapped from DDP/compile
    state_dict: dict[str, Any] | None = None  # full weights, gathered when FSDP/ZeRO shard them
    is_main_process: bool = True

    def efficiency(self) -> dict[str, Any]:
        """Throughput and MFU over this invocation's whole training time, evaluations and
        checkpoints included: what the run cost end to end (metrics.jsonl's per-window figures
        are noisier, and the time after the last logged step is in none of them). Empty when
        nothing was trained."""
        if not self.seconds or not self.tokens:
            return {}
        achieved = self.flops / self.seconds
        return {
            "tokens_per_s": self.tokens / self.seconds,
            "tflops": achieved / 1e12,
            **mfu_fields(achieved, self.peak),
        }


def as_dataset(items: Sequence[Any]) -> Dataset[Any]:
    """A list is a map-style dataset to ``DataLoader``; this only tells the type checker."""
    return cast("Dataset[Any]", items)


def make_accelerator(engine: EngineConfig) -> Accelerator:
    """An Accelerator with the precision the hardware supports (bf16 on GPU, fp32 on CPU).

    Accelerate keeps one precision per process (a shared ``AcceleratorState``) and refuses an
    Accelerator of another, so a process that trains twice (``demo``: pretraining, then
    fine-tuning) could not change precision between its runs. The precision is that state's
    only per-run part here, so it is reset; the processes' state (``PartialState``: the
    process group, the device) is kept."""
    cuda = torch.cuda.is_available()
    precision = engine.mixed_precision
    if precision == "auto":
        precision = "bf16" if cuda and torch.cuda.is_bf16_supported() else "no"
    if AcceleratorState._shared_state and AcceleratorState().mixed_precision != precision:
        AcceleratorState._reset_state()
    return Accelerator(cpu=not cuda, mixed_precision=precision)


def micro_batches(
    batches: EpochBatches, start: TrainState, rank: int, world: int
) -> Iterator[tuple[Batch, int, int]]:
    """Yield (batch, epoch, next batch index) forever, crossing epoch boundaries."""
    epoch, first = start.epoch, start.batch_in_epoch
    while True:
        produced = False
        for offset, batch in enumerate(batches.epoch(epoch, first, rank, world)):
            produced = True
            yield batch, epoch, first + offset + 1
        if not produced and first == 0:
            raise DataError(
                f"The training data gives no full batch: {len(batches.dataset)} examples, "
                f"batch_size {batches.batch_size}. Add data or lower optim.batch_size."
            )
        epoch, first = epoch + 1, 0


def _open_metrics(path: Path, resume_step: int) -> TextIO:
    """Open metrics.jsonl for appending, dropping lines a killed run wrote after its checkpoint."""
    kept: list[str] = []
    if resume_step and path.is_file():
        kept = [
            line
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and json.loads(line).get("step", 0) <= resume_step
        ]
    handle = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed by the caller's ExitStack
    handle.writelines(line + "\n" for line in kept)
    return handle


def train(
    model: Any,
    batches: EpochBatches,
    optim: OptimConfig,
    engine: EngineConfig,
    output_dir: str | Path,
    seed: int,
    description: str = "training",
    resume: bool = False,
    evaluate: Evaluate | None = None,
    should_stop: Callable[[], bool] | None = None,
    callback_state: Stateful | None = None,
    identity: dict[str, Any] | None = None,
    model_state: ModelState | None = None,
) -> TrainResult:
    """Train ``model`` for ``optim.steps`` optimizer steps; see the module docstring.

    Each step reads as the list of what happens in it (nanoT5's ``maybe_*`` steps):
    ``train_step``, ``maybe_log``, ``maybe_evaluate``, ``write_record``,
    ``maybe_checkpoint``, ``maybe_stop_on_interrupt``. ``evaluate(model, step)`` runs every
    ``engine.eval_every`` steps on the main process only, with the *unwrapped* model (DDP
    has no ``generate``), while the other processes wait; ``should_stop()`` (early
    stopping) is asked there too, and its answer is broadcast so every process stops at
    the same step. ``callback_state`` is saved in every checkpoint and restored on resume;
    ``identity`` (the run's resolved config and input fingerprints) is saved too, and a
    checkpoint of another identity is refused. ``model_state``: what checkpoints store of
    the model when not every weight (LoRA: the adapter; ``checkpoint.ModelState``).
    """
    output_dir = Path(output_dir)
    checkpoints = output_dir / CHECKPOINTS
    identity = identity or {}
    accelerator = make_accelerator(engine)
    if accelerator.distributed_type in (DistributedType.FSDP, DistributedType.DEEPSPEED):
        raise ConfigError(
            f"The launch config turns on Accelerate's {accelerator.distributed_type.value}, but "
            "this engine shards the model itself, with checkpoints it can resume (DeepSpeed's "
            "are pickles): launch with a MULTI_GPU config such as "
            "configs/accelerate/fsdp2-8gpu.yaml and set engine.distributed=fsdp."
        )
    if engine.checkpoint_every or resume:
        require_checkpoint_support(accelerator)
    main = accelerator.is_main_process
    peak = resolve_peak(engine, processes=accelerator.num_processes) if main else NOT_MEASURED
    accelerator.wait_for_everyone()
    set_seed(seed)
    model_config = model.config
    shape = model_shape(model)
    full_copy = None
    if engine.distributed == "fsdp" and accelerator.num_processes > 1:  # training/sharding.py
        full_copy = start_sharding(accelerator, model, engine, model_state)
    if engine.compile:
        model = compile_model(model, engine.compile_exact_random)
    optimizer = build_optimizer(model, optim)
    scheduler = build_scheduler(
        optimizer, optim.schedule, optim.warmup_steps, optim.steps, optim.min_lr_ratio
    )
    if full_copy is None:
        model, optimizer = accelerator.prepare(model, optimizer)
    else:  # already sharded: Accelerate would wrap it in DDP
        optimizer = accelerator.prepare(optimizer)
    if main:
        tidy(output_dir, engine.keep_checkpoints)
    accelerator.wait_for_everyone()
    parts = Parts(
        accelerator,
        model,
        optimizer,
        scheduler,
        model_config,
        identity,
        checkpoints,
        model_state,
        full_copy,
    )
    state = start_state(parts, resume, optim.steps)
    if callback_state is not None and state.extra:
        callback_state.load_state_dict(state.extra)
    if main and engine.measure_mfu:
        verbose_note(peak.describe())
    result = TrainResult(losses=list(state.recent_losses), peak=peak)
    stream = micro_batches(batches, state, accelerator.process_index, accelerator.num_processes)
    model.train()
    with contextlib.ExitStack() as stack:
        log = (
            stack.enter_context(_open_metrics(output_dir / "metrics.jsonl", state.step))
            if main
            else None
        )
        trackers = (
            Trackers(output_dir, state.step, engine.tensorboard, engine.trackio) if main else None
        )
        if trackers is not None:
            stack.callback(trackers.close)
        interrupts = stack.enter_context(catch_interrupts(announce=main))
        bar = stack.enter_context(progress_bar()) if main else None
        task = (
            bar.add_task(description, total=optim.steps, completed=state.step, status="")
            if bar
            else None
        )
        meter = Throughput(shape, accelerator.num_processes, peak)
        start_time = time.perf_counter()
        while state.step < optim.steps and not state.stopped_early:
            try:
                loss_value, grad_norm = train_step(
                    accelerator,
                    model,
                    optimizer,
                    scheduler,
                    stream,
                    state,
                    optim,
                    meter,
                    batches.per_token_loss,
                    engine.compile,
                )
            except DivergenceError as exc:
                raise DivergenceError(f"{exc} {divergence_advice(checkpoints)}") from None
            state.add_loss(loss_value)
            result.losses.append(loss_value)
            record = maybe_log(
                state.step,
                optim.steps,
                engine,
                loss_value,
                float(scheduler.get_last_lr()[0]),
                grad_norm,
                meter,
                result,
            )
            evaluated, numbers, stop = maybe_evaluate(
                parts, state.step, engine, evaluate, should_stop
            )
            if evaluated:
                result.last_eval = numbers
                record = {"step": state.step, **record, **numbers}
            state.stopped_early = stop
            state.planned_steps = optim.steps
            if callback_state is not None:
                state.extra = callback_state.state_dict()
            write_record(log, trackers, record, state.step)
            saved = maybe_checkpoint(parts, state, engine, final=state.step == optim.steps or stop)
            if bar is not None and task is not None:
                bar.update(task, completed=state.step, status=f"loss {loss_value:.3f}")
            if stop:
                accelerator.print(f"early stop at step {state.step}")
            maybe_stop_on_interrupt(parts, state, engine, interrupts, saved)
        result.seconds = time.perf_counter() - start_time
    result.final_state = state
    result.model = parts.plain_model()
    gather = accelerator.num_processes > 1 and full_copy is None
    result.state_dict = accelerator.get_state_dict(model) if gather else None
    result.is_main_process = main
    accelerator.wait_for_everyone()
    return result


@dataclass(frozen=True)
class Parts:
    """What a checkpoint saves and restores, gathered once so the loop's steps stay short."""

    accelerator: Accelerator
    model: Any
    optimizer: Any
    scheduler: Any
    model_config: Any
    identity: dict[str, Any]
    root: Path
    model_state: ModelState | None = None
    full_copy: FullCopy | None = None  # FSDP: the main process's plain twin

    def plain_model(self) -> Any:
        """The model callbacks and savers see: unwrapped from DDP/compile, or under FSDP the
        gathered twin (every process must call it then; None on the others).

        Uncompiled too (Accelerate keeps ``torch.compile``'s wrapper by default): validation
        under ``no_grad`` compiled a graph of its own, and the model card named the class
        ``OptimizedModule``."""
        if self.full_copy is not None:
            return self.full_copy.gather(self.model)
        return self.accelerator.unwrap_model(self.model, keep_torch_compile=False)

    def save(self, state: TrainState, keep: int) -> Path:
        return save_checkpoint(
            self.accelerator,
            self.root,
            state,
            self.model,
            self.optimizer,
            self.scheduler,
            self.model_config,
            self.identity,
            keep,
            self.model_state,
        )


def start_sharding(
    accelerator: Accelerator, model: Any, engine: EngineConfig, model_state: ModelState | None
) -> FullCopy:
    """Shard ``model`` in place (FSDP2) and return the main process's plain twin of it."""
    if model_state is not None:
        raise ConfigError(
            f"engine.distributed=fsdp shards every weight, but this run checkpoints only part of "
            f"its model ({model_state.content}): an adapter trains too few weights for sharding "
            "to save memory. Use engine.distributed=ddp."
        )
    full_copy = FullCopy(model, accelerator.is_main_process, accelerator.device)
    shard_model(model, accelerator.device, accelerator.num_processes, accelerator.mixed_precision)
    return full_copy


def divergence_advice(checkpoints: Path) -> str:
    """Where a diverged run stands: its last complete checkpoint (from before the divergence),
    or none."""
    found = list_checkpoints(checkpoints)
    if not found:
        return "No checkpoint was written before it: start again with the new settings."
    return (
        f"The last complete checkpoint, from before it, is {found[-1]}: `--resume` continues "
        "from it with the same settings (bit-exactly, so it may diverge again); other settings "
        "need a new output_dir."
    )


def tidy(output_dir: Path, keep: int) -> None:
    """Before a run starts in its (claimed) folder: remove what killed writers left, prune
    checkpoints."""
    for folder in (output_dir, output_dir / CHECKPOINTS, output_dir / "data"):
        remove_leftovers(folder)
    prune(output_dir / CHECKPOINTS, keep)


def start_state(parts: Parts, resume: bool, planned_steps: int) -> TrainState:
    """Step 0, or the last checkpoint's state when resuming; refuse to train over a run's
    checkpoints."""
    existing = list_checkpoints(parts.root)
    if existing and not resume:
        raise CheckpointError(
            f"{parts.root} already holds checkpoints. Pass --resume to continue that run, "
            "or choose a new output_dir."
        )
    if not resume:
        return TrainState(planned_steps=planned_steps)
    if not existing:
        raise CheckpointError(
            f"Nothing to resume: {parts.root} holds no checkpoint. Start the run without --resume."
        )
    state = load_checkpoint(
        parts.accelerator,
        existing[-1],
        parts.model,
        parts.optimizer,
        parts.scheduler,
        parts.model_config,
        parts.identity,
        parts.model_state,
    )
    parts.accelerator.print(f"resuming from {existing[-1]} (step {state.step})")
    return state


@dataclass
class Throughput:
    """Tokens and FLOPs since the last log line, summed over processes: tokens/s, TFLOP/s, MFU."""

    shape: ModelShape
    processes: int
    peak: PeakFlops
    start: float = field(default_factory=time.perf_counter)
    tokens: int = 0
    flops: float = 0.0

    def add(self, batch: Batch) -> None:
        tokens, flops = _batch_cost(self.shape, batch)
        self.tokens += tokens * self.processes
        self.flops += flops * self.processes

    def read_and_reset(self) -> dict[str, Any]:
        now = time.perf_counter()
        elapsed = max(now - self.start, 1e-9)
        achieved = self.flops / elapsed
        numbers = {
            "tokens_per_s": self.tokens / elapsed,
            "tflops": achieved / 1e12,
            **mfu_fields(achieved, self.peak),
            "tokens": self.tokens,
            "flops": self.flops,
        }
        self.start, self.tokens, self.flops = now, 0, 0.0
        return numbers


def train_step(
    accelerator: Accelerator,
    model: Any,
    optimizer: Any,
    scheduler: Any,
    stream: Iterator[tuple[Batch, int, int]],
    state: TrainState,
    optim: OptimConfig,
    meter: Throughput,
    per_token: bool = False,
    compiled: bool = False,
) -> tuple[float, Any]:
    """One optimizer step over ``grad_accum_steps`` micro-batches; advances ``state``.
    ``per_token``: weigh the micro-batches by their target tokens (``loss_divisors``);
    ``compiled``: the model is compiled (``training/compiled.py``).

    Returns the mean loss and the gradient norm (a tensor: read only when logged, so a GPU
    does not wait for it every step)."""
    loss_sum = torch.zeros((), device=accelerator.device)
    micro_list = []
    for _ in range(optim.grad_accum_steps):
        batch, state.epoch, state.batch_in_epoch = next(stream)
        moved = {k: v.to(accelerator.device) for k, v in batch.items()}
        micro_list.append(mark_lengths_dynamic(moved) if compiled else moved)
    divisors = loss_divisors(accelerator, micro_list, per_token)
    for micro, (batch, divisor) in enumerate(zip(micro_list, divisors, strict=True)):
        sync = micro == optim.grad_accum_steps - 1
        with contextlib.nullcontext() if sync else accelerator.no_sync(model):
            loss = training_loss(model, batch, optim.z_loss, targets_only=not compiled)
            accelerator.backward(loss / divisor)
        loss_sum += loss.detach() / divisor
        meter.add(batch)
    grad_norm = local_value(accelerator.clip_grad_norm_(model.parameters(), optim.max_grad_norm))
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    state.step += 1
    loss_value = float(accelerator.reduce(loss_sum, reduction="mean"))
    if not math.isfinite(loss_value):
        raise DivergenceError(
            f"the training loss became {loss_value} at step {state.step}: the run diverged. "
            "Lower optim.lr or raise optim.warmup_steps."
        )
    return loss_value, grad_norm


def loss_divisors(
    accelerator: Accelerator, micro: list[Batch], per_token: bool
) -> list[torch.Tensor | int]:
    """What each micro-batch's mean loss is divided by, so that the step's gradient is that of
    the step's loss.

    Fixed-size batches: the micro-batch count (a mean of means, as before token budgets).
    ``per_token``: micro-batches hold different numbers of target tokens (token-budget
    batches), and a mean of their means would weigh a token of a small batch more than one of a
    large batch; dividing by ``total / (processes × own tokens)``, ``total`` the step's target
    tokens over every micro-batch and process, makes the gradient (which DDP averages over the
    processes) the mean over the step's tokens. One micro-batch on one process: 1, exactly."""
    if not per_token:
        return [len(micro)] * len(micro)
    counts = torch.stack([(batch["labels"] != IGNORE_INDEX).sum() for batch in micro]).double()
    total = counts.sum()
    if accelerator.num_processes > 1:
        total = accelerator.reduce(total, reduction="sum")
    return list((total / (counts.clamp(min=1) * accelerator.num_processes)).float())


def maybe_log(
    step: int,
    last_step: int,
    engine: EngineConfig,
    loss: float,
    lr: float,
    grad_norm: Any,
    meter: Throughput,
    result: TrainResult,
) -> dict[str, Any]:
    """Every ``log_every`` steps (and the last): the step's numbers and the throughput since the
    last log."""
    if step % engine.log_every and step != last_step:
        return {}
    numbers = meter.read_and_reset()
    result.tokens += int(numbers.pop("tokens"))
    result.flops += numbers.pop("flops")
    return {"step": step, "loss": loss, "lr": lr, "grad_norm": float(grad_norm), **numbers}


def maybe_evaluate(
    parts: Parts,
    step: int,
    engine: EngineConfig,
    evaluate: Evaluate | None,
    should_stop: Callable[[], bool] | None,
) -> tuple[bool, dict[str, float], bool]:
    """Every ``eval_every`` steps: (evaluated, numbers, stop), evaluated on the main process
    only."""
    if evaluate is None or not engine.eval_every or step % engine.eval_every:
        return False, {}, False
    accelerator = parts.accelerator
    numbers: dict[str, float] = {}
    stop = [False]
    current = parts.plain_model()
    if accelerator.is_main_process:
        numbers = evaluate(current, step)
        stop = [should_stop is not None and should_stop()]
    accelerator.wait_for_everyone()
    if accelerator.num_processes > 1:
        broadcast_object_list(stop, from_process=0)
    return True, numbers, bool(stop[0])


def write_record(
    log: TextIO | None, trackers: Trackers | None, record: dict[str, Any], step: int
) -> None:
    """Append a record to metrics.jsonl and the trackers (main process only: the others pass
    None)."""
    if not record or log is None:
        return
    log.write(json.dumps(record) + "\n")
    log.flush()
    if trackers is not None:
        trackers.log(record, step)


def maybe_checkpoint(parts: Parts, state: TrainState, engine: EngineConfig, final: bool) -> bool:
    """Every ``checkpoint_every`` steps and at the last one (early stop included), when
    checkpointing is on."""
    if engine.checkpoint_every and (state.step % engine.checkpoint_every == 0 or final):
        parts.save(state, engine.keep_checkpoints)
        return True
    return False


def maybe_stop_on_interrupt(
    parts: Parts, state: TrainState, engine: EngineConfig, interrupts: StopFlag, saved: bool
) -> None:
    """After Ctrl-C, SIGTERM or SIGUSR1 (on any process): checkpoint this step unless just done
    (after Slurm's SIGUSR1, requeue the job), then raise ``TrainingInterrupted``."""
    accelerator = parts.accelerator
    requested = interrupts.requested
    if accelerator.num_processes > 1:
        flag = torch.tensor([float(requested)], device=accelerator.device)
        requested = bool(accelerator.reduce(flag, reduction="sum").item() > 0)
    if not requested:
        return
    path = parts.root / f"step-{state.step:08d}"
    if not saved:
        path = parts.save(state, engine.keep_checkpoints)
    accelerator.wait_for_everyone()  # every process's part of the checkpoint is on disk
    if accelerator.is_main_process:
        requeue_slurm_job(interrupts.signum)
    raise TrainingInterrupted(state.step, path, interrupts.signum)


def _batch_cost(shape: ModelShape, batch: Batch) -> tuple[int, float]:
    """(source + target tokens, training FLOPs) of one padded micro-batch on this process.

    An encoder-only model (masked LM) reads its tokens once: its labels are the inputs'
    positions."""
    rows, source_len = batch["input_ids"].shape
    target_len = batch["labels"].shape[1] if shape.decoder_layers else 0
    return rows * (source_len + target_len), step_flops(shape, rows, source_len, target_len)
