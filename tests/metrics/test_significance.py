"""Paired bootstrap and approximate randomization: identical → p = 1, clearly better → p < 0.05."""

from __future__ import annotations

import random

import pytest

from seq2seq_es.metrics.rouge_spanish import rouge_stats
from seq2seq_es.metrics.sacrebleu_metrics import bleu_stats
from seq2seq_es.metrics.significance import compare_systems, holm

VOCAB = [
    "el",
    "niño",
    "come",
    "pan",
    "con",
    "su",
    "madre",
    "en",
    "la",
    "casa",
    "grande",
    "dónde",
    "está",
    "perro",
    "qué",
    "día",
    "tan",
    "bonito",
]


def _systems(n: int = 150) -> tuple[list[str], list[str], list[list[str]]]:
    rng = random.Random(0)
    refs = [" ".join(rng.choice(VOCAB) for _ in range(rng.randint(5, 12))) for _ in range(n)]
    good = [
        " ".join(w if rng.random() < 0.8 else rng.choice(VOCAB) for w in r.split()) for r in refs
    ]
    bad = [
        " ".join(w if rng.random() < 0.5 else rng.choice(VOCAB) for w in r.split()) for r in refs
    ]
    return good, bad, [[r] for r in refs]


@pytest.mark.parametrize("make_stats", [bleu_stats, rouge_stats])
def test_identical_systems_get_p_equal_one(make_stats) -> None:
    good, _, refs = _systems()
    a = make_stats(good, refs)
    for result in compare_systems(a, make_stats(good, refs), 300, 300, seed=1):
        assert result.delta == 0.0
        assert result.p_bootstrap == 1.0 and result.p_randomization == 1.0


@pytest.mark.parametrize("make_stats", [bleu_stats, rouge_stats])
def test_a_clearly_better_system_is_significant(make_stats) -> None:
    good, bad, refs = _systems()
    results = compare_systems(make_stats(good, refs), make_stats(bad, refs), 500, 500, seed=1)
    for result in results:
        assert result.delta > 0
        assert result.p_bootstrap < 0.05 and result.p_randomization < 0.05
        assert result.a_wins > 0.95


def test_same_seed_same_p_values() -> None:
    good, bad, refs = _systems(60)
    a, b = bleu_stats(good, refs), bleu_stats(bad[:30] + good[30:], refs)
    assert compare_systems(a, b, 200, 200, seed=3) == compare_systems(a, b, 200, 200, seed=3)


def test_holm_step_down() -> None:
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5]) == [0.5]
    assert holm([0.2, 0.9]) == pytest.approx([0.4, 0.9])
    assert holm([0.6, 0.7]) == pytest.approx([1.0, 1.0])
