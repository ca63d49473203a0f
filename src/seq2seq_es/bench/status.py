"""Each job's ``status.json``: what ran, with which hash, how it ended; and what to do next.

Why a file per job folder: a cell may run here, in a Slurm job, or from a line of a
commands file; its own folder is the one place all of them can write, and a later
``bench`` run reads it to skip finished work, resume an interrupted training step
(``--resume``) or rerun what changed.

Layout::

    {"id": ..., "kind": "cell", "hash": <job hash>, "state": "done", "updated": <UTC time>,
     "error": null, "log": null,
     "steps": {"finetune": {"hash": ..., "state": "done", "seconds": 812.4, "returncode": 0,
                            "log": "<job>/logs/finetune.log", "argv": [...], "resumed": false},
                            ...}}

States: ``pending`` (never ran), ``running`` (recorded when started: a process running it
holds its lock and is shown ``busy``; without one it was ``interrupted``), ``done``,
``failed``, ``needs network``, ``blocked`` (a prepare job it needs did not finish),
``submitted`` (handed to Slurm or written to a commands file), ``changed`` (its settings
changed since it ran), ``resume`` (interrupted with checkpoints: the next run resumes it).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any, Literal

from seq2seq_es.bench.grid import Job, Step
from seq2seq_es.files import write_json

STATUS_FILE = "status.json"
DONE_MARK = ".done-{hash}"  # written by a commands-file line when all its steps succeeded

Action = Literal["skip", "resume", "fresh"]


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def read_status(folder: Path) -> dict[str, Any] | None:
    """The job's status, with a commands-file job promoted to done when its done mark exists."""
    path = folder / STATUS_FILE
    if not path.is_file():
        return None
    try:
        status: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None  # a status we cannot read is a job we run again
    if (
        status.get("state") == "submitted"
        and (folder / DONE_MARK.format(hash=status.get("hash"))).is_file()
    ):
        status["state"] = "done"
        for record in status.get("steps", {}).values():
            record["state"] = "done"
    return status


def write_status(folder: Path, status: dict[str, Any]) -> None:
    status["updated"] = now()
    write_json(folder / STATUS_FILE, status)


def new_status(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "kind": job.kind,
        "hash": job.hash,
        "state": "pending",
        "labels": job.labels,
        "error": None,
        "log": None,
        "steps": {},
    }


def step_done(record: dict[str, Any] | None, step: Step, folder: Path) -> bool:
    """Finished with the same hash, and its outputs are still there."""
    return (
        record is not None
        and record.get("hash") == step.hash
        and record.get("state") == "done"
        and (step.output is None or (folder / step.output).exists())
    )


def has_checkpoints(folder: Path, step: Step) -> bool:
    """The step's output holds training checkpoints (``<output>/checkpoints/*``) to resume from."""
    if step.output is None:
        return False
    checkpoints = folder / step.output / "checkpoints"
    return checkpoints.is_dir() and any(checkpoints.iterdir())


def step_action(
    record: dict[str, Any] | None, step: Step, folder: Path, upstream_ran: bool
) -> Action:
    """Skip a finished step; resume an interrupted or failed training step with the same hash that
    left
    checkpoints; else start over.

    ``upstream_ran``: an earlier step of the job ran in this pass, so this one's inputs are new.
    """
    if not upstream_ran and step_done(record, step, folder):
        return "skip"
    same = record is not None and record.get("hash") == step.hash
    if (
        same
        and step.resumable
        and not upstream_ran
        and record is not None
        and record.get("state") in ("running", "failed", "submitted")
        and has_checkpoints(folder, step)
    ):
        return "resume"
    return "fresh"


def job_state(job: Job, status: dict[str, Any] | None, online: bool) -> str:
    """What a job is now, without running anything: done, needs network, resume, changed, failed,
    pending."""
    folder = Path(job.folder)
    if status is not None and all(
        step_done(status.get("steps", {}).get(s.name), s, folder) for s in job.steps
    ):
        return "done"
    if job.network and not online:
        return "needs network"
    if status is None:
        return "pending"
    actions = [
        step_action(status.get("steps", {}).get(s.name), s, folder, False) for s in job.steps
    ]
    first = next(a for a in actions if a != "skip")
    if first == "resume":
        return "resume"
    if status.get("hash") != job.hash:
        return "changed"
    state = str(status.get("state", "pending"))
    if state in ("blocked", "needs network"):
        # facts of the run that recorded them: each run checks its prepare jobs and the Hub again
        return "pending"
    return (
        "interrupted" if state == "running" else state
    )  # (a job running now is ``busy``: runner.current_state)


def error_summary(log: Path, lines: int = 3) -> str:
    """The user error the CLI printed (``error: ...``), else the last lines of the log."""
    if not log.is_file():
        return "no log"
    text = log.read_text(encoding="utf-8", errors="replace").rstrip().splitlines()
    for k, line in enumerate(text):
        if line.startswith("error:"):
            return " ".join(part.strip() for part in text[k : k + 6])[:600]
    tail = [line.strip() for line in text if line.strip()][-lines:]
    return " | ".join(tail)[:600]
