"""The ``score`` command: predictions → scores.json (values, CIs, signatures) + scores.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from seq2seq_es.config import StrictModel
from seq2seq_es.files import atomic_write, write_json
from seq2seq_es.metrics.report import scores_markdown
from seq2seq_es.metrics.scoring import score_predictions


class ScoreConfig(StrictModel):
    predictions: str = Field("runs/predict/predictions.jsonl",
                             description="predictions.jsonl (or a .txt with one prediction per line).")
    references: str | None = Field(None, description="Separate references: JSONL joined on id, or .txt by line.")
    metrics: list[str] = Field(default_factory=lambda: ["bleu", "chrf", "rouge"])
    output: str | None = Field(None, description="scores.json path (default: beside the predictions).")
    bootstrap_samples: int = Field(1000, ge=0, description="Bootstrap resamples for the CIs (0: no CIs).")
    confidence: float = Field(0.95, gt=0.0, lt=1.0)
    seed: int = 12345
    allow_empty_predictions: bool = Field(False, description="Score a file whose predictions are all empty.")


def run_score(config: ScoreConfig) -> tuple[dict[str, Any], Path]:
    """Score, write scores.json and a Markdown report (scores.md) beside it."""
    scores = score_predictions(config.predictions, config.metrics, config.references,
                               config.bootstrap_samples, config.confidence, config.seed,
                               config.allow_empty_predictions)
    output = Path(config.output) if config.output else Path(config.predictions).with_name("scores.json")
    write_json(output, scores)
    with atomic_write(output.with_suffix(".md")) as handle:
        handle.write(scores_markdown(scores))
    return scores, output
