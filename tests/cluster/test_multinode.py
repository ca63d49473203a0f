"""Multi-node launch: ``configs/slurm/train.sbatch`` with 2 launchers (srun → torchrun each, c10d
rendezvous from the ``SLURM_*`` variables), and plain ``torchrun --nnodes 2`` on 127.0.0.1, both
train like 1 process with the same global batch (gloo on CPU).

Without dropout: 1 and 2 processes draw dropout masks from different streams, the one
difference these tests do not isolate (tests/training/test_distributed.py, same reason).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from local_slurm import LocalSlurm
from safetensors.torch import load_file
from tests.training.conftest import tiny_pretrain, tiny_tokenizer  # noqa: F401 (fixtures)
from tests.training.training_helpers import losses, run_cli

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = REPO_ROOT / "configs" / "slurm" / "train.sbatch"
STEPS = 4


@pytest.fixture(scope="module")
def settings(tiny_pretrain: list[str]) -> list[str]:  # noqa: F811
    return ["pretrain", *tiny_pretrain, f"optim.steps={STEPS}", "dropout=0"]


@pytest.fixture(scope="module")
def one_process(settings: list[str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("one_process") / "run"
    run_cli([*settings, f"output_dir={folder}"])
    return folder


def assert_trains_like(run: Path, reference: Path) -> None:
    ours, theirs = losses(run), losses(reference)
    assert [s for s, _ in ours] == [s for s, _ in theirs] == list(range(1, STEPS + 1))
    for (_, a), (_, b) in zip(ours, theirs, strict=True):
        assert a == pytest.approx(b, rel=1e-5, abs=1e-5)
    weights, expected = (
        load_file(str(f / "model" / "model.safetensors")) for f in (run, reference)
    )
    assert weights.keys() == expected.keys()
    for name, tensor in expected.items():
        assert weights[name].allclose(tensor, rtol=1e-4, atol=1e-5), name


def test_the_sbatch_template_with_two_launchers_trains_like_one_process(
    slurm_cluster: LocalSlurm, settings: list[str], one_process: Path, tmp_path: Path
) -> None:
    log, run = tmp_path / "job.out", tmp_path / "run"
    env = {**os.environ, "PYTHON": sys.executable, "HF_HUB_OFFLINE": "1"}
    subprocess.run(
        [
            "sbatch",
            "--parsable",
            "--nodes=1",
            "--ntasks-per-node=2",  # two "nodes" on the one local node: SLURM_PROCID 0 and 1
            "--gpus-per-node=0",
            "--cpus-per-task=1",
            "--time=10",
            f"--output={log}",
            str(TEMPLATE),
            *settings,
            f"output_dir={run}",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    slurm_cluster.wait_until_idle()
    text = log.read_text(errors="replace")
    assert "2 launcher(s) x 1 process(es)" in text, text[-4000:]
    assert (run / "summary.json").is_file(), text[-4000:]
    assert_trains_like(run, one_process)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_torchrun_with_two_nodes_on_one_machine_trains_like_one_process(
    settings: list[str], one_process: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    launcher = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nnodes=2",
        "--nproc_per_node=1",
        "--rdzv_backend=c10d",
        f"--rdzv_endpoint=127.0.0.1:{free_port()}",
        "--rdzv_id=two-nodes",
    ]
    command = [*launcher, "-m", "seq2seq_es.cli", *settings, f"output_dir={run}"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    nodes = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for _ in range(2)
    ]
    outputs = [node.communicate(timeout=600)[0].decode(errors="replace") for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], "\n".join(outputs)[-4000:]
    assert_trains_like(run, one_process)
