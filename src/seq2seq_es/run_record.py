"""Record what produced a run's outputs, and decide what a new run may do with a folder.

Why a record: a score or checkpoint without the exact config and code version that made
it cannot be reproduced. Every command writes ``config.yaml`` and ``run_info.json`` next
to its outputs.

Why an identity: a run must never modify another run's files, so a command claims its
output folder before it writes anything (``training/run_folder.py``) and compares the run
there with this one. Two runs are the same run when their identities are equal: the
resolved config minus the fields its schema marks ``VOLATILE`` (they do not change the
result), plus fingerprints of the inputs. The identity read back is the one
``config.yaml`` and ``run_info.json`` ("inputs") recorded.
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
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from seq2seq_es.config import dump_config, renamed, volatile_keys
from seq2seq_es.errors import ConfigError
from seq2seq_es.files import atomic_write, write_json

RECORD_FILES = ("config.yaml", "run_info.json")
# What a run writes about itself besides its record (with timings): not part of its output as an
# input of a later run, so redoing the run keeps that input's fingerprint.
RUN_REPORT_FILES = ("summary.json",)

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


def add_run_facts(output_dir: str | Path, facts: Mapping[str, Any]) -> None:
    """Add what a run learns only once it has started (the attention kernel its model runs) to
    the ``run_info.json`` of ``output_dir``; nothing when the folder has no run record (a
    library call outside a command)."""
    path = Path(output_dir) / "run_info.json"
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if isinstance(info, dict):
        write_json(path, {**info, **facts})


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


def run_identity(config: BaseModel, inputs: Mapping[str, str] | None = None) -> dict[str, Any]:
    """What makes two runs the same run: the resolved config as dotted keys, minus the fields its
    schema marks ``VOLATILE`` (``config.volatile_keys``), plus ``inputs`` fingerprints under
    ``inputs.<name>``."""
    return _identity(config.model_dump(mode="json"), volatile_keys(type(config)), inputs)


def recorded_identity(
    data: Mapping[str, Any], schema: type[BaseModel], inputs: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """``run_identity`` of a config read back from a run record (``config.yaml``), by
    ``schema``'s volatile fields (a key recorded under its old name counts as the new one)."""
    return _identity(renamed(schema, dict(data))[0], volatile_keys(schema), inputs)


def _identity(
    data: Mapping[str, Any], volatile: tuple[str, ...], inputs: Mapping[str, str] | None
) -> dict[str, Any]:
    """A volatile section leaves out all its keys. Values go through JSON, so an identity read
    back from a file compares equal (tuples become lists)."""
    kept = {
        key: value
        for key, value in flatten(data).items()
        if not any(key == name or key.startswith(name + ".") for name in volatile)
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
    counts every file under it except hidden ones, run records and reports (a folder that is
    another run's output, e.g. a tokenizer, keeps its fingerprint when that run is redone: its
    record is rewritten and its summary.json holds new timings). A path that does not exist
    locally (e.g. a Hub dataset id) gets none.
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
                and p.name not in RECORD_FILES + RUN_REPORT_FILES
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
