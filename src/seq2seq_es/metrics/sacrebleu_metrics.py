"""BLEU and chrF computed by sacreBLEU, with its signature, as bootstrap-ready statistics.

The per-segment statistics come from sacreBLEU itself
(``Metric._extract_corpus_statistics``, the hook its own paired tests use):
BLEU's ``[hyp_len, ref_len, correct_1..4, total_1..4]`` and chrF's
``[hyp, ref, match]`` counts per character n-gram order. The corpus score is
recomputed from summed statistics by a numpy transcription of
``BLEU.compute_bleu`` (``exp`` smoothing, no effective order: the corpus defaults)
and ``CHRF._compute_f_score`` (sacreBLEU >= 2 averaging), vectorized over
resamples; tests check it equals ``corpus_score`` and the ``sacrebleu`` command.

Several references: one sacreBLEU reference stream per slot; examples with fewer
references get ``None`` in the missing slots, which sacreBLEU skips (signature
``nrefs:var``).

Tokenization: ``13a`` (the default) does not split the Spanish opening marks ¿ ¡ from
the next word; it is kept because published BLEU numbers use it. ``bleu-intl``
uses sacreBLEU's ``intl`` tokenizer, which splits all Unicode punctuation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import numpy as np
from sacrebleu.metrics import BLEU, CHRF

from seq2seq_es.metrics.segment_stats import SegmentStats

_MAX_ORDER = 4
_SACREBLEU_LOG_ZERO = -9999999999.0  # sacrebleu.utils.my_log(0)


def reference_streams(references: Sequence[Sequence[str]]) -> list[list[str]]:
    """sacreBLEU's layout: one stream per reference slot, ``None`` where an example has fewer.

    (sacreBLEU documents ``None`` as "no reference in this slot"; its type hints say ``str``.)
    """
    width = max(len(refs) for refs in references)
    return [
        [refs[k] if k < len(refs) else cast(str, None) for refs in references] for k in range(width)
    ]


def bleu_from_sums(sums: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """Corpus BLEU of each row of summed ``[hyp_len, ref_len, correct_1..4, total_1..4]``."""
    sys_len, ref_len = sums[:, 0], sums[:, 1]
    correct, total = sums[:, 2 : 2 + _MAX_ORDER], sums[:, 2 + _MAX_ORDER :]
    with np.errstate(divide="ignore", invalid="ignore"):
        bp = np.where(sys_len < ref_len, np.exp(1.0 - ref_len / sys_len), 1.0)
        bp = np.where((sys_len < ref_len) & (sys_len <= 0), 0.0, bp)
        # An order with no hypothesis n-gram ends the loop in compute_bleu: it and every
        # higher order keep precision 0 (log = -9999999999, so BLEU is 0).
        active = np.cumprod(total > 0, axis=1).astype(bool)
        zero_correct = active & (correct == 0)
        smooth = 2.0 ** np.cumsum(zero_correct, axis=1)  # "exp" smoothing (mteval-v13a)
        precision = np.where(correct > 0, 100.0 * correct / total, 100.0 / (smooth * total))
        log_p = np.where(active, np.log(np.where(active, precision, 1.0)), _SACREBLEU_LOG_ZERO)
    score = bp * np.exp(log_p.sum(axis=1) / _MAX_ORDER)
    score = np.where(correct.sum(axis=1) > 0, score, 0.0)
    return {"score": score}


def chrf_from_sums(sums: np.ndarray, n: int, beta: float = 2.0) -> dict[str, np.ndarray]:
    """Corpus chrF of each row of summed ``[hyp, ref, match]`` × character orders."""
    triples = sums.reshape(sums.shape[0], -1, 3)
    n_hyp, n_ref, n_match = triples[..., 0], triples[..., 1], triples[..., 2]
    both = (n_hyp > 0) & (n_ref > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(both, n_match / np.where(both, n_hyp, 1.0), 0.0)
        recall = np.where(both, n_match / np.where(both, n_ref, 1.0), 0.0)
        orders = both.sum(axis=1)
        avg_p = np.where(orders > 0, precision.sum(axis=1) / np.maximum(orders, 1), 0.0)
        avg_r = np.where(orders > 0, recall.sum(axis=1) / np.maximum(orders, 1), 0.0)
        factor = beta**2
        denominator = factor * avg_p + avg_r
        score = np.where(
            avg_p + avg_r > 0,
            100.0 * (1 + factor) * avg_p * avg_r / np.where(denominator > 0, denominator, 1.0),
            0.0,
        )
    return {"score": score}


def bleu_stats(
    predictions: Sequence[str],
    references: Sequence[Sequence[str]],
    tokenize: str = "13a",
    metric: str = "bleu",
) -> SegmentStats:
    """sacreBLEU BLEU (corpus defaults) per-segment statistics and signature."""
    bleu = BLEU(tokenize=tokenize)
    stats = bleu._extract_corpus_statistics(list(predictions), reference_streams(references))
    return SegmentStats(
        metric, str(bleu.get_signature()), np.asarray(stats, dtype=np.float64), bleu_from_sums
    )


def chrf_stats(
    predictions: Sequence[str], references: Sequence[Sequence[str]], metric: str = "chrf"
) -> SegmentStats:
    """sacreBLEU chrF (char order 6, beta 2, no word n-grams) statistics and signature."""
    chrf = CHRF()
    stats = chrf._extract_corpus_statistics(list(predictions), reference_streams(references))
    return SegmentStats(
        metric, str(chrf.get_signature()), np.asarray(stats, dtype=np.float64), chrf_from_sums
    )
