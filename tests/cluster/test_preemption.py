"""A training job under Slurm that gets Slurm's time-limit warning (SIGUSR1) checkpoints at the
next step boundary, requeues itself, resumes, and ends bit-identical to an uninterrupted run.

The job is ``configs/slurm/train.sbatch`` as a user submits it (srun → torchrun → the CLI),
with the presets' default dropout. ``scancel --signal=USR1`` is what ``--signal=USR1@N``
sends N seconds before the limit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from local_slurm import LocalSlurm
from safetensors.torch import load_file
from tests.training.conftest import tiny_pretrain, tiny_tokenizer  # noqa: F401 (fixtures)
from tests.training.training_helpers import losses, run_cli

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = REPO_ROOT / "configs" / "slurm" / "train.sbatch"
PAUSE_AT = Path(__file__).with_name("pause_at.py")
PAUSED_STEP = 3


def submit(args: list[str], marker: Path, log: Path, *sbatch: str) -> str:
    """``sbatch`` the template for ``seq2seq-es ARGS``; the job id."""
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "TRAIN_ENTRY": f"{PAUSE_AT} {PAUSED_STEP} {marker} --",
        "TOKENIZERS_PARALLELISM": "false",
        "HF_HUB_OFFLINE": "1",
    }
    command = [
        "sbatch",
        "--parsable",
        "--nodes=1",
        "--gpus-per-node=0",
        "--cpus-per-task=1",
        "--time=10",
        f"--output={log}",
        *sbatch,
        str(TEMPLATE),
        *args,
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip().split(";")[0]


def job_fields(job: str) -> dict[str, str]:
    shown = subprocess.run(
        ["scontrol", "show", "job", "-o", job], capture_output=True, text=True, check=True
    ).stdout
    return dict(field.split("=", 1) for field in shown.split() if "=" in field)


def wait_for(condition, what: str, log: Path, timeout_s: float = 300) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            text = log.read_text(errors="replace") if log.is_file() else "(no log)"
            pytest.fail(f"timed out waiting for {what}; job log:\n{text[-4000:]}")
        time.sleep(0.2)


def run_interrupted_under_slurm(
    slurm: LocalSlurm, args: list[str], tmp_path: Path, output_dir: Path
) -> str:
    """Submit, signal at step ``PAUSED_STEP``, release the requeued job, wait for its end; its
    log."""
    marker, log = tmp_path / "paused", tmp_path / "job.out"
    job = submit([*args, f"output_dir={output_dir}"], marker, log)
    wait_for(marker.exists, f"job {job} to reach step {PAUSED_STEP}", log)
    subprocess.run(["scancel", "--signal=USR1", job], check=True)

    # Slurm holds a requeued job for about 2 minutes (BeginTime); start it now.
    def requeued() -> bool:
        fields = job_fields(job)
        return fields.get("Restarts") == "1" and fields.get("JobState") == "PENDING"

    wait_for(requeued, f"job {job} to be requeued", log)
    subprocess.run(["scontrol", "update", f"JobId={job}", "StartTime=now"], check=True)
    slurm.wait_until_idle()
    fields = job_fields(job)
    text = log.read_text(errors="replace")
    assert fields["JobState"] == "COMPLETED", f"{fields}\n{text[-4000:]}"
    checkpoint = output_dir / "checkpoints" / f"step-{PAUSED_STEP:08d}"
    assert f"Requeueing Slurm job {job}" in text and "(restart 1)" in text, text[-4000:]
    assert f"resuming from {checkpoint} (step {PAUSED_STEP})" in text, text[-4000:]
    return text


def assert_same_weights(run: Path, reference: Path) -> None:
    ours, theirs = (load_file(str(f / "model" / "model.safetensors")) for f in (run, reference))
    assert ours.keys() == theirs.keys()
    assert all(bool((ours[name] == theirs[name]).all()) for name in theirs)


def test_pretrain_preempted_under_slurm_resumes_bit_identical(
    slurm_cluster: LocalSlurm,
    tiny_pretrain: list[str],  # noqa: F811
    tmp_path: Path,
) -> None:
    args = ["pretrain", *tiny_pretrain, "optim.steps=8", "engine.checkpoint_every=4"]
    reference = tmp_path / "reference"
    run_cli([*args, f"output_dir={reference}"])
    run = tmp_path / "slurm"
    run_interrupted_under_slurm(slurm_cluster, args, tmp_path, run)
    assert losses(run) == losses(reference) and len(losses(run)) == 8
    assert_same_weights(run, reference)
    summary, expected = (json.loads((f / "summary.json").read_text()) for f in (run, reference))
    for key in ("final_train_loss", "validation_loss", "steps"):
        assert summary[key] == expected[key], key


@pytest.fixture()
def finetune_args(tiny_data: Path, tiny_tokenizer: Path) -> list[str]:  # noqa: F811
    """barto-tiny on the copy task, selection every 2 steps: an interrupt between evaluations."""
    settings = {
        "task": tiny_data / "copy_task.yaml",
        "data_dir": tiny_data,
        "tokenizer": tiny_tokenizer,
        "model": "barto-tiny",
        "optim.steps": 12,
        "optim.batch_size": 8,
        "optim.lr": 3e-3,
        "optim.warmup_steps": 2,
        "engine.eval_every": 2,
        "engine.log_every": 1,
        "selection_examples": 8,
        "max_eval_examples": 16,
        "bootstrap_samples": 20,
        "engine.measure_mfu": "false",
        "engine.tensorboard": "false",
    }
    return ["finetune", *(f"{key}={value}" for key, value in settings.items())]


def test_finetune_preempted_under_slurm_resumes_bit_identical(
    slurm_cluster: LocalSlurm, finetune_args: list[str], tmp_path: Path
) -> None:
    """Selection state (best score and step) rides in the checkpoint: same scores, same model."""
    reference = tmp_path / "reference"
    run_cli([*finetune_args, f"output_dir={reference}"])
    run = tmp_path / "slurm"
    run_interrupted_under_slurm(slurm_cluster, finetune_args, tmp_path, run)
    assert losses(run) == losses(reference)
    assert_same_weights(run, reference)
    scores, expected = (json.loads((f / "scores.json").read_text()) for f in (run, reference))
    assert scores["training"].pop("efficiency") and expected["training"].pop("efficiency")
    scores.pop("predictions_file"), expected.pop("predictions_file")
    assert scores == expected
