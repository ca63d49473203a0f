"""submitit's job states on a Slurm without an accounting database: from ``squeue``.

submitit asks ``sacct`` for the state of the jobs it waits on. A cluster without an
accounting daemon (slurmdbd; a small lab cluster, or ``scripts/local-slurm.sh``) answers
with an error, which submitit logs as a "Bypassing sacct error" warning on every poll and
reads as the state UNKNOWN: a job that ended without writing its result file (killed,
out of memory, node lost) then looks unfinished forever, and ``result()`` never returns.
``squeue --states=all`` lists every job from its submission until ``MinJobAge`` (300 s
by default) after it ended, with its final state; a job it no longer lists has ended.
submitit then reads the result file, or raises with the job's log when there is none.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from typing import Any

from submitit.core.core import Job
from submitit.slurm.slurm import SlurmInfoWatcher

HEADER = "JobID|State|NodeList"
ENDED = "ENDED"  # not one of submitit's unfinished states: the result file decides


def has_accounting() -> bool:
    """Whether this cluster's ``sacct`` can answer (``AccountingStorageType`` is not ``none``)."""
    done = subprocess.run(
        ["scontrol", "show", "config"], capture_output=True, text=True, check=False
    )
    return "accounting_storage/none" not in done.stdout


class SqueueWatcher(SlurmInfoWatcher):
    """``SlurmInfoWatcher`` reading ``squeue`` instead of ``sacct``; a job squeue forgot has
    ended."""

    def _make_command(self) -> list[str] | None:
        to_check = sorted({x.split("_")[0] for x in self._registered - self._finished})
        if not to_check:
            return None
        return ["squeue", "-h", "--states=all", "-o", "%i|%T|%N", "-j", ",".join(to_check)]

    def update(self) -> None:
        command = self._make_command()
        if command is None:
            return
        self._num_calls += 1
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0 and "Invalid job id" not in done.stderr:
            return  # the controller did not answer: keep the states we had, ask again later
        info = self.read_info(f"{HEADER}\n{done.stdout}") if done.stdout.strip() else {}
        for job_id in self._registered - self._finished:
            listed = info.get(job_id) or info.get(job_id.split("_")[0])
            self._info_dict[job_id] = listed or {"JobID": job_id, "State": ENDED}
            if self.is_done(job_id, mode="cache"):
                self._finished.add(job_id)


SQUEUE_WATCHER = SqueueWatcher(delay_s=60)


def track_with_squeue(jobs: Iterable[Job[Any]]) -> None:
    """Have submitit's Slurm ``jobs`` read their states from ``squeue`` when the cluster has no
    accounting; with accounting, leave submitit's ``sacct`` alone.

    Per job, not per executor: submitit builds the jobs of an array itself (as plain
    ``SlurmJob``), so only the returned handles can be pointed at another watcher.
    """
    jobs = list(jobs)
    if jobs and not has_accounting():
        for job in jobs:
            job.watcher = SQUEUE_WATCHER
