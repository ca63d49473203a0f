"""Config schemas of the ``score`` and ``compare`` commands (light: pydantic only)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from seq2seq_es.config import MAX_RESAMPLES, Seed, StrictModel
from seq2seq_es.run_record import read_run_record


class ScoreConfig(StrictModel):
    predictions: str = Field(
        "runs/predict/predictions.jsonl",
        description="predictions.jsonl (or a .txt with one prediction per line).",
    )
    references: str | None = Field(
        None, description="Separate references: JSONL joined on id, or .txt by line."
    )
    metrics: list[str] = Field(default_factory=lambda: ["bleu", "chrf", "rouge"])
    output: str | None = Field(
        None,
        description="scores.json path (default: beside the predictions; in score/ there when "
        "their folder is another command's run).",
    )
    bootstrap_samples: int = Field(
        1000, ge=0, le=MAX_RESAMPLES, description="Bootstrap resamples for the CIs (0: no CIs)."
    )
    confidence: float = Field(0.95, gt=0.0, lt=1.0)
    seed: Seed = 12345
    allow_empty_predictions: bool = Field(
        False, description="Score a file whose predictions are all empty."
    )

    def output_path(self) -> Path:
        """Where the scores go: ``output``, else ``scores.json`` beside the predictions, or
        ``score/scores.json`` there when that folder is another command's run (a ``finetune``
        run's scores.json holds more than this score: it must not be replaced)."""
        if self.output:
            return Path(self.output)
        folder = Path(self.predictions).parent
        record = read_run_record(folder)
        if record is not None and record.command != "score":
            return folder / "score" / "scores.json"
        return folder / "scores.json"


class CompareConfig(StrictModel):
    systems: list[str] = Field(
        default_factory=list, description="Two or more prediction files; the first is the baseline."
    )
    references: str | None = Field(
        None, description="Separate references for every system (JSONL by id, or .txt)."
    )
    metrics: list[str] = Field(default_factory=lambda: ["bleu", "chrf", "rouge"])
    bootstrap_samples: int = Field(1000, ge=10, le=MAX_RESAMPLES)
    randomization_trials: int = Field(10000, ge=10, le=MAX_RESAMPLES)
    confidence: float = Field(0.95, gt=0.0, lt=1.0)
    alpha: float = Field(0.05, gt=0.0, lt=1.0)
    seed: Seed = 12345
    output_dir: str = "runs/compare"
