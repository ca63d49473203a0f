"""Is system A really better than system B on the same references? Paired tests + Holm.

Both tests work on the per-segment statistics of the two systems (``SegmentStats``),
so any corpus metric — BLEU, chrF, corpus SARI, mean ROUGE — is tested exactly as it
is computed, and a test costs matrix products, not re-scorings.

Paired bootstrap (Koehn 2004): draw the same resamples of segments for both systems
and look at the distribution of ``δ* = score_A* − score_B*``. ``a_wins`` is Koehn's
"A better in x% of resamples". The p-value tests H0: δ = 0 by shifting the bootstrap
distribution to mean zero (Berg-Kirkpatrick et al. 2012, §2; Efron & Tibshirani
1993, §16.4): ``p = (1 + #{|δ* − mean(δ*)| ≥ |δ|}) / (B + 1)``, two-sided.

Approximate randomization (Noreen 1989; Riezler & Maxwell 2005): under H0 the two
outputs of a segment are exchangeable; each trial swaps every segment's pair with
probability 1/2 and recomputes both corpus scores;
``p = (1 + #{|δ_trial| ≥ |δ|}) / (R + 1)``.

Both count ties (``≥``), so two identical systems get p = 1. (sacreBLEU counts
strictly greater differences, so identical systems get p = 1/(R+1) there.)

Holm (1979) step-down correction for the family of comparisons of a leaderboard:
sort p ascending, ``p_adj(i) = max_{j≤i} min(1, (m − j + 1) · p(j))``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from seq2seq_es.metrics.bootstrap import chunk_size, resample_counts
from seq2seq_es.metrics.segment_stats import SegmentStats


@dataclass(frozen=True)
class PairedResult:
    """Test of one score of system A against system B."""

    score: str
    a: float
    b: float
    delta: float
    p_bootstrap: float
    a_wins: float
    p_randomization: float


def _check_pair(a: SegmentStats, b: SegmentStats) -> None:
    if a.n_segments != b.n_segments or a.metric != b.metric:
        raise ValueError("paired tests need the same metric on the same segments for both systems")


def paired_bootstrap(
    a: SegmentStats, b: SegmentStats, n_samples: int, rng: np.random.Generator
) -> dict[str, tuple[float, float]]:
    """``{score: (p_value, a_wins)}`` of the paired bootstrap test."""
    _check_pair(a, b)
    deltas: dict[str, list[np.ndarray]] = {}
    for counts in resample_counts(rng, a.n_segments, n_samples):
        sa, sb = a.scores_of_sums(counts @ a.stats), b.scores_of_sums(counts @ b.stats)
        for name in sa:
            deltas.setdefault(name, []).append(sa[name] - sb[name])
    observed_a, observed_b = a.corpus_scores(), b.corpus_scores()
    result = {}
    for name, chunks in deltas.items():
        delta_star = np.concatenate(chunks)
        delta = observed_a[name] - observed_b[name]
        extreme = np.abs(delta_star - delta_star.mean()) >= abs(delta) - 1e-12
        result[name] = ((1 + int(extreme.sum())) / (n_samples + 1), float(np.mean(delta_star > 0)))
    return result


def approximate_randomization(
    a: SegmentStats, b: SegmentStats, n_trials: int, rng: np.random.Generator
) -> dict[str, float]:
    """``{score: p_value}`` of the two-sided approximate randomization test."""
    _check_pair(a, b)
    total_a, total_b = a.stats.sum(axis=0), b.stats.sum(axis=0)
    difference = b.stats - a.stats
    observed_a, observed_b = a.corpus_scores(), b.corpus_scores()
    hits: dict[str, int] = {}
    step = chunk_size(a.n_segments)
    for start in range(0, n_trials, step):
        rows = min(step, n_trials - start)
        swap = (rng.random((rows, a.n_segments)) < 0.5).astype(np.float64)
        moved = swap @ difference  # what A gains (and B loses) by the swapped segments
        sa, sb = a.scores_of_sums(total_a + moved), b.scores_of_sums(total_b - moved)
        for name in sa:
            delta = abs(observed_a[name] - observed_b[name])
            hits[name] = hits.get(name, 0) + int(
                (np.abs(sa[name] - sb[name]) >= delta - 1e-12).sum()
            )
    return {name: (1 + count) / (n_trials + 1) for name, count in hits.items()}


def compare_systems(
    a: SegmentStats, b: SegmentStats, n_samples: int, n_trials: int, seed: int
) -> list[PairedResult]:
    """Both tests for every score of one metric; the seed fixes both tests' draws."""
    bootstrap = paired_bootstrap(a, b, n_samples, np.random.default_rng(seed))
    randomization = approximate_randomization(a, b, n_trials, np.random.default_rng(seed + 1))
    observed_a, observed_b = a.corpus_scores(), b.corpus_scores()
    return [
        PairedResult(
            name,
            observed_a[name],
            observed_b[name],
            observed_a[name] - observed_b[name],
            bootstrap[name][0],
            bootstrap[name][1],
            randomization[name],
        )
        for name in observed_a
    ]


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values, in the input order."""
    m = len(p_values)
    order = np.argsort(p_values, kind="stable")
    adjusted = np.empty(m)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * float(p_values[index])))
        adjusted[index] = running
    return [float(p) for p in adjusted]
