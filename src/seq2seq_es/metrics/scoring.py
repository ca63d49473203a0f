"""Corpus metrics over a predictions file, each with a signature saying how it was computed.

Minimal set for the walking skeleton: sacreBLEU BLEU and chrF (with sacreBLEU's own
signatures) and ROUGE-1/2/L with a Unicode-aware tokenizer, so that Spanish words
with accents or ñ are not cut apart as ``rouge-score``'s default ``[a-z0-9]`` does.
"""

from __future__ import annotations

import importlib.metadata
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sacrebleu
from rouge_score import rouge_scorer

from seq2seq_es.errors import DataError
from seq2seq_es.files import read_jsonl

_WORD = re.compile(r"\w+", re.UNICODE)


class UnicodeWordTokenizer:
    """Lower-cased ``\\w+`` words: keeps á, é, ñ, ü inside words (no stemming)."""

    def tokenize(self, text: str) -> list[str]:
        return _WORD.findall(text.lower())


def bleu(predictions: Sequence[str], references: Sequence[Sequence[str]]) -> dict[str, Any]:
    streams = _reference_streams(references)
    result = sacrebleu.metrics.BLEU()
    score = result.corpus_score(list(predictions), streams)
    return {"score": score.score, "signature": str(result.get_signature())}


def chrf(predictions: Sequence[str], references: Sequence[Sequence[str]]) -> dict[str, Any]:
    streams = _reference_streams(references)
    result = sacrebleu.metrics.CHRF()
    score = result.corpus_score(list(predictions), streams)
    return {"score": score.score, "signature": str(result.get_signature())}


def rouge(predictions: Sequence[str], references: Sequence[Sequence[str]]) -> dict[str, Any]:
    """Mean F1 ×100 of ROUGE-1/2/L; with several references, the best one per example."""
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], tokenizer=UnicodeWordTokenizer())
    totals = {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    for prediction, refs in zip(predictions, references, strict=True):
        scores = scorer.score_multi(list(refs), prediction)
        for key in totals:
            totals[key] += scores[key].fmeasure
    n = max(len(predictions), 1)
    signature = f"rouge-score {importlib.metadata.version('rouge-score')}|tok:unicode-words-lower|stem:no|agg:mean-f1|refs:best"
    return {**{k: 100 * v / n for k, v in totals.items()}, "signature": signature}


METRICS = {"bleu": bleu, "chrf": chrf, "rouge": rouge}


def _reference_streams(references: Sequence[Sequence[str]]) -> list[list[str]]:
    """sacreBLEU wants one stream per reference slot; pad missing slots with the first reference."""
    width = max(len(r) for r in references)
    return [[refs[k] if k < len(refs) else refs[0] for refs in references] for k in range(width)]


def score_predictions(path: str | Path, metrics: Sequence[str]) -> dict[str, Any]:
    """Score a predictions.jsonl file; returns ``{metric: {...}, "n": count}``."""
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise DataError(f"Unknown metric(s) {unknown}. Valid metrics: {', '.join(sorted(METRICS))}.")
    records = read_jsonl(path, required=("prediction", "reference"))
    if not records:
        raise DataError(f"{path}: no predictions to score.")
    predictions = [str(r["prediction"]) for r in records]
    references = [[str(x) for x in r.get("references") or [r["reference"]]] for r in records]
    scores: dict[str, Any] = {name: METRICS[name](predictions, references) for name in metrics}
    scores["n"] = len(records)
    scores["predictions_file"] = str(path)
    return scores
