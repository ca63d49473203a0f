"""Run the CLI in a fresh process and read its losses (shared by the training tests)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def run_cli(
    args: list[str], launcher: list[str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run ``seq2seq-es`` in a fresh process (optionally under ``accelerate launch``)."""
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "HF_HUB_OFFLINE": "1",
    }
    command = [*(launcher or [sys.executable]), "-m", "seq2seq_es.cli", *args]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    if check and done.returncode != 0:
        raise AssertionError(
            f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        )
    return done


def losses(output_dir: Path) -> list[tuple[int, float]]:
    lines = (output_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    return [(r["step"], r["loss"]) for r in map(json.loads, lines) if "loss" in r]
