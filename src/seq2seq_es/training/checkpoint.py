"""Checkpoints: the whole run state, in safe formats, never half-written, resumed exactly.

A checkpoint ``checkpoints/step-00001000/`` holds::

    model.safetensors            the weights (tied tensors stored once; with LoRA main process
                                 only the adapter's, models/adapters.py)
    optimizer.safetensors        the optimizer's state tensors (Adam moments, steps) main process
    optimizer.json               its param groups and scalar state                  main process
    scheduler.json               the learning-rate schedule's position              main process
    rng-rank-00000.safetensors   this process's random states: torch CPU (+ CUDA),   every process
                                 numpy, Python (dropout draws from torch's)
    trainer_state.json           step, data position, planned steps, recent losses, main process,
                                 the callbacks' state (fine-tuning's selection), the  written last
                                 model config, the run identity and its SHA-256

Why our own format instead of Accelerate's ``save_state``: that writes the optimizer,
the scheduler and the random states with pickle (``optimizer.bin``, ``*.pkl``) and loads
them with ``weights_only=False``, so a checkpoint from elsewhere could run code on
``--resume``. Here tensors are safetensors and everything else JSON; nothing is ever
unpickled (``torch.load`` is not called), and a folder that holds pickle files is refused.

Atomic: a checkpoint is written under ``.step-….tmp`` and renamed into place when
complete (``trainer_state.json`` last), so a run killed at any moment leaves the previous
set of checkpoints; the pruning to ``keep_checkpoints`` happens after each write and again
when a run starts (a kill between the rename and the pruning leaves one extra).

Supported: one process and DDP (gloo on CPU, NCCL on GPUs): every process holds the whole
model and optimizer, so the main process writes them and each process writes its own
random states. FSDP (``engine.distributed=fsdp``, ``sharding.py``): each process writes
its shards of the model and optimizer through DCP as safetensors under ``shards/``
(``sharded_checkpoint.py``; ``model.safetensors`` and ``optimizer.safetensors`` are then
absent), the main process the param groups, schedule and state. Accelerate's own FSDP
plugin and DeepSpeed shard in ways this module does not read; it refuses to checkpoint
them (``checkpoint_support``) rather than write something that cannot be resumed.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import DistributedType
from safetensors import safe_open
from safetensors.torch import load_file, load_model, save_file, save_model

from seq2seq_es.errors import CheckpointError, ConfigError
from seq2seq_es.files import write_json
from seq2seq_es.run_record import identity_changes, identity_digest
from seq2seq_es.training.run_folder import (
    FORMAT,
    PREFIX,
    STATE_FILE,
    check_checkpoint_files,
    list_checkpoints,
)
from seq2seq_es.training.sharded_checkpoint import SHARDS, load_sharded, save_sharded
from seq2seq_es.training.sharding import is_sharded

__all__ = [
    "FORMAT",
    "STATE_FILE",
    "ModelState",
    "TrainState",
    "checkpoint_support",
    "list_checkpoints",
    "load_checkpoint",
    "prune",
    "save_checkpoint",
]

MODEL_FILE, OPTIMIZER_TENSORS, OPTIMIZER_JSON, SCHEDULER_JSON = (
    "model.safetensors",
    "optimizer.safetensors",
    "optimizer.json",
    "scheduler.json",
)
RECENT_LOSSES = (
    100  # per-step losses kept in the state, so summaries after a resume see the last ones
)
SUPPORTED = (DistributedType.NO, DistributedType.MULTI_CPU, DistributedType.MULTI_GPU)
# Config keys that do not change the architecture: ignored when checking a resume.
NON_ARCHITECTURE_KEYS = {
    "transformers_version",
    "_name_or_path",
    "architectures",
    "dtype",
    "torch_dtype",
    "use_cache",
    "output_attentions",
    "output_hidden_states",
    "return_dict",
}


class ModelState(Protocol):
    """What a checkpoint stores of a model, when not every weight: the recipe's say, so this
    module knows no model kind. Fine-tuning with LoRA hands ``models.adapters.AdapterCheckpoint``
    (the trainable tensors only: the frozen base is rebuilt from the config on resume). None
    (the default): the whole ``state_dict``, tied tensors once."""

    content: str  # recorded in model.safetensors' metadata ("adapter")

    def state_tensors(self, model: Any) -> dict[str, torch.Tensor]: ...

    def load_state_tensors(
        self, model: Any, tensors: dict[str, torch.Tensor], source: str | Path
    ) -> None: ...


@dataclass
class TrainState:
    """Where a run is and what it must remember, all JSON.

    ``step`` optimizer steps done; ``epoch``/``batch_in_epoch`` the next micro-batch to
    read; ``planned_steps`` the steps the run was asked for; ``stopped_early`` whether a
    ``should_stop`` ended it; ``recent_losses`` the last per-step losses; ``extra`` the
    callbacks' state (fine-tuning's selection: best score, its step, patience count).
    """

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    planned_steps: int = 0
    stopped_early: bool = False
    recent_losses: list[float] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def add_loss(self, loss: float) -> None:
        self.recent_losses = [*self.recent_losses[-(RECENT_LOSSES - 1) :], loss]


def checkpoint_support(accelerator: Accelerator) -> str | None:
    """None when this process layout can be checkpointed, else why not (see the module
    docstring)."""
    kind = accelerator.distributed_type
    if kind in SUPPORTED:
        return None
    return (
        f"checkpoints are written for one process, DDP and engine.distributed=fsdp; under "
        f"Accelerate's {kind.value} the model and optimizer are sharded in a way this version "
        "does not read"
    )


def require_checkpoint_support(accelerator: Accelerator) -> None:
    reason = checkpoint_support(accelerator)
    if reason:
        raise ConfigError(
            f"Cannot checkpoint this run: {reason}. Launch with a DDP config and set "
            "engine.distributed=fsdp to shard, or set engine.checkpoint_every=null and do not "
            "resume (the final model is still saved)."
        )


def architecture_fingerprint(config: Any) -> dict[str, Any]:
    """The model config's architecture keys, in JSON form (so a saved copy compares equal)."""
    data = config.to_dict() if hasattr(config, "to_dict") else dict(config)
    found: dict[str, Any] = json.loads(
        json.dumps({k: v for k, v in data.items() if k not in NON_ARCHITECTURE_KEYS}, default=str)
    )
    return found


