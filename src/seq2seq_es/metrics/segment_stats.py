"""Per-segment sufficient statistics: the one shape every corpus metric is reduced to.

Why: a corpus metric is a function of a *sum* over segments of some per-segment
numbers — BLEU of clipped n-gram matches and lengths, chrF of character n-gram
counts, corpus SARI of add/keep/delete counts, and a mean-of-sentences metric
(ROUGE, METEOR, F1) of the sentence scores themselves. Text is tokenized once, into
an ``(n_segments, n_columns)`` array; a bootstrap resample or a randomization trial
is then a weighted sum of rows (one matrix product for all resamples), never a
re-tokenization. This is the trick sacreBLEU's own significance tests use
(``_extract_corpus_statistics``); here it is vectorized over resamples too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

#: Turns summed statistics ``(n_resamples, n_columns)`` and the number of segments
#: into one score array ``(n_resamples,)`` per reported score name.
ScoreFromSums = Callable[[np.ndarray, int], dict[str, np.ndarray]]


@dataclass(frozen=True)
class SegmentStats:
    """One metric's statistics on one system output, and how to score their sums."""

    metric: str
    signature: str
    stats: np.ndarray
    score_from_sums: ScoreFromSums

    @property
    def n_segments(self) -> int:
        return int(self.stats.shape[0])

    def scores_of_sums(self, sums: np.ndarray) -> dict[str, np.ndarray]:
        """Scores of several weighted sums of the segment statistics at once."""
        return self.score_from_sums(np.atleast_2d(sums), self.n_segments)

    def corpus_scores(self) -> dict[str, float]:
        """The metric on the whole corpus (every segment counted once)."""
        values = self.scores_of_sums(self.stats.sum(axis=0, keepdims=True))
        return {name: float(value[0]) for name, value in values.items()}


def mean_scores(names: tuple[str, ...]) -> ScoreFromSums:
    """Aggregator for metrics that are a mean of sentence scores (stored ×100)."""

    def score(sums: np.ndarray, n: int) -> dict[str, np.ndarray]:
        return {name: sums[:, k] / n for k, name in enumerate(names)}

    return score


def mean_of_sentence_scores(
    metric: str, signature: str, names: tuple[str, ...], sentence_scores: np.ndarray
) -> SegmentStats:
    """SegmentStats for an ``(n, len(names))`` array of sentence scores already ×100."""
    scores = np.asarray(sentence_scores, dtype=np.float64).reshape(-1, len(names))
    return SegmentStats(metric, signature, scores, mean_scores(names))
