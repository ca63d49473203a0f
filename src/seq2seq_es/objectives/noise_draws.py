"""Random draws shared by both BART noise variants (``fairseq_noise``, ``exact_ratio_noise``).

Why shared: both cut Poisson span lengths to a masking budget the way fairseq's
``add_whole_word_mask`` does, and both draw replacement tokens from a pool; only the
length distribution differs (fairseq's truncated table vs numpy's Poisson).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def lengths_for_budget(budget: int, draw: Callable[[int], np.ndarray]) -> np.ndarray:
    """Span lengths summing exactly to ``budget``, zeros kept (they are insertions).

    fairseq's rule: draw ``budget`` lengths, draw ``budget`` more while their sum falls
    short, keep up to the first prefix that reaches the budget and trim its last length.
    """
    if budget <= 0:
        return np.zeros(0, dtype=np.int64)
    lengths = draw(budget)
    while lengths.sum() < budget:
        lengths = np.concatenate([lengths, draw(budget)])
    total = np.cumsum(lengths)
    last = int(np.searchsorted(total, budget))  # first prefix with total >= budget
    lengths = lengths[: last + 1].astype(np.int64)
    lengths[last] = budget - (total[last - 1] if last else 0)
    return lengths


def random_tokens(pool: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """``k`` ids drawn uniformly from ``pool``, one uniform each (cheaper than ``rng.integers``,
    and ``k`` draws at once equal the same draws split over several calls)."""
    return pool[(rng.random(k) * len(pool)).astype(np.int64)]
