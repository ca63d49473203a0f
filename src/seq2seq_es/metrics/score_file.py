"""Score one predictions file: predictions → scores.json (values, CIs, signatures) + scores.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seq2seq_es.files import atomic_write, write_json
from seq2seq_es.metrics.config import ScoreConfig
from seq2seq_es.metrics.report import scores_markdown
from seq2seq_es.metrics.scoring import score_predictions


def score_file(config: ScoreConfig) -> tuple[dict[str, Any], Path]:
    """Score, write scores.json and a Markdown report (scores.md) beside it."""
    scores = score_predictions(
        config.predictions,
        config.metrics,
        config.references,
        config.bootstrap_samples,
        config.confidence,
        config.seed,
        config.allow_empty_predictions,
    )
    output = config.output_path()
    write_json(output, scores)
    with atomic_write(output.with_suffix(".md")) as handle:
        handle.write(scores_markdown(scores))
    return scores, output
