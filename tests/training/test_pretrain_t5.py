"""T5S-style pretraining: span corruption on a unigram vocabulary with sentinels, through the
shared loop."""

from __future__ import annotations

import json
from pathlib import Path

from transformers import AutoModelForSeq2SeqLM, T5ForConditionalGeneration
from typer.testing import CliRunner

from seq2seq_es.cli import app


def test_t5_tiny_pretrains_with_exact_lengths(
    tiny_data: Path, tiny_unigram_tokenizer: Path, tmp_path: Path
) -> None:
    out = tmp_path / "pre"
    result = CliRunner().invoke(
        app,
        [
            "pretrain",
            f"data={tiny_data / 'pretrain'}",
            f"tokenizer={tiny_unigram_tokenizer}",
            f"output_dir={out}",
            "model=t5s-tiny",
            "seq_len=32",
            "validation_blocks=4",
            "optim.steps=12",
            "optim.batch_size=8",
            "optim.optimizer=adamwscale",
            "optim.lr=2e-2",
            "optim.schedule=cosine",
            "optim.warmup_steps=2",
            "engine.log_every=1",
            "engine.measure_mfu=false",
        ],
    )
    assert result.exit_code == 0, result.output
    losses = [json.loads(line)["loss"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(losses) == 12 and losses[-1] < losses[0]
    model = AutoModelForSeq2SeqLM.from_pretrained(str(out / "model"))
    assert isinstance(model, T5ForConditionalGeneration) and model.config.dropout_rate == 0.0
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["validation_loss"] < losses[0]
    # The encoder's share of the loss is logged: finite, and zero only if the encoder is ignored.
    assert abs(summary["validation_encoder_gain"]) < summary["validation_loss"]
