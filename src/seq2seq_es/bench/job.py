"""Run one job (a cell or a prepare job): its steps as ``python -m seq2seq_es.cli ...``
subprocesses.

Why subprocesses of the CLI: a cell runs exactly the command a user would type (the
same config validation, run records and error messages), a crash or an out-of-memory
kill in one cell cannot take the others down, and the same command lines can be
handed to Slurm or written to a file. The bench never imports the command layer.

``run_job`` is the unit every executor runs: in sequence here, or inside a submitit job.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from seq2seq_es.bench.grid import Job, Step
from seq2seq_es.bench.status import (
    error_summary,
    new_status,
    now,
    read_status,
    step_action,
    write_status,
)
from seq2seq_es.files import atomic_write

CLI_MODULE = "seq2seq_es.cli"


def cli_command(
    step: Step,
    python: str = sys.executable,
    resume: bool = False,
    launcher: list[str] | None = None,
) -> list[str]:
    """The process to start for ``step``.

    ``resume`` adds ``--resume`` (continue an interrupted training step); ``launcher``
    starts a training step through ``accelerate launch`` (multi-GPU, multi-node), e.g.
    ``["accelerate", "launch", "--config_file", "configs/accelerate/ddp-8gpu.yaml"]``.
    """
    argv = list(step.argv)
    if resume:
        argv.insert(
            2 if argv[0] == "model" else 1, "--resume"
        )  # after the (group and) sub-command name
    head = [*launcher, "-m"] if launcher and step.distributed else [python, "-m"]
    return [*head, CLI_MODULE, *argv]


def clear_output(folder: Path, step: Step) -> None:
    """Empty what a step owns before it starts over (stale checkpoints would block a fresh run)."""
    if step.output is None:
        return
    target = folder / step.output
    if target.is_dir():
        shutil.rmtree(target)
    elif target.exists():
        target.unlink()


@contextlib.contextmanager
def job_lock(folder: Path) -> Iterator[bool]:
    """An exclusive lock on the job folder (``.lock``); False when another process holds it.

    Why: two ``bench`` runs of grids that share cells (or the same grid started twice)
    must not run one cell at the same time; the second sees it busy and moves on. The
    lock is the operating system's (``flock``): it goes away with the process that held it.
    """
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def is_busy(folder: Path) -> bool:
    """Another process holds the job's lock (it is running the job now)."""
    if not (folder / ".lock").is_file():
        return False
    with job_lock(folder) as locked:
        return not locked


def run_job(
    job: Job,
    root: str | Path = ".",
    python: str = sys.executable,
    launcher: list[str] | None = None,
) -> dict[str, Any]:
    """Run the job's steps that are not done (resuming an interrupted one); return its status.

    A failed step ends the job with state ``failed``, its error and log path; it does
    not raise, so the caller goes on with the other jobs. A job another process is
    running is left alone (state ``busy``).
    """
    folder = Path(root) / job.folder
    with job_lock(folder) as locked:
        if not locked:
            return {
                **(read_status(folder) or new_status(job)),
                "state": "busy",
                "error": "another bench process is running this job",
            }
        return _run_steps(job, Path(root), python, launcher)


def _run_steps(job: Job, root: Path, python: str, launcher: list[str] | None) -> dict[str, Any]:
    folder = root / job.folder
    status = read_status(folder) or new_status(job)
    status.update(hash=job.hash, state="running", error=None, log=None, labels=job.labels)
    records: dict[str, Any] = status.setdefault("steps", {})
    with atomic_write(folder / "job.yaml") as handle:
        handle.write(
            _yaml({"id": job.id, "hash": job.hash, "requires": list(job.requires), **job.resolved})
        )
    upstream_ran = False
    for step in job.steps:
        action = step_action(records.get(step.name), step, folder, upstream_ran)
        if action == "skip":
            continue
        upstream_ran = True
        if action == "fresh":
            clear_output(folder, step)
        log = folder / "logs" / f"{step.name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        command = cli_command(step, python, resume=action == "resume", launcher=launcher)
        record = {
            "hash": step.hash,
            "state": "running",
            "started": now(),
            "argv": list(step.argv),
            "resumed": action == "resume",
            "log": str(log),
        }
        records[step.name] = record
        write_status(folder, status)
        start = time.perf_counter()
        with open(log, "a" if action == "resume" else "w", encoding="utf-8") as handle:
            handle.write(f"$ {shlex.join(command)}\n")
            handle.flush()
            code = subprocess.run(
                command,
                cwd=root,
                stdout=handle,
                stderr=subprocess.STDOUT,
                env=_environment(),
                check=False,
            ).returncode
        record.update(
            state="done" if code == 0 else "failed",
            returncode=code,
            seconds=round(time.perf_counter() - start, 1),
            finished=now(),
        )
        if code != 0:
            status.update(
                state="failed",
                error=f"step {step.name} exited {code}: {error_summary(log)}",
                log=str(log),
            )
            write_status(folder, status)
            return status
        write_status(folder, status)
    status["state"] = "done"
    write_status(folder, status)
    return status


def _environment() -> dict[str, str]:
    """The parent's environment; wide Rich tables and unbuffered output in the logs."""
    return {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": os.environ.get("COLUMNS", "160")}


def _yaml(data: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
