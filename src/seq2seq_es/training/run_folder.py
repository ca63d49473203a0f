"""What a run may do with its output folder, decided before anything is written: the one home
of the run-folder states, for every command that claims a folder.

Light on purpose (no torch): the CLI claims the folder first, so a refused run leaves it
exactly as it was. The claim returns a ``RunFolder``: the decision (``state``) and the run's
identity (``run_record.run_identity``: the resolved config minus its schema's ``VOLATILE``
fields, plus input fingerprints), computed once; the CLI records the inputs in
``run_info.json`` and hands the ``RunFolder`` to the command's work, whose checkpoints store
that identity. The states:

* ``new``: the folder is empty or missing (a training ``--resume`` there is refused: nothing
  to resume);
* ``rerun``: it holds the same run of a command that redoes or continues its work
  (corpus, tokenizer, demo; or, unchecked, any command without its own claim);
* ``restart``: the same training run, stopped before its first checkpoint, without
  ``--resume``: started again (nothing of it can be kept);
* ``resume``: ``--resume`` of the same training run with checkpoints: continue from the
  last one;
* ``done``: ``--resume`` of a finished training run: nothing to do, said so;
* refused (``ConfigError``, listing what differs): a run of another command, of this command
  with another identity, or the same training run with checkpoints or finished without
  ``--resume`` (pass ``--resume``, or choose a new folder).

After the claim the run writes its record (``record_run``: the ``running`` state), then its
work; the file it writes last (training: ``summary.json``, ``scores.json``) means it finished.
A run that fails before writing anything but its record takes the record back
(``StartedRun.discard``), so the corrected command is not refused. The identity kept in each
checkpoint (``trainer_state.json``: ``run_identity`` and its SHA-256) is what ``--resume``
compares against; without a checkpoint, the run record.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from seq2seq_es.config import volatile_keys
from seq2seq_es.errors import CheckpointError, ConfigError
from seq2seq_es.files import remove_leftovers
from seq2seq_es.run_record import (
    RECORD_FILES,
    flatten,
    identity_changes,
    read_run_record,
    recorded_identity,
    run_identity,
    write_run_record,
)

CHECKPOINTS = "checkpoints"
STATE_FILE = "trainer_state.json"
PREFIX = "step-"
FORMAT = 2  # of checkpoints: 1 was Accelerate's save_state (pickles); 2 is safetensors + JSON
# DCP's default format (.distcp data, a pickled .metadata index) counts too: never ours.
PICKLE_SUFFIXES = (".pkl", ".pickle", ".bin", ".pt", ".pth", ".metadata", ".distcp")

RunState = Literal["new", "rerun", "restart", "resume", "done"]


@dataclass(frozen=True)
class RunFolder:
    """A claimed output folder: what this run does there, and the run's identity.

    ``inputs``: fingerprints of the inputs, recorded in ``run_info.json`` so that a later run
    can tell whether they changed; ``identity``: what the work stores in its checkpoints;
    ``message``: a line to show before the work starts (or, ``done``, instead of it).
    """

    path: Path
    command: str
    state: RunState
    identity: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)
    message: str | None = None

    @property
    def done(self) -> bool:
        """The run already finished: nothing to do."""
        return self.state == "done"


def is_empty(folder: Path) -> bool:
    """No entry but leftovers of killed writers (``.*.tmp``)."""
    return not any(
        not (p.name.startswith(".") and p.name.endswith((".tmp", ".old"))) for p in folder.iterdir()
    )


def check_writable(folder: str | Path, key: str = "output_dir") -> None:
    """Refuse a folder this process cannot write into (or create), before anything is written."""
    folder = Path(folder)
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(
            f"{key}={folder}: {existing} is a file, not a folder. Choose another {key}."
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        where = "is" if existing == folder else f"cannot be created: {existing}"
        raise ConfigError(
            f"{key}={folder} {where} not writable (read-only, or no permission). Choose another "
            f"{key}, or make it writable (e.g. `chmod u+w {existing}`)."
        )


# The keys that name where a command writes (never one of its inputs).
OUTPUT_KEYS = ("output_dir", "output")


def named_paths(config: BaseModel) -> dict[str, Path]:
    """Every config value (dotted key, list items as ``key[i]``) that names an existing file or
    folder, except the output keys: what the run reads, found without a per-command list."""
    found: dict[str, Path] = {}
    for key, value in flatten(config.model_dump(mode="json")).items():
        if key in OUTPUT_KEYS:
            continue
        items = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
        for index, item in items:
            if not isinstance(item, str) or not item.strip() or len(item) > 4096:
                continue
            try:
                path = Path(item)
                exists = path.exists()
            except (OSError, ValueError):  # a name too long, a NUL byte: not a path of ours
                continue
            if exists:
                found[key if index is None else f"{key}[{index}]"] = path
    return found


def check_not_over_inputs(target: str | Path, config: BaseModel, key: str = "output_dir") -> None:
    """Refuse an output that is one of the run's inputs, or a folder that holds one: writing it
    would replace what the run reads (``export model=M output_dir=M`` destroyed the model)."""
    target = Path(target)
    resolved = target.resolve()
    for name, path in named_paths(config).items():
        source = path.resolve()
        if source == resolved or resolved in source.parents:
            how = "is" if source == resolved else "holds"
            beside = target.parent / f"{target.stem}-{key.replace('_', '-')}{target.suffix}"
            raise ConfigError(
                f"{key}={target} {how} this command's input {name}={path}: writing there would "
                f"destroy it. Choose another {key} (e.g. {key}={beside})."
            )


def check_output_folder(folder: str | Path, config: BaseModel, key: str = "output_dir") -> None:
    """The checks every output folder passes before its claim: writable, not over an input."""
    check_writable(folder, key)
    check_not_over_inputs(folder, config, key)


def claim_output_file(
    path: str | Path, command: str, config: BaseModel, key: str = "output"
) -> None:
    """Refuse a file output that would replace an input or another run's file.

    A file a command writes outside a run folder (``score``'s scores.json, ``predict``'s
    output=) may be new, or replace a file of a folder that holds no run of another command
    (``score`` beside a ``finetune`` run's predictions must not replace its scores.json).
    """
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{key}={path} is a folder; give a file name (e.g. {path / 'out'}).")
    check_writable(path.parent, key)
    check_not_over_inputs(path, config, key)
    if not path.exists():
        return
    record = read_run_record(path.parent)
    if record is not None and record.command not in (None, command):
        raise ConfigError(
            f"{key}={path} is a file of the `seq2seq-es {record.command}` run in {path.parent}; "
            f"`{command}` never replaces another run's files. Choose another {key}."
        )


def other_command_error(
    folder: Path, found: str | None, command: str, key: str = "output_dir"
) -> ConfigError:
    what = f"a `seq2seq-es {found}` run" if found else "a run record of unknown origin"
    return ConfigError(
        f"{folder} holds {what}; `{command}` would overwrite its files (config.yaml, "
        f"run_info.json, ...). Choose another {key}."
    )


def claim_folder(
    folder: str | Path,
    command: str,
    config: BaseModel,
    inputs: Mapping[str, str] | None = None,
    strict: bool = True,
    key: str = "output_dir",
) -> RunFolder:
    """Claim ``folder`` for a (re)run of ``command`` with ``config`` and ``inputs``, or refuse.

    The write-safety rule of every command that writes a folder. Free: a folder that does not
    exist or is empty. The same run: a record of ``command`` whose identity equals this one
    (rerunning it redoes or continues it); with ``strict=False`` any record of ``command`` (for
    commands that keep an identity per item, as ``bench`` does per cell). Refused: a folder that
    is or holds one of the inputs, a non-empty folder without a record, a record of another
    command, of the same command with other settings or inputs (the message lists them).
    """
    folder = Path(folder)
    check_output_folder(folder, config, key)
    current_inputs = dict(inputs or {})
    current = run_identity(config, current_inputs)
    if not folder.exists() or is_empty(folder):
        return RunFolder(folder, command, "new", current, current_inputs)
    record = read_run_record(folder)
    if record is None:
        raise ConfigError(
            f"{key}={folder} is not empty and holds no run record (config.yaml): it was not "
            f"written by `seq2seq-es {command}`, and writing there could replace its files. "
            f"Choose a new {key}, or empty the folder."
        )
    if record.command not in (None, command):
        raise other_command_error(folder, record.command, command, key)
    if not strict:
        return RunFolder(folder, command, "rerun", current, current_inputs)
    saved = recorded_identity(
        record.config, type(config), _comparable(record.inputs, current_inputs)
    )
    changes = identity_changes(saved, current)
    if changes:
        raise ConfigError(
            f"{folder} holds a `{command}` run made with other settings or inputs "
            f"({'; '.join(changes)}); this run would mix its outputs with that one's or "
            f"replace them. Choose a new {key}, or delete the folder to redo it."
        )
    return RunFolder(folder, command, "rerun", current, current_inputs)


def _comparable(saved: Mapping[str, str], current: Mapping[str, str]) -> dict[str, str]:
    """Saved input fingerprints (a record from before fingerprints were kept compares as
    unchanged)."""
    return dict(saved) if saved else dict(current)


@dataclass(frozen=True)
class StartedRun:
    """A run whose record is written (the ``running`` state): what to take back if it fails.

    ``created``: the record created the folder; ``fresh``: the record is all the folder held.
    """

    path: Path
    created: bool
    fresh: bool

    def discard(self) -> None:
        """After a failure: take the record back if the run wrote nothing else."""
        if self.fresh:
            discard_record(self.path, self.created)


def record_run(claim: RunFolder, config: BaseModel, owned: bool) -> StartedRun:
    """Start the claimed run: write ``config.yaml`` and ``run_info.json`` (with the claim's input
    fingerprints) into its folder.

    ``owned``: the command's own claim checked the folder is this run's, so what killed writers
    left there (``.*.tmp``, a half-renamed ``.*.old``) is removed first; the default claim checks
    less, and leaves such files alone.
    """
    path = claim.path
    if owned:
        remove_leftovers(path)
    created = not path.exists()
    fresh = created or is_empty(path)
    write_run_record(
        path, config, claim.command, {"inputs": claim.inputs} if claim.inputs else None
    )
    return StartedRun(path, created, fresh)


def discard_record(folder: str | Path, created: bool) -> None:
    """Undo ``write_run_record`` of a run that failed before writing anything else.

    Why: a record left by a run that never started (a missing model, a bad data file)
    would make the folder look like that run's, and the corrected command would be
    refused. A folder that holds anything besides the record is a run's and is kept.
    """
    folder = Path(folder)
    if not folder.is_dir() or any(
        p.name not in RECORD_FILES
        for p in folder.iterdir()
        if not (p.name.startswith(".") and p.name.endswith((".tmp", ".old")))
    ):
        return
    for name in RECORD_FILES:
        (folder / name).unlink(missing_ok=True)
    if created and not any(folder.iterdir()):
        folder.rmdir()


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
    for file in sorted(path.rglob("*.safetensors")):  # FSDP's shards/ included
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
    inputs: Mapping[str, str],
    final_file: str,
    requested_steps: int | None,
) -> RunFolder:
    """Decide (see the module docstring) before anything is written; raise ``ConfigError`` to
    refuse.

    ``config`` needs a ``resume`` field. ``final_file`` is what the run writes last
    (``summary.json``, ``scores.json``): its presence means the run finished.
    ``requested_steps``: the steps this invocation asks for (None: as the run planned).
    """
    folder = Path(folder)
    resume = bool(getattr(config, "resume", False))
    check_output_folder(folder, config)
    current = run_identity(config, inputs)
    found = RunFolder(folder, command, "new", current, dict(inputs))
    if not folder.exists() or is_empty(folder):
        if resume:
            raise ConfigError(
                f"Nothing to resume: {folder} "
                f"{'is empty' if folder.exists() else 'does not exist'}. Run the same command "
                "without --resume to start this run."
            )
        return found
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
    saved = (state.get("run_identity") if state else None) or recorded_identity(
        record.config, type(config), record.inputs or inputs
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
        return replace(
            found,
            state="restart",
            message=f"{folder}: the earlier run of this config stopped before its first "
            "checkpoint; starting it again.",
        )
    if changes:
        raise ConfigError(
            f"Cannot resume {folder}: these settings differ from the run's: {'; '.join(changes)}. "
            f"Resume with the run's own config (`{resume_command}`, changing only keys that may "
            f"change on resume: {', '.join(volatile_keys(type(config)))}), or start a new "
            "output_dir."
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
        return replace(
            found,
            state="done",
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
    return replace(found, state="resume")
