"""Benchmarks that cannot rot: each runs in its ``--smoke`` mode to its ratio line.

Only that it completes and prints the line is checked: the numbers of a smoke run mean nothing
(tiny sizes), and tests never assert timings.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import warm_python

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def run_task_smoke(
    script: str, shared_data: Path, *options: str
) -> subprocess.CompletedProcess[str]:
    """``script --smoke --task tatoeba-en-es [options]`` on the shared data, one torch thread."""
    return warm_python.run(
        [
            sys.executable,
            str(BENCHMARKS / script),
            "--smoke",
            "--task",
            "tatoeba-en-es",
            "--data",
            str(shared_data / "pretrain" / "sample.jsonl.gz"),
            "--data-dir",
            str(shared_data),
            *options,
        ],
        timeout=600,  # 300 s was reached at load 10 (three loops, a tokenizer, a GEMM probe)
        # One thread: tiny matmuls on 2 threads stall when another process shares the cores.
        env={**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"},
    )


@pytest.mark.shared_data
def test_bench_train_smoke_on_a_task_prints_its_ratios(shared_data: Path) -> None:
    """--task: the mode that crashed when the loop stopped making its output folder."""
    done = run_task_smoke("bench_train.py", shared_data, "--token-budget")
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(
        r"^ratio ours with a token budget / HF with group_by_length \(real tokens per CPU s\): "
        r"\d+\.\d+x$",
        done.stdout,
        re.MULTILINE,
    )
    assert re.search(r"^ratio ours / HF \(tokens/s\): \d+\.\d+x$", done.stdout, re.MULTILINE)
    assert re.search(
        r"^ratio ours / HF with group_by_length: \d+\.\d+x$", done.stdout, re.MULTILINE
    )
    assert re.search(
        r"^median step ratio ours / HF: wall \d+\.\d+x, CPU \d+\.\d+x$", done.stdout, re.MULTILINE
    )


@pytest.mark.shared_data
def test_profile_train_step_smoke_prints_its_phase_table(shared_data: Path) -> None:
    """--smoke: both loops run under the phase clock and the profilers to the end."""
    done = run_task_smoke("profile_train_step.py", shared_data)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^forward +\d+\.\d+ +\d+\.\d+ +\d+\.\d+$", done.stdout, re.MULTILINE)
    assert re.search(r"^step \(median\) +\d+\.\d+ +\d+\.\d+ +\d+\.\d+$", done.stdout, re.MULTILINE)
    assert "--- torch.profiler, step 3, HF grouped" in done.stdout
    assert done.stdout.rstrip().endswith("profile: done")


@pytest.mark.shared_data
def test_gpu_check_smoke_on_cpu_trains_and_decodes_both_presets(shared_data: Path) -> None:
    """--device cpu --smoke: the GPU check's code (pretraining configs, the loop's MFU meter,
    the decoding engine) end to end at tiny sizes; a row per training run, a decode line each."""
    done = warm_python.run(
        [
            sys.executable,
            str(BENCHMARKS / "gpu_check.py"),
            "--device",
            "cpu",
            "--smoke",
            "--data",
            str(shared_data / "pretrain" / "sample.jsonl.gz"),
        ],
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for preset in ("barto-tiny", "t5s-tiny"):
        assert re.search(
            rf"^{preset} +eager +2 x \d+ +\d+\.\d+ +\d+\.\d+ +\d+ ", done.stdout, re.MULTILINE
        ), done.stdout
        assert re.search(rf"^decode {preset}: 4 texts .* \d+ tokens/s", done.stdout, re.MULTILINE)
    assert done.stdout.rstrip().endswith("gpu check: done")


def test_gpu_check_without_a_gpu_says_so_and_exits_0(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The default device on a machine without CUDA: one clear line, exit 0, nothing trained
    (in this process: the script's imports are already loaded here)."""
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    spec = importlib.util.spec_from_file_location("gpu_check", BENCHMARKS / "gpu_check.py")
    assert spec is not None and spec.loader is not None
    gpu_check = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "gpu_check", gpu_check)  # its dataclasses look it up
    spec.loader.exec_module(gpu_check)
    monkeypatch.setattr(sys, "argv", ["gpu_check.py"])
    assert gpu_check.main() == 0
    out = capsys.readouterr().out
    assert out.startswith("no CUDA GPU found") and "--device cpu --smoke" in out


@pytest.mark.shared_data
def test_bench_inference_smoke_prints_its_ratios(shared_data: Path) -> None:
    """--smoke: a tiny BART built, exported (fp32, int8) and timed against transformers; the
    ratio lines and the outputs check are printed."""
    done = warm_python.run(
        [sys.executable, str(BENCHMARKS / "bench_inference.py"), "--smoke"],
        timeout=600,  # 14 s of CPU; 2 minutes of wall time at load 11 on 2 cores
        env={**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for engine in ("ct2-float32", "ct2-int8"):
        for batch in (1, 32):
            assert re.search(
                rf"^ratio {engine} / transformers, batch {batch} \(tokens/s\): \d+\.\d+x "
                r"\(CPU time \d+\.\d+x\)$",
                done.stdout,
                re.MULTILINE,
            ), done.stdout
    assert "Outputs identical to transformers on 32 inputs: ct2-float32 " in done.stdout
