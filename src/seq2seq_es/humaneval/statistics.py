"""The statistics of a human evaluation, as pure functions over arrays.

Why these: a mean score needs an interval (bootstrap over items, the unit that was sampled);
"A beats B" needs a test that assumes nothing about the scale (the sign test: an exact
binomial test on wins vs losses, ties dropped); agreement needs a chance-corrected
coefficient that handles missing ratings and ordinal scales (Krippendorff's alpha, from
the ``krippendorff`` package) and, for two annotators, Cohen's kappa as most papers report
it; a metric's validity is its rank correlation with human scores (Spearman, with a
bootstrap interval). Many pairwise tests get Holm's correction (Holm 1979).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

NAN = float("nan")


@dataclass(frozen=True)
class Estimate:
    """A value with a percentile bootstrap interval and the number of units it rests on."""

    value: float
    low: float
    high: float
    n: int


def bootstrap_mean(
    values: Sequence[float], samples: int, confidence: float, rng: np.random.Generator
) -> Estimate:
    """Mean of per-item values with a percentile bootstrap interval over items."""
    data = np.asarray(values, dtype=np.float64)
    if data.size == 0:
        return Estimate(NAN, NAN, NAN, 0)
    draws = rng.integers(0, data.size, size=(samples, data.size))
    means = data[draws].mean(axis=1)
    tail = (1 - confidence) / 2
    return Estimate(
        float(data.mean()),
        float(np.quantile(means, tail)),
        float(np.quantile(means, 1 - tail)),
        int(data.size),
    )


@dataclass(frozen=True)
class SignTest:
    wins: int
    losses: int
    ties: int
    p_value: float

    @property
    def win_rate(self) -> float:
        """Share of wins among decided comparisons (ties excluded)."""
        decided = self.wins + self.losses
        return self.wins / decided if decided else NAN


def sign_test(differences: Sequence[float]) -> SignTest:
    """Two-sided exact sign test on paired differences (positive = the first system wins)."""
    from scipy.stats import binomtest

    diffs = np.asarray(differences, dtype=np.float64)
    wins, losses = int((diffs > 0).sum()), int((diffs < 0).sum())
    ties = int(diffs.size - wins - losses)
    p = binomtest(wins, wins + losses, 0.5).pvalue if wins + losses else 1.0
    return SignTest(wins, losses, ties, float(p))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values (family-wise error control), same order as given."""
    p = np.asarray(p_values, dtype=np.float64)
    order = np.argsort(p)
    adjusted = np.empty_like(p)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (p.size - rank) * p[index]))
        adjusted[index] = running
    return [float(a) for a in adjusted]


Level = Literal["nominal", "ordinal", "interval"]


def krippendorff_alpha(
    reliability: np.ndarray, level: Level, value_domain: Sequence[float] | None = None
) -> float:
    """Krippendorff's alpha of a (coders × units) matrix with NaN for missing ratings.

    NaN when it is undefined: fewer than two ratings on every unit, or a single value used
    throughout (no disagreement is possible to correct for).
    """
    import krippendorff

    data = np.asarray(reliability, dtype=np.float64)
    if data.ndim != 2 or data.shape[0] < 2:
        return NAN
    pairable = (~np.isnan(data)).sum(axis=0) >= 2
    if not pairable.any() or np.unique(data[:, pairable][~np.isnan(data[:, pairable])]).size < 2:
        return NAN
    domain = list(value_domain) if value_domain is not None else None
    try:
        return float(
            krippendorff.alpha(
                reliability_data=data[:, pairable], level_of_measurement=level, value_domain=domain
            )
        )
    except (ValueError, ZeroDivisionError):
        return NAN


def cohen_kappa(
    first: Sequence[int],
    second: Sequence[int],
    categories: Sequence[int],
    weights: str | None = None,
) -> float:
    """Cohen's kappa of two raters on the same units; ``weights='quadratic'`` for ordinal scales.

    kappa = 1 − Σ w·observed / Σ w·expected, with w = 0/1 (unweighted) or the squared
    distance between categories (quadratic, Cohen 1968); NaN when chance agreement is total.
    """
    index = {c: k for k, c in enumerate(categories)}
    size = len(categories)
    observed = np.zeros((size, size))
    for a, b in zip(first, second, strict=True):
        observed[index[a], index[b]] += 1
    total = observed.sum()
    if total == 0:
        return NAN
    observed /= total
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0))
    grid = np.arange(size)
    if weights == "quadratic":
        weight = (grid[:, None] - grid[None, :]) ** 2 / max(size - 1, 1) ** 2
    elif weights is None:
        weight = (grid[:, None] != grid[None, :]).astype(np.float64)
    else:
        raise ValueError(f"unknown weights {weights!r}")
    chance = float((weight * expected).sum())
    if chance == 0:
        return NAN
    return 1.0 - float((weight * observed).sum()) / chance


@dataclass(frozen=True)
class Correlation:
    rho: float
    low: float
    high: float
    p_value: float
    n: int


def spearman_with_interval(
    x: Sequence[float],
    y: Sequence[float],
    clusters: Sequence[object],
    samples: int,
    confidence: float,
    rng: np.random.Generator,
) -> Correlation:
    """Spearman's rho, its p-value, and a bootstrap interval that resamples whole clusters.

    Clusters are items: the outputs of several systems on one item share its difficulty,
    so resampling single (item, system) points would make the interval too narrow.
    """
    from scipy.stats import spearmanr

    xs, ys = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    n = int(xs.size)
    if n < 3 or np.unique(xs).size < 2 or np.unique(ys).size < 2:
        return Correlation(NAN, NAN, NAN, NAN, n)
    result = spearmanr(xs, ys)
    rho, p = float(result.statistic), float(result.pvalue)
    labels = {c: k for k, c in enumerate(dict.fromkeys(clusters))}
    members = [
        np.flatnonzero(np.fromiter((labels[c] == k for c in clusters), bool, n))
        for k in range(len(labels))
    ]
    values = []
    for _ in range(samples):
        chosen = np.concatenate(
            [members[k] for k in rng.integers(0, len(members), size=len(members))]
        )
        if np.unique(xs[chosen]).size > 1 and np.unique(ys[chosen]).size > 1:
            values.append(_spearman(xs[chosen], ys[chosen]))
    if not values:
        return Correlation(rho, NAN, NAN, p, n)
    tail = (1 - confidence) / 2
    return Correlation(
        rho, float(np.quantile(values, tail)), float(np.quantile(values, 1 - tail)), p, n
    )


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation of average ranks (what scipy computes), fast enough for a bootstrap
    loop."""
    from scipy.stats import rankdata

    rx, ry = rankdata(x), rankdata(y)
    rx -= rx.mean()
    ry -= ry.mean()
    denominator = math.sqrt(float((rx * rx).sum() * (ry * ry).sum()))
    return float((rx * ry).sum() / denominator) if denominator else NAN
