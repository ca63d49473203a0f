"""Real multi-process training: 2 processes with gloo on CPU.

On CPU the launcher is torchrun (Accelerate's own multi-CPU launcher needs MPI);
``Accelerator`` detects the torchrun environment and uses gloo. GPUs use
``accelerate launch --config_file configs/accelerate/…`` with the same code.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from training_helpers import losses, run_cli

LAUNCH = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]


def test_two_processes_match_one_with_the_same_global_batch(tiny_pretrain: list[str], tmp_path: Path) -> None:
    settings = [*tiny_pretrain, "optim.steps=6"]
    run_cli(["pretrain", f"output_dir={tmp_path / 'one'}", *settings])
    run_cli(["pretrain", f"output_dir={tmp_path / 'two'}", *settings], launcher=LAUNCH)
    one, two = losses(tmp_path / "one"), losses(tmp_path / "two")
    assert [s for s, _ in one] == [s for s, _ in two] == list(range(1, 7))
    for (_, a), (_, b) in zip(one, two, strict=True):
        assert b == pytest.approx(a, rel=1e-5, abs=1e-5)
    assert (tmp_path / "two" / "model" / "config.json").is_file(), "rank 0 saved the model"


def test_indivisible_batch_is_a_clear_error(tiny_pretrain: list[str], tmp_path: Path) -> None:
    done = run_cli(["pretrain", f"output_dir={tmp_path / 'odd'}", *tiny_pretrain, "optim.steps=2",
                    "optim.batch_size=7"], launcher=LAUNCH, check=False)
    assert done.returncode != 0
    assert "not divisible by the 2 processes" in done.stderr
