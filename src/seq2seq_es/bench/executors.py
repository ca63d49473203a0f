"""Where jobs run besides "here, one after another": Slurm through submitit, or a commands file.

* submitit (``executor.kind: submitit``): one job per cell (an array per submission),
  with the resources of ``executor.slurm``. Prepare jobs go first, in waves of those
  whose inputs are done; cells follow as one array. On a machine without Slurm the same
  code runs through submitit's local executor (``cluster: local``), which is how it is
  tested, and on a real one-node Slurm (``scripts/local-slurm.sh``, tests/cluster/). A
  cluster without an accounting daemon has no ``sacct``: job states come from ``squeue``
  (``bench/slurm_states.py``).
* commands (``executor.kind: commands``): one shell line per job for any other scheduler
  (prepare jobs first), training steps through ``accelerate launch``. A line ends by
  touching the job's done mark, so the next ``bench`` run counts it as done.

No scheduler of our own: submitit and the user's scheduler do the scheduling.
"""

from __future__ import annotations

import shlex
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from seq2seq_es.bench.config import BenchConfig, ExecutorConfig
from seq2seq_es.bench.grid import Job, Plan
from seq2seq_es.bench.job import clear_output, cli_command, run_job
from seq2seq_es.bench.slurm_states import track_with_squeue
from seq2seq_es.bench.status import (
    DONE_MARK,
    job_state,
    new_status,
    read_status,
    step_action,
    write_status,
)
from seq2seq_es.files import atomic_write


def submitit_cluster(config: ExecutorConfig) -> str:
    return config.cluster or ("slurm" if shutil.which("sbatch") else "local")


def submitit_parameters(config: ExecutorConfig, cluster: str, name: str) -> dict[str, Any]:
    """submitit's parameters: resources for Slurm; only the time limit for the local executor."""
    resources = config.slurm
    parameters: dict[str, Any] = {"timeout_min": resources.timeout_min, "name": name}
    if cluster != "slurm":
        return parameters
    parameters.update(
        nodes=resources.nodes,
        tasks_per_node=resources.tasks_per_node,
        gpus_per_node=resources.gpus_per_node,
        cpus_per_task=resources.cpus_per_task,
        mem_gb=resources.mem_gb,
        slurm_array_parallelism=resources.array_parallelism,
    )
    for key in ("partition", "account", "qos", "constraint"):
        value = getattr(resources, key)
        if value is not None:
            parameters[f"slurm_{key}"] = value
    if resources.setup:
        parameters["slurm_setup"] = list(resources.setup)
    if resources.additional:
        parameters["slurm_additional_parameters"] = dict(resources.additional)
    return parameters


def _launcher(config: ExecutorConfig, python: str) -> list[str] | None:
    if config.accelerate_config is None:
        return None
    return [python, "-m", "accelerate.commands.launch", "--config_file", config.accelerate_config]


def _failed(job: Job, root: Path, message: str, log: str | None) -> dict[str, Any]:
    folder = root / job.folder
    status = read_status(folder) or new_status(job)
    status.update(state="failed", hash=job.hash, error=message, log=log)
    folder.mkdir(parents=True, exist_ok=True)
    write_status(folder, status)
    return status


def _mark(job: Job, root: Path, state: str, error: str) -> None:
    folder = root / job.folder
    status = read_status(folder) or new_status(job)
    status.update(state=state, hash=job.hash, error=error)
    folder.mkdir(parents=True, exist_ok=True)
    write_status(folder, status)


