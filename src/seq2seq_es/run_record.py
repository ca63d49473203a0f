"""Record what produced a run's outputs, and decide what a new run may do with a folder.

Why a record: a score or checkpoint without the exact config and code version that made
it cannot be reproduced. Every command writes ``config.yaml`` and ``run_info.json`` next
to its outputs.

Why claims: a run must never modify another run's files. Before a command writes
anything (its record included), it *claims* its output folder: an empty folder is
free; a folder holding a run of the same command with the same identity (the resolved
config minus the keys that do not change the result, plus fingerprints of the inputs)
is that run, which may be redone or resumed; anything else is refused with the list of
what differs. The identity read back is the one ``config.yaml`` and ``run_info.json``
("inputs") recorded.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from seq2seq_es.config import dump_config
from seq2seq_es.errors import ConfigError
from seq2seq_es.files import atomic_write, write_json

RECORD_FILES = ("config.yaml", "run_info.json")
# Never part of an identity: where the outputs go, and whether this invocation resumes.
ALWAYS_VOLATILE = ("output_dir", "resume")

TRACKED_PACKAGES = (
    "seq2seq-es",
    "torch",
    "transformers",
    "tokenizers",
    "datasets",
    "accelerate",
    "datatrove",
    "sacrebleu",
    "rouge-score",
    "numpy",
)


def package_versions() -> dict[str, str]:
    """Installed versions of the packages whose behaviour shapes our results."""
    versions = {"python": platform.python_version()}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_state() -> dict[str, Any]:
    """Commit hash and dirty flag of the source tree, or None outside a git checkout."""
    source_dir = Path(__file__).resolve().parent

    def run(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], cwd=source_dir, capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = run("rev-parse", "HEAD")
    status = run("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def write_run_record(
    output_dir: str | Path, config: BaseModel, command: str, extra: dict[str, Any] | None = None
) -> None:
    """Write ``config.yaml`` and ``run_info.json`` into ``output_dir`` (``extra``: more keys of
    run_info)."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    with atomic_write(output_dir / "config.yaml") as handle:
        handle.write(dump_config(config))
    info = {
        "command": command,
        "argv": sys.argv,
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "versions": package_versions(),
        "git": git_state(),
        "cpu_count": os.cpu_count(),
        **(extra or {}),
    }
    write_json(output_dir / "run_info.json", info)


@dataclass(frozen=True)
class Claim:
    """What a command may do with its output folder, decided before anything is written.

    ``done``: the run already finished and there is nothing to do (``message`` says so);
    ``inputs``: fingerprints of the inputs, recorded in ``run_info.json`` so that a later
    run can tell whether they changed; ``message``: a line to show before the work starts.
    """

    done: bool = False
    message: str | None = None
    inputs: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RunRecord:
    """A folder's run record, as read back: the command, its resolved config, its input
    fingerprints."""

    command: str | None
    config: dict[str, Any]
    inputs: dict[str, str]


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"optim": {"lr": 1e-3}}`` → ``{"optim.lr": 1e-3}`` (lists stay values)."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def run_identity(
    config: BaseModel | Mapping[str, Any],
    volatile: Iterable[str] = (),
    inputs: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The resolved config as dotted keys, minus ``volatile`` keys (a section name drops all its
    keys), plus ``inputs`` fingerprints under ``inputs.<name>``: what makes two runs the same run.

    Values go through JSON, so an identity read back from a file compares equal (tuples
    become lists).
    """
    data = config.model_dump(mode="json") if isinstance(config, BaseModel) else dict(config)
    skip = tuple({*ALWAYS_VOLATILE, *volatile})
    kept = {
        key: value
        for key, value in flatten(data).items()
        if not any(key == name or key.startswith(name + ".") for name in skip)
    }
    kept.update({f"inputs.{name}": value for name, value in (inputs or {}).items()})
    identity: dict[str, Any] = json.loads(json.dumps(kept, sort_keys=True, default=str))
    return identity


def identity_digest(identity: Mapping[str, Any]) -> str:
    """SHA-256 of the identity's canonical JSON: one string to store and compare."""
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()


def identity_changes(
    saved: Mapping[str, Any], current: Mapping[str, Any], limit: int = 8
) -> list[str]:
    """The keys whose values differ, as ``key: saved → now`` (at most ``limit``, then a count)."""
    keys = sorted(
        key
        for key in set(saved) | set(current)
        if saved.get(key, "<unset>") != current.get(key, "<unset>")
    )
    lines = [
        f"{key}: {_shown(saved.get(key, '<unset>'))} → {_shown(current.get(key, '<unset>'))}"
        for key in keys
    ]
    return lines if len(lines) <= limit else [*lines[:limit], f"and {len(lines) - limit} more"]


