"""``bench`` through submitit on a real Slurm: one job per cell with the config's resources, job
states from ``squeue`` (the local cluster has no accounting daemon, so no ``sacct``)."""

from __future__ import annotations

import logging
import os
import subprocess
import time
from pathlib import Path

import submitit
from local_slurm import LocalSlurm
from tests.bench.conftest import copy_task, system_predictions  # noqa: F401 (fixture)
from tests.bench.test_runner import score_grid

from seq2seq_es.bench.runner import run_bench
from seq2seq_es.bench.slurm_states import track_with_squeue

RESOURCES = {"partition": "debug", "gpus_per_node": 0, "cpus_per_task": 1, "mem_gb": 1}


def job_fields(job_id: str) -> dict[str, str]:
    shown = subprocess.run(
        ["scontrol", "show", "job", "-o", job_id], capture_output=True, text=True, check=True
    ).stdout
    return dict(field.split("=", 1) for field in shown.split() if "=" in field)


def test_a_two_cell_grid_runs_as_slurm_jobs_with_the_configured_resources(
    slurm_cluster: LocalSlurm,
    copy_task: Path,  # noqa: F811
    tmp_path: Path,
    caplog,
) -> None:
    systems = {
        name: system_predictions(copy_task, tmp_path / f"{name}.jsonl", quality, seed)
        for name, quality, seed in (("A", 0.9, 1), ("B", 0.5, 2))
    }
    out = tmp_path / "bench"
    executor = {
        "kind": "submitit",
        "cluster": "slurm",
        "slurm": {**RESOURCES, "timeout_min": 7},
    }
    with caplog.at_level(logging.DEBUG):
        report = run_bench(score_grid(out, copy_task, systems, executor=executor))
    assert {row["id"]: row["state"] for row in report.rows} == {
        "a__copy__s1": "done",
        "b__copy__s1": "done",
    }
    assert all(
        (out / "cells" / cell / "scores.json").is_file() for cell in ("a__copy__s1", "b__copy__s1")
    )
    jobs = sorted(p.name for p in (out / "submitit").glob("*_*") if p.is_dir())  # array tasks
    assert len(jobs) == 2, jobs
    for job in jobs:
        # submitit reports a job done once its result file is written; Slurm registers the exit
        # a moment later (RUNNING seen here at load 8), so wait briefly for the final state.
        deadline = time.monotonic() + 60
        fields = job_fields(job)
        while fields["JobState"] in ("RUNNING", "COMPLETING") and time.monotonic() < deadline:
            time.sleep(1)
            fields = job_fields(job)
        assert fields["JobState"] == "COMPLETED", fields
        assert (fields["Partition"], fields["NumCPUs"], fields["TimeLimit"]) == (
            "debug",
            "1",
            "00:07:00",
        )
        assert fields["JobName"] == "bench-cell" and fields["MinMemoryNode"] == "1G"
    assert "sacct" not in caplog.text, "no sacct call, no 'Bypassing sacct error' warning"


def test_a_job_that_dies_without_its_result_ends_as_failed(
    slurm_cluster: LocalSlurm, tmp_path: Path
) -> None:
    """Without accounting submitit alone would report it UNKNOWN, and wait for it forever."""
    executor = submitit.AutoExecutor(folder=tmp_path / "%j", cluster="slurm")
    executor.update_parameters(
        timeout_min=5, slurm_partition="debug", cpus_per_task=1, mem_gb=1, gpus_per_node=0
    )
    job = executor.submit(os._exit, 9)  # ends the job's Python before it writes a result
    track_with_squeue([job])
    deadline = time.monotonic() + 120
    while not job.done():
        assert time.monotonic() < deadline, f"job {job.job_id} still not done: {job.state}"
        time.sleep(1)
    assert job.state == "FAILED"
    assert isinstance(job.exception(), submitit.core.utils.UncompletedJobError)