# ---------------------------------------------------------------------------- writing


def _write_tensors(
    tensors: dict[str, torch.Tensor], path: Path, metadata: dict[str, str] | None = None
) -> None:
    """``save_file``, with a full disk reported as an ``OSError`` that names ``path``."""
    try:
        save_file(
            {k: v.detach().cpu().contiguous() for k, v in tensors.items()},
            str(path),
            metadata=metadata,
        )
    except Exception as exc:
        raise _os_error(exc, path) from exc


def _os_error(exc: Exception, path: Path) -> Exception:
    found = re.search(r"\(os error (\d+)\)", str(exc))
    if found:
        code = int(found.group(1))
        return OSError(code, os.strerror(code), str(path))
    return exc


def rng_states() -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """This process's random states as tensors + JSON metadata: torch CPU/CUDA, numpy, Python."""
    tensors = {"torch_cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        tensors.update(
            {f"torch_cuda_{i}": state for i, state in enumerate(torch.cuda.get_rng_state_all())}
        )
    kind, keys, position, has_gauss, cached = np.random.get_state(legacy=True)
    tensors["numpy_keys"] = torch.from_numpy(np.asarray(keys, dtype=np.int64))
    version, internal, gauss_next = random.getstate()
    tensors["python_state"] = torch.tensor(internal, dtype=torch.int64)
    meta = {
        "numpy": [kind, int(position), int(has_gauss), float(cached)],
        "python": [version, gauss_next],
    }
    return tensors, {"rng": json.dumps(meta)}


def set_rng_states(path: Path) -> None:
    """Restore what ``rng_states`` saved in ``path``."""
    with safe_open(str(path), framework="pt") as handle:
        meta = json.loads((handle.metadata() or {})["rng"])
        tensors = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118 - not a dict
    torch.set_rng_state(tensors["torch_cpu"])
    cuda = [
        tensors[f"torch_cuda_{i}"]
        for i in range(sum(name.startswith("torch_cuda_") for name in tensors))
    ]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)
    kind, position, has_gauss, cached = meta["numpy"]
    np.random.set_state(
        (kind, tensors["numpy_keys"].numpy().astype(np.uint32), position, has_gauss, cached)
    )
    version, gauss_next = meta["python"]
    random.setstate((version, tuple(int(x) for x in tensors["python_state"].tolist()), gauss_next))


