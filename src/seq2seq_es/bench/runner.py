"""Run a grid: plan it, run (or, with ``dry_run``, list) its jobs with the configured executor, and
write the leaderboard and plots from whatever cells are done.

Locally, jobs run one after another (``job.run_job``); a job that fails, needs the network
or waits for a prepare job that did not finish is recorded and the others go on.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seq2seq_es.bench.config import BenchConfig
from seq2seq_es.bench.grid import Job, Plan, expand
from seq2seq_es.bench.job import cli_command, is_busy, job_lock, run_job
from seq2seq_es.bench.network import hub_reachable
from seq2seq_es.bench.status import job_state, new_status, read_status, write_status
from seq2seq_es.config import dump_config
from seq2seq_es.files import atomic_write, write_json


@dataclass
class BenchReport:
    """What a bench run did: one row per job, and where the leaderboard and plots went."""

    name: str
    output_dir: str
    online: bool
    dry_run: bool
    all_cells: bool = False  # a dry run lists every job (else a summary)
    rows: list[dict[str, Any]] = field(default_factory=list)
    leaderboard: dict[str, str] = field(default_factory=dict)
    plots: list[str] = field(default_factory=list)
    commands_file: str | None = None

    def counts(self) -> dict[str, int]:
        result: dict[str, int] = {}
        for row in self.rows:
            result[row["state"]] = result.get(row["state"], 0) + 1
        return result


def _row(job: Job, state: str, status: dict[str, Any] | None, python: str) -> dict[str, Any]:
    status = status or {}
    seconds = sum(float(r.get("seconds") or 0) for r in status.get("steps", {}).values())
    return {
        "id": job.id,
        "kind": job.kind,
        "state": state,
        "folder": job.folder,
        "labels": job.labels,
        "hash": job.hash,
        "seconds": round(seconds, 1),
        "error": status.get("error"),
        "log": status.get("log"),
        "network": list(job.network),
        "settings": job.resolved.get("settings", {}),
        "requires": list(job.requires),
        "commands": [shlex.join(cli_command(s, python)) for s in job.steps],
    }


def current_state(job: Job, status: dict[str, Any] | None, online: bool, root: Path) -> str:
    """``job_state``, except that a job another process runs now is ``busy`` and a recorded
    failure, block or submission is reported as such."""
    state = job_state(job, status, online)
    if state == "done":
        return state
    if is_busy(root / job.folder):
        return "busy"
    if status is not None and status.get("state") in ("failed", "blocked", "submitted"):
        return str(status["state"])
    return state


def _blocked_by(
    job: Job, states: dict[str, str], jobs: dict[str, Job], root: Path, online: bool
) -> list[str]:
    """The prepare jobs ``job`` waits for. One that was busy (another ``bench`` process ran it)
    when this process passed it is read again from disk: it may have finished since."""
    missing = []
    for name in job.requires:
        if (
            states.get(name) == "busy"
            and job_state(jobs[name], read_status(root / jobs[name].folder), online) == "done"
        ):
            states[name] = "done"
        if states.get(name) != "done":
            missing.append(name)
    return missing


def _record_unrunnable(
    job: Job, folder: Path, status: dict[str, Any] | None, state: str, error: str
) -> str:
    """Write a ``needs network`` / ``blocked`` state, unless another process holds the job now
    (its status is that process's to write): then the job is ``busy``."""
    with job_lock(folder) as locked:
        if not locked:
            return "busy"
        status = status or new_status(job)
        status.update(state=state, hash=job.hash, error=error)
        write_status(folder, status)
    return state


def run_jobs_locally(
    plan: Plan, root: Path, online: bool, on_update: Callable[[dict[str, Any]], None] | None = None
) -> dict[str, dict[str, Any]]:
    """Run every job in order, here; a job that fails (or cannot run) does not stop the others.

    Several processes may run the same grid at once (each job is locked while it runs): a
    job another process holds is ``busy`` here, and its dependants run here once it is done.
    """
    results: dict[str, dict[str, Any]] = {}
    states: dict[str, str] = {}
    jobs = {job.id: job for job in plan.jobs}
    for job in plan.jobs:
        folder = root / job.folder
        status = read_status(folder)
        state = job_state(job, status, online)
        waits_for = (
            _blocked_by(job, states, jobs, root, online)
            if state not in ("done", "needs network")
            else []
        )
        if waits_for:
            state = "blocked"
        if state in ("needs network", "blocked"):
            error = (
                ("needs " + ", ".join(job.network))
                if state == "needs network"
                else "waits for prepare job(s) " + ", ".join(waits_for)
            )
            state = _record_unrunnable(job, folder, status, state, error)
            status = read_status(folder)
        elif state != "done":
            status = run_job(job, root)
            state = status["state"]
        states[job.id] = state
        results[job.id] = status or {}
        if on_update is not None:
            on_update({"id": job.id, "state": state, "error": (status or {}).get("error")})
    return results


def run_bench(
    config: BenchConfig,
    root: str | Path = ".",
    on_update: Callable[[dict[str, Any]], None] | None = None,
) -> BenchReport:
    """Plan the grid; list it (dry run), or run it with the configured executor; then leaderboard
    + plots."""
    root = Path(root)
    plan = expand(config, root)
    online = hub_reachable(config.network)
    python = config.executor.python if config.executor.kind == "commands" else sys.executable
    report = BenchReport(
        config.name, config.results_dir, online, config.dry_run, all_cells=config.all_cells
    )
    if config.dry_run:
        for job in plan.jobs:
            status = read_status(root / job.folder)
            report.rows.append(_row(job, current_state(job, status, online, root), status, python))
        return report
    output = root / config.results_dir
    output.mkdir(parents=True, exist_ok=True)
    with atomic_write(output / "bench.yaml") as handle:
        handle.write(dump_config(config))
    kind = config.executor.kind
    if kind == "local":
        run_jobs_locally(plan, root, online, on_update)
    elif kind == "submitit":
        from seq2seq_es.bench.executors import run_with_submitit

        run_with_submitit(plan, config.executor, root, config.output_dir, online, on_update)
    else:
        from seq2seq_es.bench.executors import write_commands_file

        report.commands_file = str(write_commands_file(plan, config, root, online))
    for job in plan.jobs:
        status = read_status(root / job.folder)
        report.rows.append(_row(job, current_state(job, status, online, root), status, python))
    write_json(output / "jobs.json", report.rows)
    whole = config.model_copy(update={"only_models": None, "only_tasks": None})
    finish(
        whole,
        expand(whole, root) if (config.only_models or config.only_tasks) else plan,
        root,
        report,
    )
    return report


def finish(config: BenchConfig, plan: Plan, root: Path, report: BenchReport) -> None:
    """Leaderboard (Markdown, CSV, JSON) and plots from the cells that are done, over the whole
    grid: a run of some rows or tasks (``only_models``, ``only_tasks``) updates the grid's
    table, it does not replace it with a table of those rows."""
    from seq2seq_es.bench.leaderboard import build_leaderboard, write_leaderboard

    board = build_leaderboard(config, plan, root)
    report.leaderboard = {
        k: str(v) for k, v in write_leaderboard(board, root / config.results_dir).items()
    }
    if config.plots.enabled:
        from seq2seq_es.bench.plots import plot_bench

        report.plots = [
            str(p)
            for p in plot_bench(
                board, plan, root, root / config.results_dir / "plots", config.plots
            )
        ]
