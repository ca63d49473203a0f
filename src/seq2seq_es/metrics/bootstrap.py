"""Bootstrap confidence intervals for corpus metrics, vectorized over resamples.

A bootstrap resample of n segments is represented by how many times each segment is
drawn (a row of counts summing to n); its summed statistics are ``counts @ stats``,
so 1,000 resamples of 10,000 segments are one ``(1000 × 10000) @ (10000 × d)``
product per metric instead of 1,000 re-scorings (Efron & Tibshirani 1993; Koehn
2004 for MT). Intervals are percentile intervals of the resampled corpus scores.

Resamples are drawn in fixed-size chunks whose size depends only on n, so a seed
gives the same resamples whatever the number of metrics or samples; several systems
scored with the same seed and n see the same resamples (a paired design).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from seq2seq_es.metrics.segment_stats import SegmentStats

_CHUNK_ELEMENTS = 4_000_000  # counts per chunk (32 MB of float64)


def chunk_size(n_segments: int) -> int:
    return max(1, _CHUNK_ELEMENTS // max(n_segments, 1))


def resample_counts(
    rng: np.random.Generator, n_segments: int, n_samples: int
) -> Iterator[np.ndarray]:
    """Yield ``(chunk, n_segments)`` float arrays: how often each segment is drawn per resample."""
    step = chunk_size(n_segments)
    for start in range(0, n_samples, step):
        rows = min(step, n_samples - start)
        drawn = rng.integers(0, n_segments, size=(rows, n_segments))
        drawn += (np.arange(rows) * n_segments)[:, None]
        counts = np.bincount(drawn.ravel(), minlength=rows * n_segments)
        yield counts.reshape(rows, n_segments).astype(np.float64)


def bootstrap_scores(
    stats: list[SegmentStats], n_samples: int, rng: np.random.Generator
) -> list[dict[str, np.ndarray]]:
    """Resampled corpus scores ``{score name: (n_samples,)}`` of each metric, same resamples for
    all."""
    if not stats:
        return []
    n = stats[0].n_segments
    if any(s.n_segments != n for s in stats):
        raise ValueError("all statistics must cover the same segments")
    parts: list[list[dict[str, np.ndarray]]] = [[] for _ in stats]
    for counts in resample_counts(rng, n, n_samples):
        for k, s in enumerate(stats):
            parts[k].append(s.scores_of_sums(counts @ s.stats))
    return [
        {name: np.concatenate([p[name] for p in chunks]) for name in chunks[0]} for chunks in parts
    ]


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


def percentile_interval(samples: np.ndarray, confidence: float) -> Interval:
    tail = 100.0 * (1.0 - confidence) / 2.0
    low, high = np.percentile(samples, [tail, 100.0 - tail])
    return Interval(float(low), float(high))


def confidence_intervals(
    stats: list[SegmentStats], n_samples: int, confidence: float, rng: np.random.Generator
) -> list[dict[str, Interval]]:
    """Percentile bootstrap interval of every score of every metric."""
    resampled = bootstrap_scores(stats, n_samples, rng)
    return [
        {name: percentile_interval(values, confidence) for name, values in scores.items()}
        for scores in resampled
    ]
