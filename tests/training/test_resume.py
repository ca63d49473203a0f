"""Exact resume: a run killed with SIGKILL and resumed has bit-identical losses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from training_helpers import losses, run_cli
from transformers import AutoModelForSeq2SeqLM

from seq2seq_es.errors import CheckpointError
from seq2seq_es.training.checkpoint import check_compatible, list_checkpoints


def test_sigkill_then_resume_is_bit_identical(tiny_pretrain: list[str], tmp_path: Path) -> None:
    steps = ["optim.steps=24", "engine.checkpoint_every=6"]
    reference = tmp_path / "reference"
    run_cli(["pretrain", f"output_dir={reference}", *tiny_pretrain, *steps])
    output_bias = AutoModelForSeq2SeqLM.from_pretrained(reference / "model").final_logits_bias
    assert abs(float(output_bias.exp().sum()) - 1) < 1e-4, "BART's output bias starts at a unigram distribution"

    killed = tmp_path / "killed"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    process = subprocess.Popen([sys.executable, "-m", "seq2seq_es.cli", "pretrain", f"output_dir={killed}",
                                *tiny_pretrain, *steps], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env=env)
    deadline = time.monotonic() + 300
    while not (killed / "checkpoints" / "step-00000012").is_dir():
        assert process.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (killed / "summary.json").exists(), "the run was killed before finishing"
    done = [int(p.name.split("-")[1]) for p in list_checkpoints(killed / "checkpoints")]
    assert done and max(done) < 24

    run_cli(["pretrain", "--resume", f"output_dir={killed}", *tiny_pretrain, *steps])
    assert losses(killed) == losses(reference)  # exact float equality, every step
    assert [p.name for p in list_checkpoints(killed / "checkpoints")] == ["step-00000018", "step-00000024"]


def test_refuses_to_overwrite_checkpoints_and_checks_the_model(tiny_pretrain: list[str], tmp_path: Path) -> None:
    out = tmp_path / "run"
    run_cli(["pretrain", f"output_dir={out}", *tiny_pretrain, "optim.steps=2", "engine.checkpoint_every=2"])
    again = run_cli(["pretrain", f"output_dir={out}", *tiny_pretrain, "optim.steps=4"], check=False)
    assert again.returncode == 2 and "--resume" in again.stderr
    with pytest.raises(CheckpointError, match="d_model: 128 in checkpoint, 256 now"):
        check_compatible(out, {"d_model": 128}, {"d_model": 256})


def test_corrupt_checkpoint_gives_a_clear_error(tiny_pretrain: list[str], tmp_path: Path) -> None:
    out = tmp_path / "run"
    run_cli(["pretrain", f"output_dir={out}", *tiny_pretrain, "optim.steps=2", "engine.checkpoint_every=2"])
    checkpoint = list_checkpoints(out / "checkpoints")[-1]
    weights = next(checkpoint.glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes()[:100])
    resumed = run_cli(["pretrain", "--resume", f"output_dir={out}", *tiny_pretrain, "optim.steps=4"], check=False)
    assert resumed.returncode == 2, resumed.stderr
    assert "corrupt" in resumed.stderr and "Traceback" not in resumed.stderr
