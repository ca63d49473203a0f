"""Record what produced a run's outputs: resolved config, package versions, git hash.

Why: a score or checkpoint without the exact config and code version that made it
cannot be reproduced. Every command writes ``config.yaml`` and ``run_info.json``
next to its outputs.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from seq2seq_es.config import dump_config
from seq2seq_es.files import atomic_write, write_json

TRACKED_PACKAGES = (
    "seq2seq-es", "torch", "transformers", "tokenizers", "datasets", "accelerate",
    "datatrove", "sacrebleu", "rouge-score", "numpy",
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
            done = subprocess.run(["git", *args], cwd=source_dir, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None
    commit = run("rev-parse", "HEAD")
    status = run("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def write_run_record(output_dir: str | Path, config: BaseModel, command: str, extra: dict[str, Any] | None = None) -> None:
    """Write ``config.yaml`` and ``run_info.json`` into ``output_dir``."""
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