def _shown(value: Any) -> str:
    text = (
        json.dumps(value, ensure_ascii=False, default=str) if not isinstance(value, str) else value
    )
    return text if len(text) <= 60 else text[:57] + "..."


def file_fingerprints(paths: Mapping[str, str | Path]) -> dict[str, str]:
    """One fingerprint per named input: the number of files and a hash of their names and contents.

    Contents, not modification times: data copied again, re-synced or re-mounted keeps its
    fingerprint (a stat-based one made every run on a re-mounted data folder refuse to
    resume), while any edit, even one that keeps the size, changes it. Reading costs about
    1.5 s per GB (SHA-256 at 0.66 GB/s on these machines), paid once per run start. A folder
    counts every file under it except hidden ones and run records (a folder that is another
    run's output, e.g. a tokenizer, keeps its fingerprint when that run's record is
    rewritten). A path that does not exist locally (e.g. a Hub dataset id) gets none.
    """
    found: dict[str, str] = {}
    for name, raw in paths.items():
        path = Path(raw)
        if path.is_file():
            files = [path]
        elif path.is_dir():
            files = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and p.name not in RECORD_FILES
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        else:
            continue
        digest = hashlib.sha256()
        for file in files:
            stat = file.stat()
            content = _content_digest(str(file.resolve()), stat.st_size, stat.st_mtime_ns)
            digest.update(
                f"{file.relative_to(path) if file != path else file.name}|{content}\n".encode()
            )
        found[name] = f"{len(files)} file(s), sha256 {digest.hexdigest()[:16]}"
    return found


@functools.lru_cache(maxsize=4096)
def _content_digest(path: str, size: int, mtime_ns: int) -> str:
    """SHA-256 of one file, read once per process (train and validation are often one file).

    ``size`` and ``mtime_ns`` are only the cache key: a file changed during the process is read
    again.
    """
    del size, mtime_ns
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def read_run_record(folder: str | Path) -> RunRecord | None:
    """The run record in ``folder``, or None when there is no ``config.yaml``."""
    folder = Path(folder)
    try:
        config = yaml.safe_load((folder / "config.yaml").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(
            f"{folder / 'config.yaml'}: unreadable run record ({exc}). This folder's run "
            "cannot be checked: choose a new output_dir, or delete the folder."
        ) from None
    try:
        info = json.loads((folder / "run_info.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        info = {}
    info = info if isinstance(info, dict) else {}
    return RunRecord(
        info.get("command"),
        config if isinstance(config, dict) else {},
        dict(info.get("inputs") or {}),
    )


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


def other_command_error(folder: Path, found: str | None, command: str) -> ConfigError:
    what = f"a `seq2seq-es {found}` run" if found else "a run record of unknown origin"
    return ConfigError(
        f"{folder} holds {what}; `{command}` would overwrite its files (config.yaml, "
        "run_info.json, ...). Choose another output_dir."
    )


def claim_folder(
    folder: str | Path,
    command: str,
    config: BaseModel,
    volatile: Iterable[str] = (),
    inputs: Mapping[str, str] | None = None,
    strict: bool = True,
) -> Claim:
    """Claim ``folder`` for a (re)run of ``command`` with ``config`` and ``inputs``, or refuse.

    Free: a folder that does not exist or is empty. The same run: a record of ``command``
    whose identity equals this one (rerunning it redoes or continues it). Refused: a
    record of another command, of the same command with other settings or inputs (the
    message lists them), or (``strict``) a non-empty folder without a record.
    """
    folder = Path(folder)
    check_writable(folder)
    current_inputs = dict(inputs or {})
    if not folder.exists() or is_empty(folder):
        return Claim(inputs=current_inputs)
    record = read_run_record(folder)
    if record is None:
        if not strict:
            return Claim(inputs=current_inputs)
        raise ConfigError(
            f"{folder} is not empty and holds no run record (config.yaml): it was not written by "
            f"`seq2seq-es {command}`. Choose a new output_dir, or empty the folder."
        )
    if record.command not in (None, command):
        raise other_command_error(folder, record.command, command)
    if not strict:
        return Claim(inputs=current_inputs)
    saved = run_identity(record.config, volatile, _comparable(record.inputs, current_inputs))
    changes = identity_changes(saved, run_identity(config, volatile, current_inputs))
    if changes:
        raise ConfigError(
            f"{folder} holds a `{command}` run made with other settings or inputs "
            f"({'; '.join(changes)}); this run would mix its outputs with that one's or "
            "replace them. Choose a new output_dir, or delete the folder to redo it."
        )
    return Claim(inputs=current_inputs)


def _comparable(saved: Mapping[str, str], current: Mapping[str, str]) -> dict[str, str]:
    """Saved input fingerprints (a record from before fingerprints were kept compares as
    unchanged)."""
    return dict(saved) if saved else dict(current)


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
