"""T5S-style pretraining: span corruption on a unigram vocabulary with sentinels, through the
shared loop."""

from __future__ import annotations

import json
from pathlib import Path

from transformers import AutoModelForSeq2SeqLM, T5ForConditionalGeneration
from typer.testing import CliRunner

from seq2seq_es.cli import app

TINY_T5 = [
    "model=t5s-tiny",
    "seq_len=32",
    "validation_blocks=4",
    "optim.steps=12",
    "optim.batch_size=8",
]


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
            *TINY_T5,
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
    run_info = json.loads((out / "run_info.json").read_text(encoding="utf-8"))
    assert run_info["attn_implementation"] == "sdpa", "the default kernel, recorded as it ran"


def test_t5x_preset_pretrains_tiny_with_adafactor_z_loss_and_top_sentinels(
    tiny_data: Path, tmp_path: Path
) -> None:
    """configs/pretrain/t5s-base-t5x.yaml's recipe (Adafactor, z-loss, rsqrt, sentinels from
    the top of a vocabulary without extra ids) on a tiny model and vocabulary, on CPU."""
    from seq2seq_es.corpus.text_files import iter_texts
    from seq2seq_es.tokenizer.save import save_tokenizer
    from seq2seq_es.tokenizer.unigram import train_unigram

    tokenizer = tmp_path / "tok"
    save_tokenizer(train_unigram(iter_texts(tiny_data / "pretrain"), 400, extra_ids=0), tokenizer)
    out = tmp_path / "pre"
    result = CliRunner().invoke(
        app,
        [
            "pretrain",
            "-c",
            str(Path(__file__).resolve().parents[2] / "configs/pretrain/t5s-base-t5x.yaml"),
            f"data={tiny_data / 'pretrain'}",
            f"tokenizer={tokenizer}",
            f"output_dir={out}",
            *TINY_T5,
            "optim.grad_accum_steps=1",
            "optim.warmup_steps=4",
            "engine.mixed_precision='no'",
            "engine.compile=false",
            "engine.num_workers=0",
            "engine.log_every=1",
            "engine.eval_every=null",
            "engine.checkpoint_every=null",
            "engine.measure_mfu=false",
        ],
    )
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in records if "loss" in r]
    assert len(losses) == 12 and losses[-1] < losses[0]
    lrs = [r["lr"] for r in records if "lr" in r]
    # logged after the step: the lr of the next one; rsqrt holds 1e-2 for the warm-up, then decays
    assert lrs[:3] == [1e-2] * 3 and lrs[-1] < lrs[3] < 1e-2, lrs
    card = (out / "model" / "README.md").read_text(encoding="utf-8")
    assert "adafactor" in card and "z-loss 0.0001" in card and "top ids" in card
