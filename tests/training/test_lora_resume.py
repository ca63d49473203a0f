"""LoRA fine-tuning through the CLI: exact resume after SIGKILL, small checkpoints, 2 processes
(gloo).

The defaults users run: barto-tiny (dropout 0.1), adapter r 8 / alpha 16 / dropout 0.05 on
q/v, selection every 6 steps. Only the 1-vs-2-process comparison switches dropout off, as
``test_distributed.py`` does (1 and 2 processes draw dropout masks differently).
"""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from training_helpers import LAUNCH, cli_env, losses, run_cli

import warm_python
from seq2seq_es.training.checkpoint import list_checkpoints

# One worker runs the module, so the module-scoped reference run is made once, not per worker.
pytestmark = pytest.mark.xdist_group("lora_resume")
STEPS = ["optim.steps=24", "engine.checkpoint_every=6", "engine.eval_every=6", "engine.log_every=1"]


@pytest.fixture(scope="module")
def lora_settings(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    from seq2seq_es.corpus.text_files import iter_texts
    from seq2seq_es.tokenizer.bpe import train_byte_level_bpe
    from seq2seq_es.tokenizer.save import save_tokenizer

    folder = tmp_path_factory.mktemp("lora_tokenizer")
    save_tokenizer(train_byte_level_bpe(iter_texts(tiny_data / "pretrain"), vocab_size=400), folder)
    return [
        f"task={tiny_data / 'copy_task.yaml'}",
        f"data_dir={tiny_data}",
        f"tokenizer={folder}",
        "adapter.kind=lora",
        "optim.batch_size=8",
        "optim.lr=1e-2",
        "optim.warmup_steps=3",
        "selection_examples=8",
        "max_eval_examples=8",
        "bootstrap_samples=20",
        "engine.measure_mfu=false",
        "engine.tensorboard=false",
    ]


@pytest.fixture(scope="module")
def reference(lora_settings: list[str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted 24-step LoRA fine-tune of barto-tiny with checkpoints every 6 steps."""
    out = tmp_path_factory.mktemp("lora_reference") / "run"
    run_cli(["finetune", f"output_dir={out}", "model=barto-tiny", *lora_settings, *STEPS])
    return out


def _adapter(run: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run / "adapter" / "adapter_model.safetensors"))


def _evaluations(run: Path) -> list[dict]:
    """The selection's numbers at each evaluation (not the timings logged beside them)."""
    return [
        {k: v for k, v in r.items() if k.startswith(("step", "validation_", "best"))}
        for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
        if "best_so_far" in r
    ]


def test_lora_sigkill_then_resume_is_bit_identical(
    lora_settings: list[str], reference: Path, tmp_path: Path
) -> None:
    killed = tmp_path / "killed"
    args = ["finetune", f"output_dir={killed}", "model=barto-tiny", *lora_settings, *STEPS]
    process = warm_python.popen_quiet([sys.executable, "-m", "seq2seq_es.cli", *args], cli_env())
    deadline = time.monotonic() + 600
    while not (killed / "checkpoints" / "step-00000012").is_dir():
        assert process.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (killed / "scores.json").exists(), "the run was killed before finishing"
    assert max(int(p.name.split("-")[1]) for p in list_checkpoints(killed / "checkpoints")) < 24

    run_cli([*args, "--resume"])
    assert losses(killed) == losses(
        reference
    )  # exact float equality, every step (dropout included)
    assert _evaluations(killed) == _evaluations(reference)
    ours, theirs = _adapter(killed), _adapter(reference)
    assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)
    assert (killed / "predictions.jsonl").read_text() == (
        reference / "predictions.jsonl"
    ).read_text()


def test_lora_checkpoints_hold_only_the_adapter(reference: Path) -> None:
    checkpoint = list_checkpoints(reference / "checkpoints")[-1]
    stored = load_file(str(checkpoint / "model.safetensors"))
    assert all("lora_" in name for name in stored), "only adapter tensors in the checkpoint"
    assert sum(t.numel() for t in stored.values()) == sum(
        t.numel() for t in _adapter(reference).values()
    )


def test_lora_optimizer_state_is_the_adapters_only(reference: Path) -> None:
    checkpoint = list_checkpoints(reference / "checkpoints")[-1]
    moments = load_file(str(checkpoint / "optimizer.safetensors"))
    adapter = sum(t.numel() for t in _adapter(reference).values())
    assert (
        adapter <= sum(t.numel() for t in moments.values()) <= 2 * adapter + 64
    )  # Adam: 2 moments (+ steps)


def test_two_process_lora_finetune_matches_one_process(
    lora_settings: list[str], tmp_path: Path
) -> None:
    """DDP with frozen base weights: gradients of the adapters only are averaged; selection on
    rank 0."""
    from transformers import AutoModelForSeq2SeqLM

    from seq2seq_es.models.loading import save_seq2seq
    from seq2seq_es.models.presets import build_model
    from seq2seq_es.tokenizer.save import load_tokenizer_folder

    tokenizer_dir = next(s.split("=", 1)[1] for s in lora_settings if s.startswith("tokenizer="))
    tokenizer = load_tokenizer_folder(tokenizer_dir)
    save_seq2seq(
        build_model("barto-tiny", tokenizer, seed=3, dropout=0.0), tokenizer, tmp_path / "start"
    )
    settings = [
        *lora_settings,
        f"model={tmp_path / 'start'}",
        "adapter.dropout=0",
        "optim.steps=12",
        "engine.eval_every=6",
        "engine.checkpoint_every=6",
        "engine.log_every=1",
    ]
    run_cli(["finetune", f"output_dir={tmp_path / 'one'}", *settings])
    done = run_cli(["finetune", f"output_dir={tmp_path / 'two'}", *settings], launcher=LAUNCH)
    assert "Traceback" not in done.stderr
    one, two = losses(tmp_path / "one"), losses(tmp_path / "two")
    assert [s for s, _ in one] == [s for s, _ in two] == list(range(1, 13))
    for (_, a), (_, b) in zip(one, two, strict=True):
        assert b == pytest.approx(a, rel=1e-5, abs=1e-5)
    first, second = (
        json.loads((tmp_path / run / "scores.json").read_text())["training"]["selection"]
        for run in ("one", "two")
    )
    assert first == second
    ours, theirs = _adapter(tmp_path / "one"), _adapter(tmp_path / "two")
    for name in ours:
        torch.testing.assert_close(theirs[name], ours[name], atol=1e-5, rtol=1e-4)
    assert AutoModelForSeq2SeqLM.from_pretrained(tmp_path / "two" / "model") is not None
    assert list_checkpoints(tmp_path / "two" / "checkpoints"), "rank 0 wrote checkpoints"
