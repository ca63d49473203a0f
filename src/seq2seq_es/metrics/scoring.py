"""The metric registry and ``score_predictions``: a predictions file → scores with CIs.

Each metric is one row of ``METRICS``: a name (what tasks list in ``metrics:`` and
what ``--metric`` takes), a one-line description, and a function from the aligned
input to per-segment statistics (``SegmentStats``). Scoring a file computes every
metric's corpus scores, a bootstrap percentile interval for each score, and the
signature that says how the number was computed (tokenizer, stemmer, variant,
library version), in the spirit of sacreBLEU's signatures.

Score file layout (``scores.json``)::

    {"rouge": {"rouge1": 41.2, ..., "ci": {"rouge1": [40.1, 42.3], ...},
               "signature": "rouge|variant:spanish|tok:...|stem:none|..."},
     "bleu": {"score": 23.4, "ci": {"score": [...]}, "signature": "nrefs:1|case:mixed|..."},
     "n": 871, "empty_predictions": 0, "predictions_file": "...",
     "bootstrap": {"samples": 1000, "confidence": 0.95, "seed": 12345, "method": "percentile"}}
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seq2seq_es.errors import DataError
from seq2seq_es.metrics.bootstrap import confidence_intervals
from seq2seq_es.metrics.meteor_spanish import meteor_stats
from seq2seq_es.metrics.overlap_f1 import qa_stats, unigram_f1_stats
from seq2seq_es.metrics.prediction_files import ScoringInput, read_scoring_input
from seq2seq_es.metrics.rouge_spanish import (
    PAPER_COMPATIBLE,
    SPANISH,
    SPANISH_SNOWBALL,
    rouge_stats,
)
from seq2seq_es.metrics.sacrebleu_metrics import bleu_stats, chrf_stats
from seq2seq_es.metrics.sari import sari_evaluate_stats, sari_stats
from seq2seq_es.metrics.segment_stats import SegmentStats


@dataclass(frozen=True)
class MetricSpec:
    name: str
    description: str
    compute: Callable[[ScoringInput], SegmentStats]
    needs_sources: bool = False


def _sources(data: ScoringInput) -> list[str]:
    assert data.sources is not None  # checked by metric_stats
    return data.sources


METRICS: dict[str, MetricSpec] = {
    spec.name: spec
    for spec in (
        MetricSpec(
            "bleu",
            "sacreBLEU BLEU, 13a tokenization (comparable with published BLEU)",
            lambda d: bleu_stats(d.predictions, d.references),
        ),
        MetricSpec(
            "bleu-intl",
            "sacreBLEU BLEU, intl tokenization (splits ¿ ¡ « »)",
            lambda d: bleu_stats(d.predictions, d.references, tokenize="intl", metric="bleu-intl"),
        ),
        MetricSpec(
            "chrf",
            "sacreBLEU chrF (character 6-grams, beta 2)",
            lambda d: chrf_stats(d.predictions, d.references),
        ),
        MetricSpec(
            "rouge",
            "ROUGE-1/2/L/Lsum F, Spanish Unicode words, no stemming",
            lambda d: rouge_stats(d.predictions, d.references, SPANISH, "rouge"),
        ),
        MetricSpec(
            "rouge-snowball",
            "ROUGE-1/2/L/Lsum F, Spanish Unicode words + Snowball Spanish stemmer",
            lambda d: rouge_stats(d.predictions, d.references, SPANISH_SNOWBALL, "rouge-snowball"),
        ),
        MetricSpec(
            "rouge-paper",
            "paper-compatible ROUGE (rouge-score default: [a-z0-9] tokens, English Porter); "
            "wrong for Spanish, only for comparison with published numbers",
            lambda d: rouge_stats(d.predictions, d.references, PAPER_COMPATIBLE, "rouge-paper"),
        ),
        MetricSpec(
            "sari",
            "corpus SARI as EASSE (add/keep/delete F1 from corpus counts), 13a tokens (EASSE's "
            "default)",
            lambda d: sari_stats(_sources(d), d.predictions, d.references),
            needs_sources=True,
        ),
        MetricSpec(
            "sari-intl",
            "corpus SARI as EASSE, sacreBLEU intl tokens (splits Spanish ¿ ¡ « » off words)",
            lambda d: sari_stats(
                _sources(d), d.predictions, d.references, tokenize="intl", metric="sari-intl"
            ),
            needs_sources=True,
        ),
        MetricSpec(
            "sari-evaluate",
            "HF evaluate's SARI (mean of sentence scores), as the paper reports",
            lambda d: sari_evaluate_stats(_sources(d), d.predictions, d.references),
            needs_sources=True,
        ),
        MetricSpec(
            "meteor",
            "nltk METEOR, Snowball Spanish stems, no WordNet synonyms (offline)",
            lambda d: meteor_stats(d.predictions, d.references),
        ),
        MetricSpec(
            "unigram-f1",
            "dialogue unigram F1 (lower-case, no punctuation, no Spanish articles)",
            lambda d: unigram_f1_stats(d.predictions, d.references),
        ),
        MetricSpec(
            "qa",
            "QA exact match and token F1 (SQuAD/MLQA normalisation with Spanish articles)",
            lambda d: qa_stats(d.predictions, d.references),
        ),
    )
}


def check_metric_names(metrics: Sequence[str]) -> None:
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise DataError(f"Unknown metric(s) {unknown}. Valid metrics: {', '.join(METRICS)}.")
    if not metrics:
        raise DataError(f"No metric given. Valid metrics: {', '.join(METRICS)}.")


def metric_stats(data: ScoringInput, metrics: Sequence[str]) -> list[SegmentStats]:
    """Per-segment statistics of each named metric on one system's output."""
    check_metric_names(metrics)
    if data.sources is None:
        needing = [m for m in metrics if METRICS[m].needs_sources]
        if needing:
            raise DataError(
                f"{data.path}: metric(s) {needing} need the source text: add a 'source' field "
                "to every line (predictions.jsonl from `seq2seq-es predict` has it)."
            )
    return [METRICS[name].compute(data) for name in metrics]


