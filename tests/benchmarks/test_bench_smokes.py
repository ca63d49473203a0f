"""Every benchmark's ``--smoke`` mode runs to its ratio lines, so none of them rots unseen.

A smoke is the benchmark's own code path at tiny sizes, in its own process, on the shared
Spanish data (``shared_data``) or text it generates; no network. Only the exit status and the
``ratio A / B ...: 1.23x`` lines are checked: a smoke's numbers mean nothing, and tests never
assert timings. A benchmark whose optional extra (``serve``, ``ct2``) is not installed is
skipped with the extra's name. Smokes that start several processes importing torch (over 30 s
of CPU each on the 2-core machine) are marked ``slow``. ``bench_corpus_slurm.py``'s smoke needs
a Slurm cluster: it is in ``tests/cluster/test_bench_corpus_slurm_smoke.py``, on the session's
cluster. ``bench_train.py``, ``profile_train_step.py`` and ``gpu_check.py`` have theirs in
``test_bench_smoke.py``. Not benchmarks (no ratio to check; their docstrings say so):
``encoder_*_probe.py``, ``bench_peak_probe.py``, ``plot_*.py``, ``pretraining_ablation_*.py``.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import warm_python

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
RATIO = re.compile(r"^ratio .+ / .+: .*\d\.\d+x", re.MULTILINE)


@dataclass(frozen=True)
class Smoke:
    """``script`` with ``args`` (``{data}``: the shared data, ``{tmp}``: a scratch folder),
    the ratio lines it prints at least, and the modules it needs (with their extra)."""

    script: str
    args: tuple[str, ...] = ()
    ratios: int = 1
    needs: tuple[tuple[str, str], ...] = ()
    slow: bool = False  # several processes that import torch (over 30 s of CPU here)


SERVE = (("fastapi", "serve"), ("uvicorn", "serve"), ("httpx", "serve"))
SMOKES = [
    Smoke("bench_batching.py", ("--data-dir", "{data}"), ratios=3),
    Smoke("bench_checkpoint.py", ("--data", "{data}/pretrain/sample.jsonl.gz"), ratios=2),
    # one torch.compile (about a CPU minute with an empty inductor cache)
    Smoke("bench_compile.py", ("--data", "{data}/pretrain/sample.jsonl.gz"), slow=True),
    Smoke("bench_corpus.py", ("--input", "{data}/pretrain", "--out", "{tmp}")),
    Smoke("bench_decode.py", ("--data-dir", "{data}"), ratios=2),
    Smoke("bench_fsdp.py", ("--data", "{data}/pretrain/sample.jsonl.gz"), slow=True),
    Smoke("bench_lora.py", ("cost", "--work", "{tmp}"), slow=True),
    Smoke("bench_metrics.py", ratios=4),
    Smoke("bench_models.py"),
    Smoke("bench_objectives.py", ("--data", "{data}"), ratios=3),
    Smoke("bench_server.py", ratios=2, needs=SERVE, slow=True),
    Smoke("bench_serve_load.py", needs=(*SERVE, ("ctranslate2", "ct2")), slow=True),
    Smoke("bench_tokenizer.py", ("--data", "{data}/pretrain"), ratios=4),
]


@pytest.mark.shared_data
@pytest.mark.parametrize(
    "smoke",
    [
        pytest.param(s, id=s.script.removesuffix(".py"), marks=[pytest.mark.slow] if s.slow else [])
        for s in SMOKES
    ],
)
def test_benchmark_smoke_runs_to_its_ratio_lines(
    smoke: Smoke, shared_data: Path, tmp_path: Path
) -> None:
    for module, extra in smoke.needs:
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{smoke.script} needs {module}: pip install 'seq2seq-es[{extra}]'")
    args = [a.format(data=shared_data, tmp=tmp_path) for a in smoke.args]
    # --smoke goes after a subcommand (bench_lora.py cost --smoke)
    command = [sys.executable, str(BENCHMARKS / smoke.script), *args, "--smoke"]
    done = warm_python.run(
        command,
        timeout=600,
        # One thread: tiny matmuls on 2 threads stall when another process shares the cores.
        env={
            **os.environ,
            "OMP_NUM_THREADS": "1",
            "HF_HUB_OFFLINE": "1",
            "SEQ2SEQ_ES_SHARED_DATA": str(shared_data),
        },
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    found = RATIO.findall(done.stdout)
    assert len(found) >= smoke.ratios, done.stdout[-3000:]
