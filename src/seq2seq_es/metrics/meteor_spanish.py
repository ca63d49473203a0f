"""METEOR with a Spanish stemmer and no English WordNet, so it runs offline and fairly.

nltk's ``meteor_score`` (Lavie & Agarwal 2007; α = 0.9, β = 3, γ = 0.5) aligns words
in three stages: exact match, stem match, WordNet synonym match. Its defaults are
the English Porter stemmer and the English WordNet, which (a) needs an nltk data
download, so it fails offline, and (b) would let English synonyms match while
Spanish inflections ("niño"/"niños", "canción"/"canciones") would not. Here the
stemmer is Snowball Spanish and the synonym stage is given a WordNet stand-in that
knows no synonyms, so the alignment is exact + Spanish stem matches only.

Text is split into the same Unicode words as the Spanish ROUGE (lower-cased,
punctuation dropped). Several references: the best sentence score (nltk's rule).
The corpus score is the mean of sentence scores ×100, as in HF ``evaluate``'s
``meteor`` — but ``evaluate`` uses English WordNet and Porter, so its numbers on
Spanish (the paper's dialogue METEOR) are not comparable with these.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Sequence
from typing import Any

import numpy as np
from nltk.translate.meteor_score import meteor_score

from seq2seq_es.metrics.segment_stats import SegmentStats, mean_of_sentence_scores
from seq2seq_es.metrics.spanish_text import SpanishStemmer, words


class NoSynonyms:
    """Stands in for ``nltk.corpus.wordnet``: no word has synonyms (nothing to download)."""

    def synsets(self, word: str) -> list[Any]:
        return []


def sentence_meteor(
    prediction: str, references: Sequence[str], stemmer: SpanishStemmer | None = None
) -> float:
    """METEOR ×100 of one prediction against its best reference."""
    stemmer = stemmer or SpanishStemmer()
    return 100.0 * meteor_score(
        [words(ref) for ref in references],
        words(prediction),
        preprocess=str,
        stemmer=stemmer,
        wordnet=NoSynonyms(),
    )


def meteor_stats(
    predictions: Sequence[str], references: Sequence[Sequence[str]], metric: str = "meteor"
) -> SegmentStats:
    """Per-sentence METEOR as bootstrap-ready statistics."""
    stemmer = SpanishStemmer()
    scores = [
        sentence_meteor(p, refs, stemmer) for p, refs in zip(predictions, references, strict=True)
    ]
    signature = (
        f"meteor|impl:nltk-{importlib.metadata.version('nltk')}|tok:unicode-words-nfc-lower"
        "|stem:snowball-es|synonyms:none|alpha:0.9|beta:3|gamma:0.5|refs:best|agg:mean"
    )
    return mean_of_sentence_scores(metric, signature, ("meteor",), np.asarray(scores))
