"""The tiny BERT row: MLM pretraining through the shared loop, then a BERT2BERT warm start from
it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from huggingface_hub import ModelCard
from transformers import AutoModelForMaskedLM, BertForMaskedLM, EncoderDecoderModel
from typer.testing import CliRunner

from seq2seq_es.cli import app
from seq2seq_es.models.loading import load_seq2seq

# transformers warns on every EncoderDecoderModel loss about a v4.12 change; it is not about us.
pytestmark = pytest.mark.filterwarnings("ignore:Version v4.12.0 introduces:FutureWarning")
runner = CliRunner()


def _ok(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def bert_run(tiny_pretrain: list[str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bert-tiny pretrained for 12 steps with the preset's defaults (MLM 0.15, 80/10/10, dropout
    0.1)."""
    out = tmp_path_factory.mktemp("bert") / "pretrain"
    _ok(["pretrain", *tiny_pretrain, "model=bert-tiny", f"output_dir={out}", "optim.steps=12"])
    return out


def test_mlm_pretraining_learns_and_saves_a_masked_lm_with_its_card(bert_run: Path) -> None:
    losses = [
        json.loads(line)["loss"] for line in (bert_run / "metrics.jsonl").read_text().splitlines()
    ]
    assert len(losses) == 12 and sum(losses[-3:]) < sum(losses[:3])
    model = AutoModelForMaskedLM.from_pretrained(str(bert_run / "model"))
    assert isinstance(model, BertForMaskedLM) and model.config.hidden_size == 128
    summary = json.loads((bert_run / "summary.json").read_text(encoding="utf-8"))
    assert summary["validation_loss"] < losses[0] and "validation_encoder_gain" not in summary
    assert summary["corpus_tokens_seen"] == 12 * 8 * 30, "steps × batch × (seq_len - [CLS], [SEP])"
    assert summary["tokens_per_s"] > 0
    card = ModelCard.load(bert_run / "model" / "README.md")
    assert card.data.pipeline_tag == "fill-mask" and card.data.model_name == "bert-tiny"
    assert (
        "masked language modelling" in card.text
        and "AutoModelForMaskedLM.from_pretrained" in card.text
    )
    assert "model bert2bert" in card.text and "Only 0.5M parameters" in card.text  # vocabulary 385


def test_bert2bert_warm_starts_from_the_pretrained_bert_generates_and_finetunes(
    bert_run: Path, tiny_data: Path, tmp_path: Path
) -> None:
    warm = tmp_path / "b2b"
    _ok(["model", "bert2bert", str(bert_run / "model"), "--output", str(warm), "--share"])
    assert ModelCard.load(warm / "README.md").data.model_name == "bert-tiny2bert-tiny-shared"
    model, tokenizer = load_seq2seq(warm)
    assert (
        isinstance(model, EncoderDecoderModel)
        and model.config.decoder_start_token_id == tokenizer.cls_token_id
    )
    torch.testing.assert_close(
        model.encoder.embeddings.word_embeddings.weight,
        AutoModelForMaskedLM.from_pretrained(
            str(bert_run / "model")
        ).bert.embeddings.word_embeddings.weight,
    )
    batch = tokenizer(["el niño come pan", "la casa grande"], return_tensors="pt", padding=True)
    generated = model.eval().generate(**batch, max_new_tokens=5)
    assert generated.shape[0] == 2 and bool((generated[:, 0] == tokenizer.cls_token_id).all())

    out = tmp_path / "ft"
    _ok(
        [
            "finetune",
            f"task={tiny_data / 'copy_task.yaml'}",
            f"data_dir={tiny_data}",
            f"model={warm}",
            f"output_dir={out}",
            "optim.steps=6",
            "optim.batch_size=8",
            "max_eval_examples=4",
            "bootstrap_samples=10",
            "engine.measure_mfu=false",
            "engine.tensorboard=false",
        ]
    )
    card = ModelCard.load(out / "model" / "README.md")
    assert card.data.model_name == "bert-tiny2bert-tiny-shared-copy" and card.data.eval_results


def test_an_encoder_only_preset_cannot_be_finetuned_directly(
    tiny_data: Path, tiny_tokenizer: Path, tmp_path: Path
) -> None:
    result = runner.invoke(
        app,
        [
            "finetune",
            f"task={tiny_data / 'copy_task.yaml'}",
            f"data_dir={tiny_data}",
            "model=bert-tiny",
            f"tokenizer={tiny_tokenizer}",
            f"output_dir={tmp_path / 'x'}",
        ],
    )
    assert result.exit_code == 2 and "model bert2bert" in result.output, result.output
