"""A shared BERT2BERT goes through `seq2seq-es finetune` and comes back still shared."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from seq2seq_es.cli import app
from seq2seq_es.models.bert2bert import build_bert2bert_checkpoint
from seq2seq_es.models.loading import load_seq2seq


def test_shared_bert2bert_finetunes_and_stays_shared(
    bert_dir: Path, tiny_data: Path, tmp_path: Path
) -> None:
    build_bert2bert_checkpoint(bert_dir, tmp_path / "b2b", share=True)
    out = tmp_path / "ft"
    result = CliRunner().invoke(
        app,
        [
            "finetune",
            f"task={tiny_data / 'copy_task.yaml'}",
            f"data_dir={tiny_data}",
            f"model={tmp_path / 'b2b'}",
            f"output_dir={out}",
            "optim.steps=4",
            "optim.batch_size=4",
            "max_eval_examples=4",
            "bootstrap_samples=10",
            "engine.measure_mfu=false",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads((out / "scores.json").read_text(encoding="utf-8"))["n"] == 4
    model, _ = load_seq2seq(out / "model")
    encoder_weight = model.encoder.encoder.layer[0].attention.self.query.weight
    decoder_weight = model.decoder.bert.encoder.layer[0].attention.self.query.weight
    assert encoder_weight is decoder_weight, "the Share variant is still shared after fine-tuning"
