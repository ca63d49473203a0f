"""Run the CLI in a new process (alone or as 2 torchrun processes) and read its losses
(shared by the training tests)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import warm_python

# Two gloo processes on CPU. torchrun, not ``accelerate launch``: Accelerate's own multi-CPU
# launcher needs MPI; ``Accelerator`` detects torchrun's environment and uses gloo.
LAUNCH = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
KILL_AT = Path(__file__).with_name("kill_at.py")
# The 2-process references several tests compare with (conftest's ``ddp_pretrain`` and
# ``ddp_finetune``) run once: the tests that use them share one xdist group, so one worker runs
# them all and the session fixtures once.
DDP_REFERENCES = "ddp_references"
DDP_PRETRAIN = ["model=barto-tiny", "optim.steps=8", "engine.checkpoint_every=4"]


def cli_env() -> dict[str, str]:
    """The environment of a CLI run: one thread per process (2 cores, 2 test workers), offline."""
    return {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "HF_HUB_OFFLINE": "1",
    }


def run_cli(
    args: list[str], launcher: list[str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run ``seq2seq-es`` in a new process (optionally under ``launcher``, e.g. ``LAUNCH``),
    forked from the warm server (``tests/warm_python.py``), torchrun's workers too."""
    program = ["-m", "seq2seq_es.cli", *args]
    command = [*(launcher or [sys.executable]), *program]
    if launcher:
        done = warm_python.run_launched(launcher, program, cli_env(), timeout=600)
    else:
        done = warm_python.run(command, env=cli_env(), timeout=600)
    if check and done.returncode != 0:
        raise AssertionError(
            f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        )
    return done


def killed_before_the_last_checkpoint(args: list[str]) -> None:
    """A 2-process run of the CLI ``args`` (8 steps, checkpoints every 4) whose main process
    SIGKILLs itself as it starts writing the step-8 checkpoint (``kill_at.py`` as torchrun's
    script): steps 5-8 ran, only step 4's checkpoint is complete; torchrun then ends the other
    process."""
    program = [str(KILL_AT), r"\.step-00000008\.tmp$", "1", "--", *args]
    done = warm_python.run_launched(LAUNCH, program, cli_env(), timeout=600)
    assert done.returncode != 0 and "SIGKILL" in done.stderr, (
        done.stderr[:3000] + "\n...\n" + done.stderr[-2000:]
    )


def losses(output_dir: Path) -> list[tuple[int, float]]:
    lines = (output_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    return [(r["step"], r["loss"]) for r in map(json.loads, lines) if "loss" in r]
