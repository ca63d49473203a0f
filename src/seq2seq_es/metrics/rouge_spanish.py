"""ROUGE-1/2/L/Lsum that is right for Spanish, and the paper-compatible ROUGE, labelled.

Both are computed by ``rouge-score``'s own ``RougeScorer`` (n-gram counting, LCS and
the summary-level union-LCS of ROUGE-Lsum are not re-implemented); only the
tokenizer differs:

``spanish``           Unicode words (``spanish_text.words``): "niño" stays one word.
``spanish-snowball``  the same words, then the Snowball Spanish stemmer (words > 3 chars).
``paper-compatible``  ``rouge-score``'s default with ``use_stemmer=True``: lower-case,
                      ``[^a-z0-9]+`` → space (accented letters and ñ are deleted),
                      English Porter stemmer. This is what the paper's fine-tuning
                      scripts (HF ``run_summarization.py``: ``evaluate.load("rouge")``
                      with ``use_stemmer=True``) computed; use it only to compare with
                      published numbers.

Aggregation: the score of a corpus is the mean over examples of the F-measure ×100;
with several references, each example keeps the reference with the best F-measure
per ROUGE type (``RougeScorer.score_multi``). ``evaluate``'s default
``use_aggregator=True`` instead reports the *median of 1,000 unseeded bootstrap
means* (``rouge_score.scoring.BootstrapAggregator``' "mid"), which varies from run
to run in the second decimal; with ``use_aggregator=False`` and a mean, ``evaluate``
gives exactly our paper-compatible number.

ROUGE-Lsum splits sentences on newlines, as ``rouge-score`` does (the HF scripts put
one sentence per line with ``nltk.sent_tokenize`` first). When neither the
prediction nor a reference contains a newline, ROUGE-Lsum equals ROUGE-L exactly
(the union LCS of one sentence pair is its LCS), and we skip recomputing it.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from rouge_score import rouge_scorer, tokenizers

from seq2seq_es.metrics.segment_stats import SegmentStats, mean_of_sentence_scores
from seq2seq_es.metrics.spanish_text import SpanishStemmer, words

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")


class SpanishRougeTokenizer(tokenizers.Tokenizer):
    """``rouge-score`` tokenizer: Unicode words, optionally Snowball-stemmed."""

    def __init__(self, stemmer: SpanishStemmer | None = None) -> None:
        self._stemmer = stemmer

    def tokenize(self, text: str) -> list[str]:
        tokens = words(text)
        if self._stemmer is not None:
            tokens = [self._stemmer(token) for token in tokens]
        return tokens


@dataclass(frozen=True)
class RougeVariant:
    """A named way of tokenizing for ROUGE; the name goes into the signature."""

    name: str
    make_tokenizer: Callable[[], tokenizers.Tokenizer]
    tokenization: str
    stemmer: str

    def signature(self, n_refs: str) -> str:
        version = importlib.metadata.version("rouge-score")
        return (
            f"rouge|variant:{self.name}|tok:{self.tokenization}|stem:{self.stemmer}|lsum:newline"
            f"|nrefs:{n_refs}|refs:best-f|agg:mean-f|rouge-score:{version}"
        )


SPANISH = RougeVariant("spanish", SpanishRougeTokenizer, "unicode-words-nfc-lower", "none")
SPANISH_SNOWBALL = RougeVariant(
    "spanish-snowball",
    lambda: SpanishRougeTokenizer(SpanishStemmer()),
    "unicode-words-nfc-lower",
    "snowball-es",
)
PAPER_COMPATIBLE = RougeVariant(
    "paper-compatible",
    lambda: tokenizers.DefaultTokenizer(use_stemmer=True),
    "rouge-score-default-[a-z0-9]",
    "porter-en",
)
VARIANTS = {v.name: v for v in (SPANISH, SPANISH_SNOWBALL, PAPER_COMPATIBLE)}


def sentence_rouge(
    predictions: Sequence[str], references: Sequence[Sequence[str]], variant: RougeVariant = SPANISH
) -> np.ndarray:
    """F-measures ×100, shape ``(n, 4)`` in ``ROUGE_TYPES`` order, one row per example."""
    tokenizer = variant.make_tokenizer()
    main = rouge_scorer.RougeScorer(list(ROUGE_TYPES[:3]), tokenizer=tokenizer)
    lsum = rouge_scorer.RougeScorer(["rougeLsum"], tokenizer=tokenizer)
    rows = np.zeros((len(predictions), len(ROUGE_TYPES)))
    for i, (prediction, refs) in enumerate(zip(predictions, references, strict=True)):
        scores = main.score_multi(list(refs), prediction)
        rows[i, :3] = [scores[t].fmeasure for t in ROUGE_TYPES[:3]]
        if "\n" in prediction or any("\n" in ref for ref in refs):
            rows[i, 3] = lsum.score_multi(list(refs), prediction)["rougeLsum"].fmeasure
        else:
            rows[i, 3] = rows[i, 2]
    return 100.0 * rows


def rouge_stats(
    predictions: Sequence[str],
    references: Sequence[Sequence[str]],
    variant: RougeVariant = SPANISH,
    metric: str = "rouge",
) -> SegmentStats:
    """Per-example ROUGE F-measures as bootstrap-ready statistics."""
    counts = {len(refs) for refs in references}
    n_refs = str(counts.pop()) if len(counts) == 1 else "var"
    return mean_of_sentence_scores(
        metric,
        variant.signature(n_refs),
        ROUGE_TYPES,
        sentence_rouge(predictions, references, variant),
    )
