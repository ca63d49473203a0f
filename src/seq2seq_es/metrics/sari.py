"""SARI (Xu et al., 2016): corpus-level as in EASSE, and the sentence-level variants.

SARI compares a prediction with its source *and* references, rewarding n-grams
(n = 1..4) that are correctly added, kept and deleted. Three implementations are in
use and they disagree; this module implements each from its definition, names it in
the signature, and tests it against its published values.

``sari`` — corpus level, as EASSE ``corpus_sari`` (default settings). Per example
and order n, with source S, prediction P and the R references (their n-gram counts
summed, ``Ref``):

* add (sets): ``|P \\ S|`` predicted, ``|Ref \\ S|`` wanted, ``|(P \\ S) ∩ Ref|`` right;
* keep (counts × R): ``|S·R ∩ P·R|`` predicted, ``|S·R ∩ Ref|`` wanted, the
  intersection of both right (multiset ∩ = min of counts);
* delete (counts × R): ``|S·R − P·R|`` predicted, ``|S·R − Ref|`` wanted, the
  intersection of both right.

Those nine counts per order are *summed over the corpus*; for each order and
operation P = right/predicted, R = right/wanted (0 when the denominator is 0) and
F1 (0 unless P > 0 and R > 0); each operation's F1 is averaged over the 4 orders, and
``SARI = 100 · (F1_add + F1_keep + F1_del) / 3``. EASSE's default (``use_paper_version
=False``, ``use_f1_for_deletion=True``) uses F1 for deletion, not the paper's
deletion precision. Text is lower-cased and tokenized with sacreBLEU's ``13a``, EASSE's
default (``tokenize="intl"`` also splits ¿ ¡ « » from words); the signature names it.
Because the counts are summed before dividing, corpus SARI is not the mean of
sentence SARIs (a test shows the difference).

``sari-evaluate`` — HF ``evaluate``'s ``sari`` (what the paper's scripts report):
the *mean of sentence scores* of the tensor2tensor port of Xu's ``SARI.py``, text
lower-cased and ``13a``-tokenized, split on single spaces. Per sentence and order:
keep P/R and delete P are averaged over *distinct* n-grams of ratios of counts
(not ratios of sums), addition uses sets, the deletion score is precision only, and
two changes from Xu's script: 0/0 = 1 instead of 0 and a keep-recall "bug fix"
(``cocoxu/simplification`` issue 6). On the paper's worked example ("About 95
species are currently accepted .") it gives 26.95, Xu's script 26.83.

``sentence_sari(..., variant="xu2016")`` reproduces Xu's ``SARI.py`` itself.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
import sacrebleu
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a
from sacrebleu.tokenizers.tokenizer_intl import TokenizerV14International

from seq2seq_es.metrics.segment_stats import SegmentStats, mean_of_sentence_scores

ORDERS = 4
_TOKENIZERS: dict[str, type[Tokenizer13a] | type[TokenizerV14International]] = {
    "13a": Tokenizer13a,
    "intl": TokenizerV14International,
}
SentenceVariant = Literal["xu2016", "evaluate"]


def _tokenizer(name: str) -> Callable[[str], str]:
    if name not in _TOKENIZERS:
        raise ValueError(f"SARI tokenizer must be one of {sorted(_TOKENIZERS)}, got {name!r}")
    tokenizer: Callable[[str], str] = _TOKENIZERS[name]()
    return tokenizer


def _ngram_counts(tokens: Sequence[str]) -> list[Counter[str]]:
    return [
        Counter(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
        for n in range(1, ORDERS + 1)
    ]


def _scaled(counter: Counter[str], factor: int) -> Counter[str]:
    return Counter({gram: count * factor for gram, count in counter.items()})


def sari_counts(
    source: Sequence[str], prediction: Sequence[str], references: Sequence[Sequence[str]]
) -> np.ndarray:
    """The nine EASSE counts per order for one tokenized example, shape ``(4, 9)``.

    Columns: add (right, predicted, wanted), keep (…), delete (…).
    """
    src, pred = _ngram_counts(source), _ngram_counts(prediction)
    refs = [Counter[str]() for _ in range(ORDERS)]
    for reference in references:
        for n, counts in enumerate(_ngram_counts(reference)):
            refs[n] += counts
    r = len(references)
    rows = np.zeros((ORDERS, 9))
    for n in range(ORDERS):
        added, wanted_added = set(pred[n]) - set(src[n]), set(refs[n]) - set(src[n])
        src_r, pred_r = _scaled(src[n], r), _scaled(pred[n], r)
        kept, wanted_kept = src_r & pred_r, src_r & refs[n]
        deleted, wanted_deleted = src_r - pred_r, src_r - refs[n]
        rows[n] = [
            len(added & set(refs[n])),
            len(added),
            len(wanted_added),
            (kept & wanted_kept).total(),
            kept.total(),
            wanted_kept.total(),
            (deleted & wanted_deleted).total(),
            deleted.total(),
            wanted_deleted.total(),
        ]
    return rows


def sari_from_sums(sums: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """EASSE corpus SARI (and its add/keep/delete parts) from summed ``sari_counts``."""
    counts = sums.reshape(
        sums.shape[0], ORDERS, 3, 3
    )  # resample, order, operation, (right, pred, wanted)
    right, predicted, wanted = counts[..., 0], counts[..., 1], counts[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, right / np.where(predicted > 0, predicted, 1), 0.0)
        recall = np.where(wanted > 0, right / np.where(wanted > 0, wanted, 1), 0.0)
        f1 = np.where(
            (precision > 0) & (recall > 0),
            2 * precision * recall / np.where(precision + recall > 0, precision + recall, 1),
            0.0,
        )
    per_operation = 100.0 * f1.mean(axis=1)  # average over orders: (resample, operation)
    return {
        "sari": per_operation.mean(axis=1),
        "add": per_operation[:, 0],
        "keep": per_operation[:, 1],
        "delete": per_operation[:, 2],
    }


def _tokenize(text: str, tokenizer: Callable[[str], str]) -> list[str]:
    return tokenizer(text.lower()).split()


def sari_stats(
    sources: Sequence[str],
    predictions: Sequence[str],
    references: Sequence[Sequence[str]],
    tokenize: str = "13a",
    metric: str = "sari",
) -> SegmentStats:
    """Corpus SARI (EASSE formula) as per-example count statistics; ``tokenize`` is the sacreBLEU
    tokenizer (``13a``, EASSE's default, or ``intl``), named in the signature."""
    tok = _tokenizer(tokenize)
    rows = [
        sari_counts(_tokenize(s, tok), _tokenize(p, tok), [_tokenize(r, tok) for r in refs]).ravel()
        for s, p, refs in zip(sources, predictions, references, strict=True)
    ]
    signature = (
        f"sari|formula:easse-corpus|del:f1|case:lc|tok:{tokenize}|orders:4"
        f"|sacrebleu:{sacrebleu.__version__}"
    )
    return SegmentStats(
        metric,
        signature,
        np.asarray(rows, dtype=np.float64).reshape(-1, ORDERS * 9),
        sari_from_sums,
    )


def corpus_sari(
    sources: Sequence[str],
    predictions: Sequence[str],
    references: Sequence[Sequence[str]],
    tokenize: str = "13a",
) -> float:
    """Corpus SARI ×100 (EASSE ``corpus_sari`` with ``tokenizer=tokenize``)."""
    return sari_stats(sources, predictions, references, tokenize).corpus_scores()["sari"]


def _xu_ngram_scores(
    src: list[str], pred: list[str], refs: list[list[str]], variant: SentenceVariant
) -> tuple[float, float, float]:
    """(keep F1, delete precision, add F1) of one n-gram order, as in Xu's ``SARIngram``."""
    r = len(refs)
    empty = 1.0 if variant == "evaluate" else 0.0  # the value of 0/0
    ref_counts = Counter(gram for ref in refs for gram in ref)
    src_r, pred_r = _scaled(Counter(src), r), _scaled(Counter(pred), r)

    kept = src_r & pred_r
    kept_good = kept & ref_counts
    kept_all = src_r & ref_counts
    keep_p = sum(kept_good[g] / kept[g] for g in kept_good) / len(kept) if kept else empty
    if variant == "evaluate":
        keep_r = kept_good.total() / kept_all.total() if kept_all else empty
    else:
        keep_r = (
            sum(kept_good[g] / kept_all[g] for g in kept_good) / len(kept_all)
            if kept_all
            else empty
        )
    keep = 2 * keep_p * keep_r / (keep_p + keep_r) if keep_p > 0 or keep_r > 0 else 0.0

    deleted = src_r - pred_r
    deleted_good = deleted - ref_counts
    delete_p = (
        sum(deleted_good[g] / deleted[g] for g in deleted_good) / len(deleted) if deleted else empty
    )

    added = set(pred) - set(src)
    added_good = added & set(ref_counts)
    added_all = set(ref_counts) - set(src)
    add_p = len(added_good) / len(added) if added else empty
    add_r = len(added_good) / len(added_all) if added_all else empty
    add = 2 * add_p * add_r / (add_p + add_r) if add_p > 0 or add_r > 0 else 0.0
    return keep, delete_p, add


def _space_ngrams(tokens: list[str]) -> list[list[str]]:
    return [
        [" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
        for n in range(1, ORDERS + 1)
    ]


def sentence_sari(
    source: str, prediction: str, references: Sequence[str], variant: SentenceVariant = "evaluate"
) -> float:
    """Sentence SARI ×100: Xu's ``SARI.py`` (``xu2016``) or HF ``evaluate``'s port.

    ``xu2016`` lower-cases and splits on single spaces (input must be tokenized);
    ``evaluate`` lower-cases and applies sacreBLEU ``13a`` first, as ``evaluate`` does.
    """
    if variant == "evaluate":
        tok = Tokenizer13a()
        prepared = [tok(text.lower()) for text in (source, prediction, *references)]
    else:
        prepared = [text.lower() for text in (source, prediction, *references)]
    src, pred, *refs = (_space_ngrams(text.split(" ")) for text in prepared)
    parts = [
        _xu_ngram_scores(src[n], pred[n], [ref[n] for ref in refs], variant) for n in range(ORDERS)
    ]
    keep, delete, add = (sum(p[k] for p in parts) / ORDERS for k in range(3))
    return 100.0 * (keep + delete + add) / 3


def sari_evaluate_stats(
    sources: Sequence[str],
    predictions: Sequence[str],
    references: Sequence[Sequence[str]],
    metric: str = "sari-evaluate",
) -> SegmentStats:
    """HF ``evaluate`` SARI (mean of sentence scores) as bootstrap-ready statistics."""
    scores = [
        sentence_sari(s, p, refs, "evaluate")
        for s, p, refs in zip(sources, predictions, references, strict=True)
    ]
    signature = (
        "sari|formula:hf-evaluate-sentence-mean|del:precision|case:lc|tok:13a|"
        f"sacrebleu:{sacrebleu.__version__}"
    )
    return mean_of_sentence_scores(metric, signature, ("sari",), np.asarray(scores))
