"""What a training run may do with its output folder: start, restart, resume, or nothing.

Light on purpose (no torch): the CLI decides before it writes anything, the run record
included, so a refused run leaves the folder exactly as it was. The decision:

* empty or new folder: start (``--resume`` there is refused: nothing to resume);
* a run of another command, or of this command with another identity (the resolved
  config minus the keys that may change on resume, plus input fingerprints): refused,
  listing what differs;
* the same run, with checkpoints or finished, without ``--resume``: refused (pass
  ``--resume``, or choose a new folder);
* the same run, stopped before its first checkpoint, without ``--resume``: started again
  (nothing of it can be kept);
* ``--resume`` of a finished run: nothing to do, said so; of a run with checkpoints:
  continue from the last one; of a run without checkpoints: refused.

The identity kept in each checkpoint (``trainer_state.json``: ``run_identity`` and its
SHA-256) is what ``--resume`` compares against; without a checkpoint, the run record.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from seq2seq_es.errors import CheckpointError, ConfigError
from seq2seq_es.run_record import (
    Claim,
    check_writable,
    identity_changes,
    is_empty,
    other_command_error,
    read_run_record,
    run_identity,
)

CHECKPOINTS = "checkpoints"
STATE_FILE = "trainer_state.json"
PREFIX = "step-"
FORMAT = 2  # of checkpoints: 1 was Accelerate's save_state (pickles); 2 is safetensors + JSON
PICKLE_SUFFIXES = (".pkl", ".pickle", ".bin", ".pt", ".pth")
# Keys of every training config that may change when a run is resumed: how long it
# trains, how often it logs, evaluates or checkpoints, where it reports, how many CPU
# threads and loader workers it uses. None of them changes a step's result.
TRAINING_VOLATILE = (
    "optim.steps",
    "engine.log_every",
    "engine.checkpoint_every",
    "engine.keep_checkpoints",
    "engine.tensorboard",
    "engine.trackio",
    "engine.measure_mfu",
    "engine.peak_flops",
    "engine.threads",
    "engine.num_workers",
)


def list_checkpoints(root: Path) -> list[Path]:
    """Complete checkpoints under ``root``, oldest first (``trainer_state.json`` marks
    completeness)."""
    if not root.is_dir():
        return []
    found = [
        p
        for p in root.iterdir()
        if p.is_dir() and p.name.startswith(PREFIX) and (p / STATE_FILE).is_file()
    ]
    return sorted(found, key=lambda p: p.name)


def read_trainer_state(path: Path) -> dict[str, Any]:
    """A checkpoint's ``trainer_state.json``, or a ``CheckpointError`` saying what to do."""
    try:
        data = json.loads((path / STATE_FILE).read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not isinstance(data.get("step"), int):
            raise ValueError("no step")
        return data
    except (OSError, ValueError) as exc:
        raise CheckpointError(
            f"{path}: unreadable {STATE_FILE} ({exc}). The checkpoint is corrupt: delete it "
            "to resume from the previous one."
        ) from None


def check_checkpoint_files(path: Path) -> dict[str, Any]:
    """Refuse a checkpoint this version must not or cannot load, before anything is written.

    Pickle files (unpickling can run code), another format, or a truncated safetensors file
    (its header says how long it must be): each a ``CheckpointError`` saying what to do.
    Returns ``trainer_state.json``.
    """
    found = sorted(
        p.name for p in path.rglob("*") if p.is_file() and p.name.endswith(PICKLE_SUFFIXES)
    )
    if found:
        raise CheckpointError(
            f"{path} holds pickle files ({', '.join(found[:4])}): loading them could run code, so "
            "this version does not (it writes safetensors + JSON). The checkpoint comes from an "
            "older version or another tool: start a new output_dir, or resume it with the version "
            "that wrote it."
        )
    state = read_trainer_state(path)
    if state.get("format") != FORMAT:
        raise CheckpointError(
            f"{path}: checkpoint format {state.get('format', 1)}, this version reads {FORMAT}. "
            "Resume it with the version that wrote it, or start a new output_dir."
        )
    for file in sorted(path.glob("*.safetensors")):
        problem = safetensors_problem(file)
        if problem:
            raise CheckpointError(
                f"{file}: {problem}. The checkpoint is corrupt or partial: delete {path} to "
                "resume from the previous checkpoint (or start a new output_dir)."
            )
    return state


def safetensors_problem(file: Path) -> str | None:
    """Why ``file`` is not a whole safetensors file (header length, JSON header, data size), or
    None."""
    try:
        size = file.stat().st_size
        with open(file, "rb") as handle:
            length = int.from_bytes(handle.read(8), "little")
            if length <= 0 or 8 + length > size:
                return f"truncated: {size} bytes cannot hold its {length}-byte header"
            header = json.loads(handle.read(length))
        end = max(
            (entry["data_offsets"][1] for key, entry in header.items() if key != "__metadata__"),
            default=0,
        )
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        return f"unreadable header ({exc})"
    expected = 8 + length + end
    return (
        None
        if size == expected
        else f"{size} bytes where its header says {expected} (truncated or padded)"
    )


def claim_training_folder(
    folder: str | Path,
    command: str,
    config: BaseModel,
    volatile: Iterable[str],
    inputs: Mapping[str, str],
    final_file: str,
    requested_steps: int | None,
) -> Claim:
    """Decide (see the module docstring) before anything is written; raise ``ConfigError`` to
    refuse.

    ``config`` needs a ``resume`` field. ``final_file`` is what the run writes last
    (``summary.json``, ``scores.json``): its presence means the run finished.
    ``requested_steps``: the steps this invocation asks for (None: as the run planned).
    """
    folder = Path(folder)
    resume = bool(getattr(config, "resume", False))
    check_writable(folder)
    volatile = (*TRAINING_VOLATILE, *volatile)
    current = run_identity(config, volatile, inputs)
    if not folder.exists() or is_empty(folder):
        if resume:
            raise ConfigError(
                f"Nothing to resume: {folder} "
                f"{'is empty' if folder.exists() else 'does not exist'}. Run the same command "
                "without --resume to start this run."
            )
        return Claim(inputs=dict(inputs))
    record = read_run_record(folder)
    if record is None or record.command not in (None, command):
        raise (
            other_command_error(folder, record.command if record else None, command)
            if record
            else ConfigError(
                f"{folder} is not empty and holds no run record (config.yaml): it was not written "
                f"by `seq2seq-es {command}`. Choose a new output_dir, or empty the folder."
            )
        )
    checkpoints = list_checkpoints(folder / CHECKPOINTS)
    state = read_trainer_state(checkpoints[-1]) if checkpoints else None
    saved = (state.get("run_identity") if state else None) or run_identity(
        record.config, volatile, record.inputs or inputs
    )
    changes = identity_changes(saved, current)
    finished = (folder / final_file).is_file()
    resume_command = f"seq2seq-es {command} --config {folder / 'config.yaml'} --resume"
    if not resume:
        if checkpoints or finished:
            step = f" at step {state['step']}" if state else ""
            where = (
                f"finished{step} ({final_file})"
                if finished
                else f"checkpoints up to step {state['step'] if state else 0}"
            )
            differs = (
                f" (and your settings differ from it: {'; '.join(changes)})" if changes else ""
            )
            raise ConfigError(
                f"{folder} already holds this `{command}` run: {where}{differs}. Pass --resume to "
                f"continue it (`{resume_command}`), or choose a new output_dir."
            )
        if changes:
            raise ConfigError(
                f"{folder} holds a `{command}` run with other settings or inputs "
                f"({'; '.join(changes)}) that stopped before its first checkpoint. Choose a new "
                "output_dir, or delete the folder to start this run there."
            )
        return Claim(
            message=f"{folder}: the earlier run of this config stopped before its first "
            "checkpoint; starting it again.",
            inputs=dict(inputs),
        )
    if changes:
        raise ConfigError(
            f"Cannot resume {folder}: these settings differ from the run's: {'; '.join(changes)}. "
            f"Resume with the run's own config (`{resume_command}`, changing only keys that may "
            f"change on resume: {', '.join(volatile)}), or start a new output_dir."
        )
    if finished and (
        state is None
        or state.get("stopped_early")
        or requested_steps is None
        or state["step"] >= requested_steps
    ):
        step = f" at step {state['step']}" if state else ""
        longer = (
            " To train longer, resume with a larger optim.steps."
            if state and not state.get("stopped_early")
            else ""
        )
        return Claim(
            done=True,
            message=f"{folder}: this run already finished{step} ({final_file}); nothing to "
            f"do.{longer}",
        )
    if state is None:
        raise ConfigError(
            f"Nothing to resume: {folder} holds no checkpoint (the run stopped before its first "
            "one; engine.checkpoint_every sets how often they are written). Run the same command "
            "without --resume to start it again."
        )
    check_checkpoint_files(checkpoints[-1])
    return Claim(inputs=dict(inputs))
