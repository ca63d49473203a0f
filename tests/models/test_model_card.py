"""The model card: a README.md the Hugging Face Hub parses (YAML metadata, model-index) with
scores and CIs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from huggingface_hub import ModelCard
from tests.conftest import write_jsonl

from seq2seq_es.errors import ConfigError
from seq2seq_es.metrics.scoring import score_predictions
from seq2seq_es.models.model_card import render_model_card, write_model_card


@pytest.fixture
def scores(tmp_path: Path) -> dict[str, Any]:
    rows = [
        {"id": str(k), "prediction": p, "reference": r}
        for k, (p, r) in enumerate(
            [
                ("el niño come pan", "el niño come pan"),
                ("la casa", "la casa grande"),
                ("qué día", "qué día tan bonito"),
            ]
        )
    ]
    return score_predictions(
        write_jsonl(tmp_path / "p.jsonl", rows), ["rouge", "bleu"], bootstrap_samples=50
    )


def facts(scores: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "barto-tiny-squad-es-qa",
        "base_model": "vgaraujov/bart-base-spanish",
        "license": "apache-2.0",
        "datasets": ["squad-es"],
        "description": "A tiny BARTO fine-tuned for generative QA.",
        "architecture": {"family": "bart", "parameters": 2_100_000},
        "training": {"objective": "cross-entropy", "steps": 600, "lr": 0.001},
        "results": [
            {
                "task_type": "question-answering",
                "task_name": "Generative QA",
                "dataset_name": "SQuAD-es",
                "dataset_type": "squad-es",
                "split": "validation",
                "scores": scores,
                "metrics": ["rouge.rouge1", "bleu"],
            }
        ],
        "limitations": ["2M parameters: answers are mostly wrong."],
    }


def test_card_loads_back_with_huggingface_hub(tmp_path: Path, scores: dict[str, Any]) -> None:
    path = write_model_card(tmp_path / "model", facts(scores))
    assert path == tmp_path / "model" / "README.md"
    card = ModelCard.load(path)
    data = card.data
    assert (
        data.language == ["es"] and data.license == "apache-2.0" and data.datasets == ["squad-es"]
    )
    assert (
        data.base_model == "vgaraujov/bart-base-spanish"
        and data.pipeline_tag == "text2text-generation"
    )
    results = {(r.metric_type, r.metric_name): r for r in data.eval_results}
    assert set(results) == {
        ("rouge", "ROUGE (Spanish words, no stemming) rouge1"),
        ("bleu", "sacreBLEU"),
    }
    rouge = results[("rouge", "ROUGE (Spanish words, no stemming) rouge1")]
    assert rouge.metric_value == pytest.approx(scores["rouge"]["rouge1"], abs=1e-4)
    assert rouge.dataset_split == "validation" and rouge.task_type == "question-answering"
    assert data.model_name == "barto-tiny-squad-es-qa"


def test_card_body_has_intervals_signatures_limitations(scores: dict[str, Any]) -> None:
    text = render_model_card(facts(scores))
    low, high = scores["rouge"]["ci"]["rouge1"]
    assert f"| {scores['rouge']['rouge1']:.2f} | [{low:.2f}, {high:.2f}] |" in text
    signature = scores["rouge"]["signature"].replace("|", "\\|")
    assert f"`{signature}`" in text, "signatures escaped so the table keeps its columns"
    assert "| parameters | 2,100,000 |" in text and "answers are mostly wrong" in text
    assert "rouge2" not in text.split("## Evaluation")[1].split("## Limitations")[0], (
        "only the requested scores"
    )
    bare = render_model_card({"name": "x"})
    assert "No evaluation was run" in bare and "model-index" not in bare


def test_card_needs_a_name() -> None:
    with pytest.raises(ConfigError, match="name"):
        render_model_card({"license": "apache-2.0"})
