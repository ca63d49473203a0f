"""A real one-node Slurm cluster for the session (``scripts/local-slurm.sh``), and its helpers.

Started once per session in a private state folder with its own ports and munge socket,
so it never meets a cluster a developer runs by hand. Without root, or without Slurm and
apt to install it, the tests skip with the reason; under ``CI=true`` they fail instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from local_slurm import LocalSlurm
from needs import skip_or_fail

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "scripts" / "local-slurm.sh"
DAEMONS = ("slurmctld", "slurmd", "sbatch", "munged")


def unavailable() -> str | None:
    """Why this machine cannot run a local Slurm cluster, or ``None``."""
    if sys.platform != "linux" or os.geteuid() != 0:
        return "needs root on Linux: slurmd starts jobs as their user"
    if not all(shutil.which(name) for name in DAEMONS) and not shutil.which("apt-get"):
        return "needs Slurm (slurmctld slurmd slurm-client munge) or apt-get to install it"
    return None


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[LocalSlurm]:
    """Start the cluster (installing the packages when missing); stop it after the session."""
    reason = unavailable()
    if reason is not None:
        skip_or_fail(reason)
    state = Path(tempfile.mkdtemp(prefix="seq2seq-es-slurm-"))
    env = {**os.environ, "LOCAL_SLURM_DIR": str(state)}
    started = subprocess.run(
        [str(SCRIPT), "start"], env=env, capture_output=True, text=True, timeout=600
    )
    try:
        if started.returncode != 0:
            pytest.fail(f"{SCRIPT} start failed ({started.returncode}):\n{started.stderr}")
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("SLURM_CONF", str(state / "slurm.conf"))
            yield LocalSlurm(state)
    finally:
        subprocess.run([str(SCRIPT), "stop"], env=env, capture_output=True, timeout=120)
        shutil.rmtree(state, ignore_errors=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """One worker runs every cluster test (pytest-xdist's ``--dist loadgroup``, as ``make test``
    runs): they share one Slurm cluster, started once per worker, and the machine's Ray."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.xdist_group("cluster"))
