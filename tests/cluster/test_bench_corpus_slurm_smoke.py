"""``benchmarks/bench_corpus_slurm.py --smoke`` runs to its ratio line on the session's cluster.

Here and not in ``tests/benchmarks/test_bench_smokes.py`` with the other smokes: it needs a
Slurm cluster, and with ``SLURM_CONF`` set (``slurm_cluster`` sets it) the benchmark uses the
running one instead of starting its own. Only completion and the line are checked. Slow: two
runs of 7 chained stages (1 and 2 tasks, 2 MinHash buckets), each job a Python start that
imports the pipeline.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from local_slurm import LocalSlurm

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_corpus_slurm.py"


@pytest.mark.slow
def test_bench_corpus_slurm_smoke_prints_its_ratio(
    slurm_cluster: LocalSlurm, shared_data: Path
) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--smoke",
            "--input",
            str(shared_data / "pretrain" / "sample.jsonl.gz"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "cluster already up" in done.stdout, done.stdout
    assert re.search(r"^ratio 2 tasks / 1 task \(MB/s\): \d+\.\d+x$", done.stdout, re.MULTILINE)
