"""``seq2seq-es corpus executor=slurm`` on a real Slurm: the local executor's result, and a
cancelled task is the only one a rerun runs again (datatrove's completion markers)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from corpus_outputs import assert_same_corpus, corpus
from local_slurm import LocalSlurm

TASKS = 3


def test_slurm_equals_local_and_a_rerun_runs_only_the_cancelled_task(
    slurm_cluster: LocalSlurm, shared_data: Path, tmp_path: Path
) -> None:
    corpus(shared_data, tmp_path / "local", TASKS)
    slurm = [
        "executor=slurm",
        "slurm.partition=debug",
        "slurm.job_name=corpus-test",
        "slurm.mem_per_cpu_gb=1",
    ]
    out = tmp_path / "slurm"
    corpus(shared_data, out, TASKS, *slurm)
    # The command returns once the stages are submitted: cancel filter task 1 before it can end
    # (a job start alone takes seconds); its stage fails and Slurm cancels the later stages.
    array = subprocess.run(
        ["squeue", "-h", "-n", "corpus-test-filter", "-o", "%F"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[0]
    subprocess.run(["scancel", f"{array}_1"], check=True)
    slurm_cluster.wait_until_idle()
    filter_logs = out / "logs" / "filter"
    assert sorted(p.name for p in (filter_logs / "completions").iterdir()) == ["00000", "00002"]
    assert not (out / "stats.json").exists()
    finished = {rank: (filter_logs / "logs" / f"task_{rank:05d}.log").stat() for rank in (0, 2)}

    corpus(shared_data, out, TASKS, *slurm)
    slurm_cluster.wait_until_idle()
    assert json.loads((filter_logs / "ranks_to_run.json").read_text()) == [1]
    for rank, before in finished.items():
        assert (filter_logs / "logs" / f"task_{rank:05d}.log").stat().st_mtime_ns == (
            before.st_mtime_ns
        ), f"finished task {rank} ran again"
    assert sorted(p.name for p in (filter_logs / "completions").iterdir()) == [
        f"{rank:05d}" for rank in range(TASKS)
    ]

    assert_same_corpus(out, tmp_path / "local")
