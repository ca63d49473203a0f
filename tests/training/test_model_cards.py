"""Model cards in every trained model folder: pretrain, finetune and a LoRA finetune (merged
model/)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from huggingface_hub import ModelCard
from typer.testing import CliRunner

from seq2seq_es.cli import app

runner = CliRunner()


def _ok(args: list[str]) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output


def _expected_results(scores: dict[str, Any]) -> list[tuple[str, float]]:
    """(metric, value) of every score in scores.json that carries a signature, as the card rounds
    them."""
    return sorted(
        (metric, round(value, 4))
        for metric, entry in scores.items()
        if isinstance(entry, dict) and "signature" in entry
        for value in entry.values()
        if isinstance(value, int | float) and not isinstance(value, bool)
    )


def _card_results(card: ModelCard) -> list[tuple[str, float]]:
    return sorted((r.metric_type, r.metric_value) for r in card.data.eval_results)


@pytest.fixture(scope="module")
def pretrained(tiny_pretrain: list[str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cards") / "pretrain"
    _ok(["pretrain", *tiny_pretrain, f"output_dir={out}", "optim.steps=4"])
    return out


def test_pretrain_card_says_data_objective_steps_tokens_and_losses(
    pretrained: Path, tiny_data: Path
) -> None:
    card = ModelCard.load(pretrained / "model" / "README.md")
    summary = json.loads((pretrained / "summary.json").read_text(encoding="utf-8"))
    assert card.data.model_name == "barto-tiny" and card.data.language == ["es"]
    assert card.data.pipeline_tag == "text2text-generation" and not card.data.eval_results
    assert card.data.datasets[0].startswith(str(tiny_data / "pretrain"))
    text = card.text
    assert "BART denoising (fairseq noise)" in text and "| steps | 4 |" in text
    assert (
        f"| corpus tokens seen | {summary['corpus_tokens_seen']:,} |" in text
        and summary["corpus_tokens_seen"] == 4 * 8 * 30
    )
    assert (
        f"| validation loss (4 held-out blocks) | {round(summary['validation_loss'], 4)} |" in text
    )
    assert f"| {round(summary['final_train_loss'], 4)} |" in text
    assert f"{round(summary['validation_encoder_gain'], 4)} |" in text
    assert "Only 1.1M parameters" in text and "Pretrained only" in text  # vocabulary 385


def test_finetune_and_lora_cards_carry_the_scores_of_scores_json(
    pretrained: Path, tiny_data: Path, tmp_path: Path
) -> None:
    common = [
        f"task={tiny_data / 'copy_task.yaml'}",
        f"data_dir={tiny_data}",
        "optim.batch_size=8",
        "optim.warmup_steps=2",
        "max_eval_examples=8",
        "bootstrap_samples=20",
        "engine.measure_mfu=false",
        "engine.tensorboard=false",
    ]
    full = tmp_path / "full"
    _ok(
        [
            "finetune",
            *common,
            f"model={pretrained / 'model'}",
            f"output_dir={full}",
            "optim.steps=8",
        ]
    )
    scores = json.loads((full / "scores.json").read_text(encoding="utf-8"))
    card = ModelCard.load(full / "model" / "README.md")
    assert card.data.model_name == "barto-tiny-copy", "named after the pretrained model's card"
    assert _card_results(card) == _expected_results(scores) and len(card.data.eval_results) >= 8
    assert {r.dataset_split for r in card.data.eval_results} == {"validation"}
    low, high = scores["chrf"]["ci"]["score"]
    assert f"| {scores['chrf']['score']:.2f} | [{low:.2f}, {high:.2f}] |" in card.text
    assert "full fine-tuning" in card.text and "| steps | 8 of 8 planned |" in card.text

    lora = tmp_path / "lora"
    _ok(
        [
            "finetune",
            *common,
            f"model={full / 'model'}",
            f"output_dir={lora}",
            "optim.steps=4",
            "adapter.kind=lora",
        ]
    )
    scores = json.loads((lora / "scores.json").read_text(encoding="utf-8"))
    card = ModelCard.load(lora / "model" / "README.md")
    assert not (lora / "adapter" / "README.md").exists() or "seq2seq-es" not in (
        lora / "adapter" / "README.md"
    ).read_text(encoding="utf-8"), "the card goes to the merged model/"
    assert card.data.model_name == "barto-tiny-copy-copy" and "lora" in card.data.tags
    assert _card_results(card) == _expected_results(scores)
    assert "LoRA (r 8, alpha 16" in card.text and "merged into these weights" in card.text
