"""Real multi-process training: 2 processes with gloo on CPU.

On CPU the launcher is torchrun (Accelerate's own multi-CPU launcher needs MPI);
``Accelerator`` detects the torchrun environment and uses gloo. GPUs use
``accelerate launch --config_file configs/accelerate/…`` with the same code.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from safetensors.torch import load_file
from training_helpers import (
    DDP_PRETRAIN,
    DDP_REFERENCES,
    LAUNCH,
    cli_env,
    killed_before_the_last_checkpoint,
    losses,
    run_cli,
)

import warm_python

LATE_MAIN = Path(__file__).with_name("late_main.py")


def test_two_processes_match_one_with_the_same_global_batch(
    tiny_pretrain: list[str], tmp_path: Path
) -> None:
    """Same data, same optimisation. Without dropout: 1 and 2 processes draw their dropout
    masks from different streams (one per process), which is the only difference isolated here."""
    settings = [*tiny_pretrain, "optim.steps=6", "dropout=0"]
    run_cli(["pretrain", f"output_dir={tmp_path / 'one'}", *settings])
    run_cli(["pretrain", f"output_dir={tmp_path / 'two'}", *settings], launcher=LAUNCH)
    one, two = losses(tmp_path / "one"), losses(tmp_path / "two")
    assert [s for s, _ in one] == [s for s, _ in two] == list(range(1, 7))
    for (_, a), (_, b) in zip(one, two, strict=True):
        assert b == pytest.approx(a, rel=1e-5, abs=1e-5)
    assert (tmp_path / "two" / "model" / "config.json").is_file(), "rank 0 saved the model"


def test_a_main_process_that_starts_last_still_starts_the_run(
    tiny_pretrain: list[str], tmp_path: Path
) -> None:
    """Rank 0 starts once rank 1 has written into the new output folder, or after 10 s
    (``late_main.py``): every process claims before any writes, so rank 1 waits for rank 0 and
    rank 0 finds the folder new (the 10 s are spent). Before: rank 1 wrote its token cache
    (``output_dir/data``) and rank 0 refused the folder, "is not empty and holds no run
    record", exit 2; the warm workers' near-simultaneous starts found it."""
    out = tmp_path / "late"
    args = ["pretrain", f"output_dir={out}", *tiny_pretrain, "model=barto-tiny", "optim.steps=2"]
    done = warm_python.run_launched(
        LAUNCH, [str(LATE_MAIN), "10", "--", *args], cli_env(), timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert [step for step, _ in losses(out)] == [1, 2]
    assert (out / "summary.json").is_file() and (out / "config.yaml").is_file()


@pytest.mark.xdist_group(DDP_REFERENCES)
def test_two_processes_checkpoint_and_resume_exactly_with_dropout(
    ddp_pretrain: Path, tiny_pretrain: list[str], tmp_path: Path
) -> None:
    """DDP checkpoints: the main process writes model and optimizer, every process its own random
    states; a 2-process run SIGKILLed as it writes its step-8 checkpoint and resumed from step 4
    equals the uninterrupted 2-process run, bit for bit, dropout (0.1) included."""
    args = ["pretrain", f"output_dir={tmp_path / 'killed'}", *tiny_pretrain, *DDP_PRETRAIN]
    killed_before_the_last_checkpoint(args)
    checkpoint = tmp_path / "killed" / "checkpoints" / "step-00000004"
    assert sorted(p.name for p in checkpoint.glob("rng-rank-*")) == [
        "rng-rank-00000.safetensors",
        "rng-rank-00001.safetensors",
    ]
    run_cli([*args, "--resume"], launcher=LAUNCH)
    assert losses(tmp_path / "killed") == losses(ddp_pretrain)
    resumed, straight = (
        load_file(str(run / "model" / "model.safetensors"))
        for run in (tmp_path / "killed", ddp_pretrain)
    )
    assert all(bool((resumed[name] == straight[name]).all()) for name in straight)


def _decoded_scores(scores: dict) -> dict:
    """The scores of the decoded text (the NLL differs in the last float bits: reduction order)."""
    return {k: v for k, v in scores.items() if k not in ("training", "predictions_file", "nll")}


def test_two_process_finetune_selects_like_one_process(
    finetune_settings: list[str], tmp_path: Path
) -> None:
    """Selection decodes on the main process with the unwrapped model (DDP has no ``generate``)
    and broadcasts early stopping: same evaluations, best step and scores as 1 process.

    Equality needs the same random streams, so the model is a barto-tiny saved without
    dropout (1 and 2 processes draw dropout masks differently); the next test runs the
    preset's default dropout on 2 processes.
    """
    from seq2seq_es.models.loading import save_seq2seq
    from seq2seq_es.models.presets import build_model
    from seq2seq_es.tokenizer.save import load_tokenizer_folder

    tokenizer_dir = next(
        s.split("=", 1)[1] for s in finetune_settings if s.startswith("tokenizer=")
    )
    tokenizer = load_tokenizer_folder(tokenizer_dir)
    save_seq2seq(
        build_model("barto-tiny", tokenizer, seed=3, dropout=0.0), tokenizer, tmp_path / "start"
    )
    settings = [*finetune_settings, f"model={tmp_path / 'start'}"]
    run_cli(["finetune", f"output_dir={tmp_path / 'one'}", *settings])
    run_cli(["finetune", f"output_dir={tmp_path / 'two'}", *settings], launcher=LAUNCH)
    one, two = (
        json.loads((tmp_path / run / "scores.json").read_text(encoding="utf-8"))
        for run in ("one", "two")
    )
    assert one["training"]["selection"] == two["training"]["selection"]
    assert one["training"]["steps"] == two["training"]["steps"]
    assert _decoded_scores(one) == _decoded_scores(two)
    assert two["nll"]["nll_per_token"] == pytest.approx(one["nll"]["nll_per_token"], rel=1e-6)
    assert (tmp_path / "one" / "predictions.jsonl").read_text(encoding="utf-8") == (
        tmp_path / "two" / "predictions.jsonl"
    ).read_text(encoding="utf-8")
    evaluations = [
        {k: v for k, v in json.loads(line).items() if k.startswith(("step", "validation_", "best"))}
        for run in ("one", "two")
        for line in (tmp_path / run / "metrics.jsonl").read_text().splitlines()
        if "validation_chrf.score" in line
    ]
    assert evaluations[: len(evaluations) // 2] == evaluations[len(evaluations) // 2 :]
    assert (
        not (tmp_path / "two" / "best_model").exists()
        and (tmp_path / "two" / "model" / "config.json").is_file()
    )


@pytest.mark.xdist_group(DDP_REFERENCES)
def test_two_process_finetune_with_default_dropout_selects_and_saves(
    ddp_finetune: tuple[Path, str],
) -> None:
    """The preset's default dropout (0.1), 2 processes, selection + early stopping: no crash, one
    model."""
    run, stderr = ddp_finetune
    scores = json.loads((run / "scores.json").read_text(encoding="utf-8"))
    assert scores["training"]["selection"]["best"] is not None
    assert (run / "model" / "config.json").is_file()
    assert "Traceback" not in stderr
