"""Exact resume with the presets' default dropout: runs killed with SIGKILL anywhere end
bit-identical.

Each test runs a reference to the end, then the same run killed again and again at
different moments (at a random point during a step, inside a checkpoint write, between a
checkpoint's rename and the pruning of old ones, inside the final model save or the
save of the best model) and resumed with ``--resume`` each time; the losses of every
step, the final weights and the summaries must be equal, bit for bit (CPU). The write points
are killed for BART's objective only (the same checkpoint code serves every objective); span
corruption and MLM are killed during a step, where their random streams matter.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import time
from pathlib import Path

import pytest
from safetensors import safe_open
from safetensors.torch import load_file
from training_helpers import losses, run_cli

import warm_python
from seq2seq_es.errors import CheckpointError
from seq2seq_es.training.checkpoint import check_compatible, list_checkpoints
from seq2seq_es.training.run_folder import PICKLE_SUFFIXES

KILL_AT = Path(__file__).with_name("kill_at.py")
ENV = {
    **os.environ,
    "OMP_NUM_THREADS": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "HF_HUB_OFFLINE": "1",
}


def killed_at(pattern: str, args: list[str]) -> None:
    """Run the CLI until it touches a path matching ``pattern``: SIGKILLed there (see
    kill_at.py)."""
    done = warm_python.run(
        [sys.executable, str(KILL_AT), pattern, "1", "--", *args], env=ENV, timeout=600
    )
    assert done.returncode == -signal.SIGKILL, f"not killed at {pattern}:\n{done.stderr[-2000:]}"


def killed_during_a_step(
    args: list[str], folder: Path, rng: random.Random, after_steps: tuple[int, int]
) -> int:
    """SIGKILL the run at a random moment once it has logged a random number of steps; return
    that number."""
    steps = rng.randint(*after_steps)
    process = warm_python.popen_quiet([sys.executable, "-m", "seq2seq_es.cli", *args], ENV)
    deadline = time.monotonic() + 600
    metrics = folder / "metrics.jsonl"
    while not (
        metrics.is_file() and len(metrics.read_text(encoding="utf-8").splitlines()) >= steps
    ):
        assert process.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(rng.uniform(0, 0.05))  # somewhere inside the next step
    process.send_signal(signal.SIGKILL)
    process.wait()
    return steps


def weights(folder: Path) -> dict:
    return load_file(str(folder / "model.safetensors"))


def assert_same_weights(a: Path, b: Path) -> None:
    first, second = weights(a), weights(b)
    assert first.keys() == second.keys()
    differing = [name for name in first if not bool((first[name] == second[name]).all())]
    assert not differing, f"{len(differing)} of {len(first)} tensors differ, e.g. {differing[:3]}"


def leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(".*") if p.name.endswith((".tmp", ".old"))]


def assert_no_pickles(folder: Path) -> None:
    """Every file of every checkpoint is JSON or safetensors (nothing a loader would unpickle).

    (Grepping the bytes for "pickle" is no test: float data contains ".pkl" by chance.)"""
    files = [file for file in folder.rglob("*") if file.is_file()]
    assert files
    for file in files:
        assert not file.name.endswith(PICKLE_SUFFIXES), file
        if file.suffix == ".json":
            json.loads(file.read_text(encoding="utf-8"))
        else:
            assert file.suffix == ".safetensors", file
            with safe_open(str(file), framework="pt") as handle:
                assert list(handle.keys())


@pytest.mark.parametrize(
    "preset", ["barto-tiny", "t5s-tiny", "bert-tiny"]
)  # BART noise, span corruption, MLM
def test_pretraining_killed_anywhere_resumes_bit_exact(
    preset: str, tiny_pretrain: list[str], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    settings = [*tiny_pretrain, f"model={preset}", "optim.steps=12", "engine.checkpoint_every=4"]
    if preset.startswith("t5s"):  # span corruption needs a vocabulary with sentinels
        settings.append(f"tokenizer={request.getfixturevalue('tiny_unigram_tokenizer')}")
    reference = tmp_path / "reference"
    run_cli(["pretrain", f"output_dir={reference}", *settings])
    run = tmp_path / "killed"
    args = ["pretrain", f"output_dir={run}", *settings]
    rng = random.Random(os.environ.get("RESUME_TEST_SEED", "12"))

    killed_during_a_step(args, run, rng, (5, 9))
    assert list_checkpoints(run / "checkpoints") and not (run / "summary.json").exists()
    if preset == "barto-tiny":  # the write points are the same code for every objective
        killed_at(
            r"\.step-\d+\.tmp/\.optimizer\.json", [*args, "--resume"]
        )  # inside a checkpoint write
        assert leftovers(run / "checkpoints"), "a half-written checkpoint is left (.tmp name)"
        # after the final checkpoint's rename, before the oldest is pruned: one too many
        killed_at(r"checkpoints/step-00000004$", [*args, "--resume"])
        assert [p.name for p in list_checkpoints(run / "checkpoints")] == [
            "step-00000004",
            "step-00000008",
            "step-00000012",
        ]
        killed_at(r"\.model\.[^/]+\.tmp/tokenizer", [*args, "--resume"])  # in the final save
        assert leftovers(run), "a half-written model folder is left"
        assert [p.name for p in list_checkpoints(run / "checkpoints")] == [
            "step-00000008",
            "step-00000012",
        ], "keep_checkpoints=2 is honoured on the next start"
    run_cli([*args, "--resume"])

    assert losses(run) == losses(reference)  # exact float equality, every step
    assert_same_weights(run / "model", reference / "model")
    summary, expected = (
        json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        for folder in (run, reference)
    )
    assert summary["final_train_loss"] == expected["final_train_loss"] and summary["steps"] == 12
    assert summary["validation_loss"] == expected["validation_loss"]
    assert not leftovers(run), "leftovers of killed writers are cleaned on the next start"
    assert [p.name for p in list_checkpoints(run / "checkpoints")] == [
        "step-00000008",
        "step-00000012",
    ]
    assert_no_pickles(run / "checkpoints")


def test_finetune_with_early_stopping_killed_and_resumed_ends_like_the_uninterrupted_run(
    tiny_data: Path, tiny_tokenizer: Path, tmp_path: Path
) -> None:
    """Selection (best score, its step, patience count) rides in the checkpoint: same stop, same
    model."""
    settings = [
        f"task={tiny_data / 'copy_task.yaml'}",
        f"data_dir={tiny_data}",
        f"tokenizer={tiny_tokenizer}",
        "model=barto-tiny",
        "optim.steps=60",
        "optim.batch_size=8",
        "optim.lr=3e-3",
        "optim.warmup_steps=5",
        "engine.eval_every=5",
        "patience=2",
        "engine.checkpoint_every=5",
        "engine.log_every=1",
        "selection_examples=8",
        "max_eval_examples=16",
        "bootstrap_samples=20",
        "engine.measure_mfu=false",
        "engine.tensorboard=false",
    ]
    reference = tmp_path / "reference"
    run_cli(["finetune", f"output_dir={reference}", *settings])
    expected = json.loads((reference / "scores.json").read_text(encoding="utf-8"))
    assert expected["training"]["steps"] < 60, "the reference stops early (patience)"

    run = tmp_path / "killed"
    args = ["finetune", f"output_dir={run}", *settings]
    rng = random.Random(os.environ.get("RESUME_TEST_SEED", "7"))
    killed_during_a_step(args, run, rng, (6, 14))
    killed_at(
        r"\.best_model\.[^/]+\.tmp/tokenizer", [*args, "--resume"]
    )  # inside the save of a new best
    killed_at(
        r"\.step-\d+\.tmp/\.optimizer\.json", [*args, "--resume"]
    )  # inside a checkpoint write
    run_cli([*args, "--resume"])

    scores = json.loads((run / "scores.json").read_text(encoding="utf-8"))
    timeless = {key: value for key, value in scores["training"].items() if key != "efficiency"}
    assert timeless == {
        key: value for key, value in expected["training"].items() if key != "efficiency"
    }, "same stop step, selection, final training loss"
    assert scores["training"]["final_train_loss"] not in (None, 0.0)
    assert scores["training"]["efficiency"]["tokens_per_s"] > 0  # the resumed part's speed
    assert {k: v for k, v in scores.items() if k not in ("predictions_file", "training")} == {
        k: v for k, v in expected.items() if k not in ("predictions_file", "training")
    }
    assert losses(run) == losses(reference)
    assert_same_weights(run / "model", reference / "model")
    assert not leftovers(run) and not (run / "best_model").exists()
    assert_no_pickles(run / "checkpoints")


def test_a_checkpoint_refuses_another_model_architecture(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="d_model: 128 in checkpoint, 256 now"):
        check_compatible(tmp_path, {"d_model": 128}, {"d_model": 256})
