"""``pretrain`` refuses what cannot work before doing any, and leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from seq2seq_es.cli import app

runner = CliRunner()


def test_a_corpus_too_small_leaves_nothing_and_the_corrected_command_runs(
    tiny_pretrain: list[str], tmp_path: Path
) -> None:
    out = tmp_path / "run"
    failed = runner.invoke(
        app, ["pretrain", *tiny_pretrain, "validation_blocks=100000", f"output_dir={out}"]
    )
    assert failed.exit_code == 2 and "corpus too small" in failed.output, failed.output
    assert not out.exists()
    done = runner.invoke(app, ["pretrain", *tiny_pretrain, "optim.steps=2", f"output_dir={out}"])
    assert done.exit_code == 0, done.output
    assert (out / "model" / "config.json").is_file()


def test_seq_len_beyond_the_models_positions_names_them(
    tiny_pretrain: list[str], tmp_path: Path
) -> None:
    out = tmp_path / "long"
    result = runner.invoke(app, ["pretrain", *tiny_pretrain, "seq_len=4096", f"output_dir={out}"])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "seq_len=4096" in text and "512 positions" in text and "Traceback" not in text
    assert not out.exists()


def test_a_diverging_loss_names_the_step_and_the_checkpoint(
    tiny_pretrain: list[str], tmp_path: Path
) -> None:
    out = tmp_path / "diverged"
    result = runner.invoke(
        app,
        [
            "pretrain",
            *tiny_pretrain,
            "optim.lr=1e12",
            "optim.warmup_steps=0",
            "optim.steps=30",
            "engine.checkpoint_every=1",
            f"output_dir={out}",
        ],
    )
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "diverged" in text and "at step" in text and "Traceback" not in text, text
    assert str(out / "checkpoints" / "step-") in text, text