def run_with_submitit(
    plan: Plan,
    config: ExecutorConfig,
    root: Path,
    output_dir: str,
    online: bool,
    on_update: Callable[[dict[str, Any]], None] | None = None,
) -> None:
    """Submit the jobs that are not done; wait for them (prepare jobs always, cells if ``wait``)."""
    import submitit

    root = root.resolve()
    cluster = submitit_cluster(config)
    executor = submitit.AutoExecutor(folder=root / output_dir / "submitit" / "%j", cluster=cluster)
    launcher = _launcher(config, sys.executable)
    states: dict[str, str] = {}

    def settle(jobs: list[Job], wait: bool) -> None:
        runnable = []
        for job in jobs:
            state = job_state(job, read_status(root / job.folder), online)
            missing = [name for name in job.requires if states.get(name) != "done"]
            if state == "done" or state == "needs network":
                states[job.id] = state
                if state == "needs network":
                    _mark(job, root, state, "needs " + ", ".join(job.network))
            elif missing:
                states[job.id] = "blocked"
                _mark(job, root, "blocked", "waits for prepare job(s) " + ", ".join(missing))
            else:
                runnable.append(job)
        if not runnable:
            return
        executor.update_parameters(
            **submitit_parameters(config, cluster, f"bench-{runnable[0].kind}")
        )
        with executor.batch():
            submitted = [
                (job, executor.submit(run_job, job, str(root), sys.executable, launcher))
                for job in runnable
            ]
        if cluster == "slurm":
            track_with_squeue(handle for _, handle in submitted)
        for job, handle in submitted:
            _mark(job, root, "submitted", f"submitit job {handle.job_id}")
        if not wait:
            for job, _ in submitted:
                states[job.id] = "submitted"
            return
        for job, handle in submitted:
            try:
                status = handle.result()
            except (
                Exception
            ) as exc:  # the job died (timeout, preemption, node failure): record it, go on
                status = _failed(
                    job,
                    root,
                    f"submitit job {handle.job_id}: {str(exc).strip()[-600:]}",
                    str(handle.paths.stderr),
                )
            states[job.id] = status["state"]
            if on_update is not None:
                on_update({"id": job.id, "state": status["state"], "error": status.get("error")})

    remaining = list(plan.prepare)
    while remaining:  # waves: the prepare jobs whose inputs are done
        wave = [
            job for job in remaining if all(states.get(name) is not None for name in job.requires)
        ]
        if not wave:
            wave = remaining
        settle(wave, wait=True)
        remaining = [job for job in remaining if job not in wave]
    settle(list(plan.cells), wait=config.wait)


def job_line(
    job: Job, root: Path, python: str, launcher: list[str] | None
) -> tuple[str, list[str]] | None:
    """One shell line with the job's unfinished steps, ending with its done mark (and those steps'
    names).

    Training steps get ``--resume``: harmless on a first run, and rerunning an
    interrupted line continues from its last checkpoint.
    """
    folder = root / job.folder
    records = (read_status(folder) or {}).get("steps", {})
    commands, names, upstream = [], [], False
    for step in job.steps:
        action = step_action(records.get(step.name), step, folder, upstream)
        if action == "skip":
            continue
        upstream = True
        if action == "fresh":
            clear_output(folder, step)
        commands.append(
            shlex.join(cli_command(step, python, resume=step.resumable, launcher=launcher))
        )
        names.append(step.name)
    if not commands:
        return None
    mark = shlex.quote(str(Path(job.folder) / DONE_MARK.format(hash=job.hash)))
    return " && ".join([f"mkdir -p {shlex.quote(job.folder)}", *commands, f"touch {mark}"]), names


def write_commands_file(plan: Plan, config: BenchConfig, root: Path, online: bool) -> Path:
    """``commands.sh``: a comment and one line per job not done; each job's status becomes
    ``submitted``."""
    executor = config.executor
    path = Path(executor.commands_file or Path(config.results_dir) / "commands.sh")
    if not path.is_absolute():
        path = root / path
    launcher = [
        "accelerate",
        "launch",
        *(["--config_file", executor.accelerate_config] if executor.accelerate_config else []),
    ]
    lines = [
        "#!/usr/bin/env bash",
        (
            f"# seq2seq-es bench {config.name}: one line per job, prepare jobs first (in this "
            "order); a cell"
        ),
        (
            "# needs the prepare jobs named in its comment. Training steps run through `accelerate "
            "launch`."
        ),
        f"cd {shlex.quote(str(root.resolve()))}",
    ]
    for job in plan.jobs:
        folder = root / job.folder
        if job_state(job, read_status(folder), online) == "done":
            lines.append(f"# {job.kind} {job.id}: done")
            continue
        written = job_line(job, root, executor.python, launcher)
        if written is None:
            continue
        line, names = written
        needs = f"; needs network ({', '.join(job.network)})" if job.network else ""
        requires = f"; after {', '.join(job.requires)}" if job.requires else ""
        lines += [f"# {job.kind} {job.id}{requires}{needs}", line]
        status = read_status(folder) or new_status(job)
        status.update(state="submitted", hash=job.hash, error=f"written to {path}")
        for step in job.steps:
            if step.name in names:
                status["steps"][step.name] = {
                    "hash": step.hash,
                    "state": "submitted",
                    "argv": list(step.argv),
                }
        folder.mkdir(parents=True, exist_ok=True)
        write_status(folder, status)
    with atomic_write(path) as handle:
        handle.write("\n".join(lines) + "\n")
    path.chmod(0o755)
    return path
