"""How many items and annotators a study needs: the arithmetic behind docs/human-eval-protocol.md.

Why in code: the protocol's table of sample sizes is computed by these functions (and a
test checks the normal approximations against the exact binomial power), so the numbers a
researcher reads are numbers that were computed, not remembered.

* Pairwise preference, sign test: the number of *decided* items (ties dropped) to detect a
  true win rate ``p`` against 0.5, two-sided level ``alpha``. The normal approximation
  n = ((z_{1-alpha/2}·0.5 + z_{power}·sqrt(p(1-p))) / (p − 0.5))² is a little optimistic
  (exact power 0.74 instead of 0.80 at p = 0.65), so the planned n is the smallest whose
  *exact* binomial power reaches the target.
* Mean score difference on a 1–5 scale, paired by item: n = ((z_{1-alpha/2} + z_{power}) / d)²
  + z_{1-alpha/2}²/2 (the second term is Guenther's correction for the t test), where
  d = Δ / σ is the standardized difference of the per-item means.
* Annotators: averaging k annotators per item shrinks the rater part of the variance of the
  difference: σ² = σ_item² + σ_rater²/k. More annotators help until σ_item dominates.
"""

from __future__ import annotations

import math


def _z(probability: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(probability))


def sign_test_items_approx(win_rate: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Decided items for a two-sided sign test to detect ``win_rate`` (normal approximation)."""
    if not 0 < win_rate < 1 or win_rate == 0.5:
        raise ValueError("win_rate must be in (0, 1) and not 0.5")
    numerator = _z(1 - alpha / 2) * 0.5 + _z(power) * math.sqrt(win_rate * (1 - win_rate))
    return math.ceil((numerator / (win_rate - 0.5)) ** 2)


def sign_test_items(win_rate: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """The smallest number of decided items whose exact sign-test power reaches ``power``."""
    sign_test_items_approx(win_rate, alpha, power)  # checks win_rate
    n = 1
    while sign_test_power(n, win_rate, alpha) < power:
        n += 1
    return n


def sign_test_power(n: int, win_rate: float, alpha: float = 0.05) -> float:
    """Exact power of the two-sided sign test (binomial, p-value as scipy's binomtest) with n
    decided items."""
    import numpy as np
    from scipy.stats import binom

    counts = np.arange(n + 1)
    lower, upper = binom.cdf(counts, n, 0.5), binom.sf(counts - 1, n, 0.5)
    p_values = np.minimum(1.0, 2 * np.minimum(lower, upper))
    rejected = p_values <= alpha
    return float(binom.pmf(counts[rejected], n, win_rate).sum())


def paired_items(effect_size: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Items for a paired comparison of mean scores with standardized difference ``effect_size``."""
    if effect_size <= 0:
        raise ValueError("effect_size must be positive")
    z_alpha = _z(1 - alpha / 2)
    return math.ceil(((z_alpha + _z(power)) / effect_size) ** 2 + z_alpha**2 / 2)


def effect_size(difference: float, item_sd: float, rater_sd: float, annotators: int) -> float:
    """Standardized difference of per-item means when each item is rated by ``annotators``
    people."""
    return difference / math.sqrt(item_sd**2 + rater_sd**2 / annotators)
