"""The sample sizes in docs/human-eval-protocol.md: computed, and checked against the exact
binomial power."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from seq2seq_es.humaneval.power import (
    effect_size,
    paired_items,
    sign_test_items,
    sign_test_items_approx,
    sign_test_power,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "human-eval-protocol.md"


@pytest.mark.parametrize("win_rate", [0.6, 0.65, 0.7, 0.75])
def test_exact_sign_test_size_is_the_smallest_with_enough_power(win_rate: float) -> None:
    n = sign_test_items(win_rate)
    assert sign_test_power(n, win_rate) >= 0.8
    assert all(sign_test_power(m, win_rate) < 0.8 for m in range(1, n))
    approx = sign_test_items_approx(win_rate)
    assert approx <= n <= approx * 1.1  # the normal approximation is a little optimistic


def test_sign_test_power_matches_scipy_binomtest_rejections() -> None:
    from scipy.stats import binom, binomtest

    n, p = 40, 0.7
    rejected = [k for k in range(n + 1) if binomtest(k, n, 0.5).pvalue <= 0.05]
    assert sign_test_power(n, p) == pytest.approx(sum(binom.pmf(k, n, p) for k in rejected))
    assert sign_test_power(n, 0.5) <= 0.05


def test_paired_size_and_annotators() -> None:
    assert paired_items(0.3) == math.ceil((2.801585 / 0.3) ** 2 + 1.959964**2 / 2) == 90
    assert effect_size(0.3, 0.8, 1.0, 3) == pytest.approx(0.3 / math.sqrt(0.64 + 1 / 3))
    sizes = [paired_items(effect_size(0.3, 0.8, 1.0, k)) for k in (1, 2, 3, 5, 10)]
    assert sizes == sorted(sizes, reverse=True)
    with pytest.raises(ValueError):
        sign_test_items(0.5)


def test_protocol_tables_hold_the_computed_numbers() -> None:
    text = DOC.read_text(encoding="utf-8")
    for p in (0.6, 0.65, 0.7, 0.75):
        n = sign_test_items(p)
        row = f"| {p:.2f} | {sign_test_items_approx(p)} | {n} | {math.ceil(n / 0.8)} |"
        assert row in text, row
    for k in (1, 2, 3, 5, 10):
        d = effect_size(0.3, 0.8, 1.0, k)
        assert re.search(
            rf"\| {k} \| {math.sqrt(0.64 + 1 / k):.4f} \| {d:.3f} \| {paired_items(d)} \|", text
        ), k
