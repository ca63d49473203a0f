"""Bootstrap CIs: vectorized resamples equal re-scoring, and a seed fixes them."""

from __future__ import annotations

import random

import numpy as np
import pytest
from rouge_score import rouge_scorer
from sacrebleu.metrics import BLEU

from seq2seq_es.metrics.bootstrap import bootstrap_scores, confidence_intervals, resample_counts
from seq2seq_es.metrics.rouge_spanish import PAPER_COMPATIBLE, rouge_stats
from seq2seq_es.metrics.sacrebleu_metrics import bleu_stats
from seq2seq_es.metrics.sari import corpus_sari, sari_stats

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
    ".",
    "dónde",
    "está",
    "perro",
    "qué",
    "día",
]


def _texts(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(VOCAB) for _ in range(rng.randint(2, 10))) for _ in range(n)]


def test_resample_counts_draw_n_segments_each() -> None:
    counts = np.concatenate(list(resample_counts(np.random.default_rng(0), 7, 25)))
    assert counts.shape == (25, 7) and np.all(counts.sum(axis=1) == 7)


def test_resampled_scores_equal_rescoring_each_resample() -> None:
    """The vectorized bootstrap is the naive one: same resamples, same scores."""
    hyps, refs, srcs = _texts(0, 30), [[t] for t in _texts(1, 30)], _texts(2, 30)
    stats = [
        bleu_stats(hyps, refs),
        rouge_stats(hyps, refs, PAPER_COMPATIBLE),
        sari_stats(srcs, hyps, refs),
    ]
    resampled = bootstrap_scores(stats, 5, np.random.default_rng(42))
    counts = np.concatenate(list(resample_counts(np.random.default_rng(42), 30, 5)))
    scorer = rouge_scorer.RougeScorer(["rouge1"], use_stemmer=True)
    for b, row in enumerate(counts):
        pick = [i for i in range(30) for _ in range(int(row[i]))]
        bleu = BLEU().corpus_score([hyps[i] for i in pick], [[refs[i][0] for i in pick]]).score
        rouge1 = np.mean([100 * scorer.score(refs[i][0], hyps[i])["rouge1"].fmeasure for i in pick])
        sari = corpus_sari(
            [srcs[i] for i in pick], [hyps[i] for i in pick], [refs[i] for i in pick]
        )
        assert resampled[0]["score"][b] == pytest.approx(bleu, abs=1e-9)
        assert resampled[1]["rouge1"][b] == pytest.approx(rouge1, abs=1e-9)
        assert resampled[2]["sari"][b] == pytest.approx(sari, abs=1e-9)


def test_fixed_seed_is_deterministic_and_interval_contains_the_score() -> None:
    hyps, refs = _texts(3, 80), [[t] for t in _texts(4, 80)]
    stats = [bleu_stats(hyps, refs)]
    first = confidence_intervals(stats, 200, 0.95, np.random.default_rng(7))
    again = confidence_intervals(stats, 200, 0.95, np.random.default_rng(7))
    other = confidence_intervals(stats, 200, 0.95, np.random.default_rng(8))
    assert first == again and first != other
    score = stats[0].corpus_scores()["score"]
    assert first[0]["score"].low < score < first[0]["score"].high
