"""The ``score`` command: predictions.jsonl → scores.json."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from seq2seq_es.config import StrictModel
from seq2seq_es.files import write_json
from seq2seq_es.metrics.scoring import score_predictions


class ScoreConfig(StrictModel):
    predictions: str = "runs/predict/predictions.jsonl"
    metrics: list[str] = Field(default_factory=lambda: ["bleu", "chrf", "rouge"])
    output: str | None = Field(None, description="scores.json path (default: beside the predictions).")


def run_score(config: ScoreConfig) -> tuple[dict[str, Any], Path]:
    scores = score_predictions(config.predictions, config.metrics)
    output = Path(config.output) if config.output else Path(config.predictions).with_name("scores.json")
    write_json(output, scores)
    return scores, output
