"""engine.mixed_precision=bf16 on CPU: the loop runs under bf16 autocast (the code path a GPU
takes), its losses follow fp32's, and the weights it updates and saves stay fp32."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from typer.testing import CliRunner

from seq2seq_es.cli import app

STEPS = 30
# Smaller than tiny_pretrain's blocks and batch: bf16 matmuls on a CPU without AVX-512 BF16 (these
# machines: AVX2) run about 10x slower than fp32 (benchmarks/RESULTS.md). One thread: two threads
# of tiny matmuls on 2 shared cores stall when another process holds one.
SMALL = ["seq_len=16", "optim.batch_size=4", "engine.threads=1"]


@pytest.fixture
def restored_threads() -> Iterator[None]:
    """engine.threads sets torch's process-wide thread count: give it back to the next tests."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def pretrain_losses(settings: list[str], output_dir: Path, precision: str) -> list[float]:
    result = CliRunner().invoke(
        app,
        [
            "pretrain",
            *settings,
            *SMALL,
            f"optim.steps={STEPS}",
            f"engine.mixed_precision='{precision}'",  # quoted: YAML reads a bare no as false
            f"output_dir={output_dir}",
        ],
    )
    assert result.exit_code == 0, result.output
    lines = (output_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    return [record["loss"] for record in map(json.loads, lines) if "loss" in record]


def test_bf16_autocast_follows_fp32_and_keeps_fp32_weights(
    tiny_pretrain: list[str], tmp_path: Path, restored_threads: None
) -> None:
    """barto-tiny, 30 steps, the preset's dropout (both runs draw the same masks: same seed).
    Both runs in one process, as ``demo`` runs its stages: the second changes the precision."""
    full = pretrain_losses(tiny_pretrain, tmp_path / "fp32", "no")
    half = pretrain_losses(tiny_pretrain, tmp_path / "bf16", "bf16")
    assert len(full) == len(half) == STEPS
    assert half != full, "bf16 autocast changed the arithmetic: it ran"
    # bf16 keeps 8 bits of mantissa: autocast rounds each matmul's inputs by up to 2^-9 (0.2%).
    # On a random barto-tiny that moves the loss by 0.1%; here the fp32 output bias (the unigram
    # prior) carries most of the early logits, and the measured gap of a step's loss was at most
    # 1.2e-4 of it (3e-5 on the mean) over these 30 steps. Allowed: 0.5% per step, 0.1% on the
    # mean: room for rounding to drift, not for another computation.
    gaps = [abs(h - f) / f for h, f in zip(half, full, strict=True)]
    assert max(gaps) < 0.005, gaps
    assert abs(sum(half) - sum(full)) / sum(full) < 0.001
    with safe_open(tmp_path / "bf16" / "model" / "model.safetensors", framework="pt") as saved:
        dtypes = {saved.get_slice(name).get_dtype() for name in saved.keys()}  # noqa: SIM118
    assert dtypes == {"F32"}, "the master weights stay fp32"