def scores_with_intervals(
    stats: Sequence[SegmentStats], bootstrap_samples: int, confidence: float, seed: int
) -> dict[str, dict[str, Any]]:
    """``{metric: {score: value, "ci": {score: [low, high]}, "signature": ...}}``."""
    intervals = (
        confidence_intervals(
            list(stats), bootstrap_samples, confidence, np.random.default_rng(seed)
        )
        if bootstrap_samples > 0
        else [{} for _ in stats]
    )
    result: dict[str, dict[str, Any]] = {}
    for s, interval in zip(stats, intervals, strict=True):
        entry: dict[str, Any] = dict(s.corpus_scores())
        if interval:
            entry["ci"] = {name: [iv.low, iv.high] for name, iv in interval.items()}
        entry["signature"] = s.signature
        result[s.metric] = entry
    return result


def score_predictions(
    path: str | Path,
    metrics: Sequence[str],
    references: str | Path | None = None,
    bootstrap_samples: int = 1000,
    confidence: float = 0.95,
    seed: int = 12345,
    allow_empty_predictions: bool = True,
) -> dict[str, Any]:
    """Score one predictions file; see the module docstring for the layout.

    All-empty predictions are scored (as 0) by default, because fine-tuning scores
    early models that may output nothing; the ``score`` command refuses them unless told.
    """
    check_metric_names(metrics)
    data = read_scoring_input(path, references, allow_all_empty=allow_empty_predictions)
    scores: dict[str, Any] = scores_with_intervals(
        metric_stats(data, metrics), bootstrap_samples, confidence, seed
    )
    scores["n"] = len(data.predictions)
    scores["empty_predictions"] = data.empty_predictions
    scores["predictions_file"] = str(path)
    if references is not None:
        scores["references_file"] = str(references)
    if bootstrap_samples > 0:
        scores["bootstrap"] = {
            "samples": bootstrap_samples,
            "confidence": confidence,
            "seed": seed,
            "method": "percentile",
        }
    return scores
