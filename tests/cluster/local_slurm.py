"""The running local cluster as the tests see it: its state folder and its queue."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class LocalSlurm:
    """The running cluster: its state folder (slurm.conf, daemon logs)."""

    state: Path

    @property
    def conf(self) -> Path:
        return self.state / "slurm.conf"

    def queue(self) -> list[str]:
        """``JOBID STATE REASON`` of every job the controller still knows as pending or
        running."""
        done = subprocess.run(
            ["squeue", "-h", "-o", "%i %T %r"], capture_output=True, text=True, check=True
        )
        return [line for line in done.stdout.splitlines() if line.strip()]

    def wait_until_idle(self, timeout_s: float = 300) -> None:
        """Wait until no job is pending or running; fail with the queue and the logs' tails."""
        deadline = time.monotonic() + timeout_s
        while queue := self.queue():
            if time.monotonic() > deadline:
                log = (self.state / "slurmctld.log").read_text(errors="replace")[-3000:]
                pytest.fail(f"jobs still queued after {timeout_s} s: {queue}\n{log}")
            time.sleep(0.5)
