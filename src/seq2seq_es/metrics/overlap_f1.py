"""Exact match and bag-of-words F1 on normalised Spanish text (QA and dialogue).

One normalisation for both tasks, ``spanish_text.normalize_answer``: the SQuAD v1.1
evaluation script's (lower-case, remove punctuation, remove articles, collapse
whitespace) with the Spanish article list used by MLQA's evaluation script for
``es`` (el, la, los, las, un, una, unos, unas) and Unicode punctuation (¿ ¡ « »).

* QA (``qa``): exact match = normalised strings equal; token F1 = F1 of the bags of
  normalised words; each is the maximum over the reference answers, then averaged
  (SQuAD/MLQA protocol), ×100.
* Dialogue (``unigram-f1``): the same word-bag F1 against the best reference,
  averaged — the "unigram F1" of dialogue papers (ParlAI's ``F1Metric`` does the
  same with English articles). It is the QA token F1 under the dialogue name; both
  names exist so that a task's metric list reads as its literature does.

An empty normalised prediction or reference scores F1 0 (no overlap), as in the
SQuAD v1.1 and MLQA scripts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from seq2seq_es.metrics.segment_stats import SegmentStats, mean_of_sentence_scores
from seq2seq_es.metrics.spanish_text import normalize_answer

_NORMALISATION = "lc+no-punct+no-articles-es"


def token_f1(prediction: str, reference: str) -> float:
    """F1 of the bags of normalised words, in [0, 1]."""
    predicted, wanted = normalize_answer(prediction).split(), normalize_answer(reference).split()
    common = sum((Counter(predicted) & Counter(wanted)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(wanted)
    return 2 * precision * recall / (precision + recall)


def exact_match(prediction: str, reference: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(reference))


def qa_stats(
    predictions: Sequence[str], references: Sequence[Sequence[str]], metric: str = "qa"
) -> SegmentStats:
    """Exact match and token F1 (best reference each), per example ×100."""
    rows = [
        [100.0 * max(exact_match(p, r) for r in refs), 100.0 * max(token_f1(p, r) for r in refs)]
        for p, refs in zip(predictions, references, strict=True)
    ]
    signature = f"qa|norm:{_NORMALISATION}|em+token-f1|refs:max|agg:mean"
    return mean_of_sentence_scores(metric, signature, ("exact_match", "token_f1"), np.asarray(rows))


def unigram_f1_stats(
    predictions: Sequence[str], references: Sequence[Sequence[str]], metric: str = "unigram-f1"
) -> SegmentStats:
    """Dialogue unigram F1 (best reference), per example ×100."""
    scores = [
        100.0 * max(token_f1(p, r) for r in refs)
        for p, refs in zip(predictions, references, strict=True)
    ]
    signature = f"unigram-f1|norm:{_NORMALISATION}|refs:max|agg:mean"
    return mean_of_sentence_scores(metric, signature, ("f1",), np.asarray(scores))
