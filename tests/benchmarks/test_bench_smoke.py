"""Benchmarks that cannot rot: each runs in its ``--smoke`` mode to its ratio line.

Only that it completes and prints the line is checked: the numbers of a smoke run mean nothing
(tiny sizes), and tests never assert timings.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.mark.shared_data
def test_bench_train_smoke_on_a_task_prints_its_ratios(shared_data: Path) -> None:
    """--task: the mode that crashed when the loop stopped making its output folder."""
    done = subprocess.run(
        [
            sys.executable,
            str(BENCHMARKS / "bench_train.py"),
            "--smoke",
            "--task",
            "tatoeba-en-es",
            "--data",
            str(shared_data / "pretrain" / "sample.jsonl.gz"),
            "--data-dir",
            str(shared_data),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        # One thread: tiny matmuls on 2 threads stall when another process shares the cores.
        env={**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^ratio ours / HF \(tokens/s\): \d+\.\d+x$", done.stdout, re.MULTILINE)
    assert re.search(
        r"^ratio ours / HF with group_by_length: \d+\.\d+x$", done.stdout, re.MULTILINE
    )
