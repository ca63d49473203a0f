"""Checkpoints that are never half-written and resume exactly.

A checkpoint folder ``checkpoints/step-00001000/`` holds what Accelerate's
``save_state`` writes (model weights as safetensors, optimizer, registered scheduler,
every process's RNG states) plus ``trainer_state.json`` (step, data position, model
config). It is written under a temporary name and renamed into place only when
complete, so a run killed at any moment leaves either the old set of checkpoints or
the new one; ``trainer_state.json`` is written last and marks completeness.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from accelerate import Accelerator

from seq2seq_es.errors import CheckpointError
from seq2seq_es.files import write_json

STATE_FILE = "trainer_state.json"
PREFIX = "step-"
# Config keys that do not change the architecture: ignored when checking a resume.
NON_ARCHITECTURE_KEYS = {"transformers_version", "_name_or_path", "architectures", "dtype", "torch_dtype",
                         "use_cache", "output_attentions", "output_hidden_states", "return_dict"}


@dataclass
class TrainState:
    """Where training is: optimizer steps done and the next micro-batch to read."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0


def list_checkpoints(root: Path) -> list[Path]:
    """Complete checkpoints under ``root``, oldest first."""
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and p.name.startswith(PREFIX) and (p / STATE_FILE).is_file()]
    return sorted(found, key=lambda p: p.name)


def architecture_fingerprint(config: Any) -> dict[str, Any]:
    """The config's architecture keys, in JSON form (so a saved copy compares equal)."""
    data = config.to_dict() if hasattr(config, "to_dict") else dict(config)
    return json.loads(json.dumps({k: v for k, v in data.items() if k not in NON_ARCHITECTURE_KEYS}, default=str))


def save_checkpoint(accelerator: Accelerator, root: Path, state: TrainState, model_config: Any, keep: int) -> Path:
    """Write checkpoint ``step-<step>`` atomically on every process; prune to the last ``keep``."""
    final = root / f"{PREFIX}{state.step:08d}"
    tmp = root / f".{final.name}.tmp"
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        write_json(tmp / STATE_FILE, {**asdict(state), "model_config": architecture_fingerprint(model_config)})
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        for old in list_checkpoints(root)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return final


def read_state(path: Path) -> tuple[TrainState, dict[str, Any]]:
    try:
        data = json.loads((path / STATE_FILE).read_text(encoding="utf-8"))
        state = TrainState(step=int(data["step"]), epoch=int(data["epoch"]), batch_in_epoch=int(data["batch_in_epoch"]))
        return state, dict(data["model_config"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{path}: unreadable {STATE_FILE} ({exc}). The checkpoint is corrupt: delete it "
                              "to resume from the previous one.") from None


def check_compatible(path: Path, saved: dict[str, Any], current: dict[str, Any]) -> None:
    """Refuse to resume a checkpoint made with a different model architecture."""
    keys = sorted(set(saved) | set(current))
    differences = [f"{k}: {saved.get(k)!r} in checkpoint, {current.get(k)!r} now" for k in keys
                   if saved.get(k) != current.get(k)]
    if differences:
        raise CheckpointError(f"{path} was made with a different model config ({'; '.join(differences[:5])}). "
                              "Resume with the config it was made with, or use a new output_dir.")


def load_checkpoint(accelerator: Accelerator, path: Path, model_config: Any) -> TrainState:
    """Restore model, optimizer, scheduler and RNG from ``path``; return the training state."""
    state, saved_config = read_state(path)
    check_compatible(path, saved_config, architecture_fingerprint(model_config))
    try:
        accelerator.load_state(str(path))
    except Exception as exc:  # a truncated file surfaces as many different exception types
        raise CheckpointError(f"{path}: cannot load ({type(exc).__name__}: {exc}). The checkpoint is corrupt "
                              "or partial: delete it to resume from the previous one.") from None
    return state