def optimizer_parts(state_dict: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """An optimizer ``state_dict`` as (tensors, JSON): ``"<param index>.<name>"`` → tensor."""
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, values in state_dict["state"].items():
        for name, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{index}.{name}"] = value
            else:
                scalars.setdefault(str(index), {})[name] = value
    return tensors, {"param_groups": state_dict["param_groups"], "scalar_state": scalars}


def optimizer_state_dict(tensors: dict[str, torch.Tensor], data: dict[str, Any]) -> dict[str, Any]:
    """The inverse of ``optimizer_parts``."""
    state: dict[int, dict[str, Any]] = {}
    for key, tensor in tensors.items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = tensor
    for index, values in data["scalar_state"].items():
        state.setdefault(int(index), {}).update(values)
    groups = [
        {**group, **({"betas": tuple(group["betas"])} if "betas" in group else {})}
        for group in data["param_groups"]
    ]
    return {"state": state, "param_groups": groups}


def _inner(optimizer: Any) -> Any:
    """The torch optimizer inside Accelerate's wrapper."""
    return getattr(optimizer, "optimizer", optimizer)


def save_checkpoint(
    accelerator: Accelerator,
    root: Path,
    state: TrainState,
    model: Any,
    optimizer: Any,
    scheduler: Any,
    model_config: Any,
    identity: dict[str, Any],
    keep: int,
    model_state: ModelState | None = None,
) -> Path:
    """Write checkpoint ``step-<step>`` atomically (all processes call it); prune to the last
    ``keep``."""
    require_checkpoint_support(accelerator)
    final = root / f"{PREFIX}{state.step:08d}"
    tmp = root / f".{final.name}.tmp"
    main = accelerator.is_main_process
    try:
        if main:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
        accelerator.wait_for_everyone()
        tensors, meta = rng_states()
        _write_tensors(tensors, tmp / f"rng-rank-{accelerator.process_index:05d}.safetensors", meta)
        if is_sharded(model):  # FSDP: every process writes its shards (sharded_checkpoint.py)
            save_sharded(tmp, model, _inner(optimizer), main)
        if main:
            _write_main_files(accelerator, tmp, model, optimizer, scheduler, model_state)
        accelerator.wait_for_everyone()
        if main:
            write_json(tmp / STATE_FILE, _trainer_state(accelerator, state, model_config, identity))
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
            prune(root, keep)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise CheckpointError(
            f"Cannot write checkpoint {final} ({exc.strerror or exc}: {exc.filename or tmp}). "
            "Nothing was left half-written and earlier checkpoints are intact. Free disk space (or "
            "fix the folder's permissions), then run the same command again, with --resume if "
            f"{root} holds a checkpoint."
        ) from exc
    accelerator.wait_for_everyone()
    return final


def _write_main_files(
    accelerator: Accelerator,
    folder: Path,
    model: Any,
    optimizer: Any,
    scheduler: Any,
    model_state: ModelState | None,
) -> None:
    write_json(folder / SCHEDULER_JSON, scheduler.state_dict())
    if is_sharded(model):
        return
    # keep_torch_compile=False: a compiled model's state_dict prefixes every key with _orig_mod.
    unwrapped = accelerator.unwrap_model(model, keep_torch_compile=False)
    if model_state is not None:
        _write_tensors(
            model_state.state_tensors(unwrapped),
            folder / MODEL_FILE,
            {"format": "pt", "content": model_state.content},
        )
    else:
        try:
            save_model(
                unwrapped,
                str(folder / MODEL_FILE),
                metadata={"format": "pt"},
                force_contiguous=True,
            )
        except Exception as exc:
            raise _os_error(exc, folder / MODEL_FILE) from exc
    tensors, data = optimizer_parts(_inner(optimizer).state_dict())
    _write_tensors(tensors, folder / OPTIMIZER_TENSORS)
    write_json(folder / OPTIMIZER_JSON, data)


def _trainer_state(
    accelerator: Accelerator, state: TrainState, model_config: Any, identity: dict[str, Any]
) -> dict[str, Any]:
    scaler = accelerator.scaler.state_dict() if accelerator.scaler is not None else None
    return {
        "format": FORMAT,
        **asdict(state),
        "processes": accelerator.num_processes,
        "scaler": scaler,
        "model_config": architecture_fingerprint(model_config),
        "run_identity": identity,
        "run_identity_sha256": identity_digest(identity),
    }


def prune(root: Path, keep: int) -> None:
    """Delete all but the last ``keep`` checkpoints (main process only)."""
    for old in list_checkpoints(root)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


# ---------------------------------------------------------------------------- reading


def read_state(path: Path) -> tuple[TrainState, dict[str, Any]]:
    """The ``TrainState`` and the whole ``trainer_state.json`` of a checkpoint (checked: no pickles,
    this format, whole safetensors files)."""
    data = check_checkpoint_files(path)
    try:
        state = TrainState(**{key: data[key] for key in TrainState.__dataclass_fields__})
    except KeyError as exc:
        raise CheckpointError(
            f"{path}/{STATE_FILE}: missing {exc}. The checkpoint is corrupt: delete it to resume "
            "from the previous one."
        ) from None
    return state, data


def check_compatible(path: Path, saved: dict[str, Any], current: dict[str, Any]) -> None:
    """Refuse to resume a checkpoint made with a different model architecture."""
    keys = sorted(set(saved) | set(current))
    differences = [
        f"{k}: {saved.get(k)!r} in checkpoint, {current.get(k)!r} now"
        for k in keys
        if saved.get(k) != current.get(k)
    ]
    if differences:
        raise CheckpointError(
            f"{path} was made with a different model config ({'; '.join(differences[:5])}). "
            "Resume with the config it was made with, or use a new output_dir."
        )


def check_identity(path: Path, data: dict[str, Any], identity: dict[str, Any]) -> None:
    """Refuse a checkpoint of another run (the CLI checks this earlier; library callers get it
    here)."""
    saved = data.get("run_identity")
    if saved is not None and saved != identity:
        raise CheckpointError(
            f"{path} belongs to a run with other settings "
            f"({'; '.join(identity_changes(saved, identity))}). Resume with that run's config, or "
            "start a new output_dir."
        )


def _load_whole(
    accelerator: Accelerator, path: Path, model: Any, optimizer: Any, model_state: Any
) -> None:
    """One process or DDP: the model (or the recipe's ``model_state``) and the optimizer, whole."""
    unwrapped = accelerator.unwrap_model(model, keep_torch_compile=False)
    if model_state is not None:
        model_state.load_state_tensors(
            unwrapped, load_file(str(path / MODEL_FILE)), path / MODEL_FILE
        )
    else:
        load_model(unwrapped, str(path / MODEL_FILE), strict=True)
    tensors = load_file(str(path / OPTIMIZER_TENSORS))
    groups = json.loads((path / OPTIMIZER_JSON).read_text(encoding="utf-8"))
    _inner(optimizer).load_state_dict(optimizer_state_dict(tensors, groups))


def load_checkpoint(
    accelerator: Accelerator,
    path: Path,
    model: Any,
    optimizer: Any,
    scheduler: Any,
    model_config: Any,
    identity: dict[str, Any],
    model_state: ModelState | None = None,
) -> TrainState:
    """Restore model, optimizer, scheduler and this process's random states; return the state.
    ``model_state``: the one the run was saved with (see ``ModelState``)."""
    require_checkpoint_support(accelerator)
    state, data = read_state(path)
    check_compatible(path, data.get("model_config", {}), architecture_fingerprint(model_config))
    check_identity(path, data, identity)
    if data.get("processes") != accelerator.num_processes:
        raise CheckpointError(
            f"{path} was written by {data.get('processes')} process(es), this run has "
            f"{accelerator.num_processes}: each process's random states resume its own dropout. "
            f"Resume with {data.get('processes')} process(es)."
        )
    sharded = is_sharded(model)
    if (path / SHARDS).is_dir() != sharded:
        raise CheckpointError(
            f"{path} was written by a {'' if sharded else 'non-'}sharded run and this one is "
            f"{'not ' if sharded else ''}sharded. Resume with the engine.distributed it was made "
            "with."
        )
    try:
        if sharded:
            load_sharded(path, model, _inner(optimizer))
        else:
            _load_whole(accelerator, path, model, optimizer, model_state)
        scheduler.load_state_dict(json.loads((path / SCHEDULER_JSON).read_text(encoding="utf-8")))
        if accelerator.scaler is not None and data.get("scaler"):
            accelerator.scaler.load_state_dict(data["scaler"])
        set_rng_states(path / f"rng-rank-{accelerator.process_index:05d}.safetensors")
    except Exception as exc:  # a truncated file surfaces as many different exception types
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise CheckpointError(
            f"{path}: cannot load ({type(exc).__name__}: {reason}). The checkpoint is corrupt "
            "or partial: delete it to resume from the previous one."
        ) from None
    return state
