"""Language ID for Spanish with py3langid: offline, its model ships inside the wheel.

Why not datatrove's ``LanguageFilter``: it downloads a fastText model at run time,
which fails offline. Why only a prefix: py3langid walks the bytes in Python, so cost
grows with length; on our sample the first 2,000 characters decide as well as the
whole text and run ~2x faster (design/measured.md). That walk is compiled here
(``CompiledLanguageIdentifier``), which gives py3langid's scores bit for bit.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numba
import numpy as np
from datatrove.data import Document
from datatrove.pipeline.writers.disk_base import DiskWriter
from py3langid.langid import MODEL_FILE, LanguageIdentifier

from seq2seq_es.corpus.steps import CharCountingFilter

# Documents identified at a time. Document by document, the other steps evict the model's
# 57 MB of weights from the CPU caches; in batches of 64 the hot rows stay: 18.8 -> 11.7
# CPU s on ../shared/data/pretrain (benchmarks/RESULTS.md). Batching the other filters
# gained nothing (Gopher quality even lost), so only this one batches.
BATCH = 64


@numba.njit(cache=True)
def feature_counts(
    nextmove: np.ndarray,
    rowbase: np.ndarray,
    output: np.ndarray,
    text: np.ndarray,
    slot: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The features py3langid's byte DFA meets in ``text`` (first-seen order) and how often.

    ``slot`` is scratch space, one entry per feature, all -1 on entry and on return.
    """
    features = np.empty(len(text), dtype=np.int64)
    counts = np.zeros(len(text), dtype=np.int64)
    unique, state = 0, 0
    for letter in text:
        state = nextmove[rowbase[state] + letter]
        feature = output[state]
        if feature >= 0:
            if slot[feature] < 0:
                slot[feature] = unique
                features[unique] = feature
                unique += 1
            counts[slot[feature]] += 1
    for i in range(unique):
        slot[features[i]] = -1
    return features[:unique], counts[:unique]


class CompiledLanguageIdentifier(LanguageIdentifier):
    """py3langid's ``LanguageIdentifier`` with its byte-by-byte DFA walk compiled.

    The walk was 85% of language ID time, and casting the gathered float16 weight rows
    to float32 for every document most of the rest; the weights are cast once here
    (exact, 57 MB). The walk also counts the features (a Python ``Counter`` of them took
    a third of what was left), and the counts meet the weights in the same (first-seen)
    order as in py3langid's ``_sparse_score``, so the probabilities are py3langid's, bit
    for bit (``tests/corpus/test_filters.py``).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._walk = (
            np.frombuffer(self.tk_nextmove, dtype=np.uint32),
            np.array(self._rowbase, dtype=np.int64),
            np.array(self.tk_output, dtype=np.int64),
        )
        self._slot = np.full(int(self._walk[2].max()) + 1, -1, dtype=np.int64)
        self._weights = self.nb_ptc.astype(np.float32)

    def _raw_score(self, text: bytes) -> np.ndarray:
        features, counts = feature_counts(
            *self._walk, np.frombuffer(text, dtype=np.uint8), self._slot
        )
        if not len(features):
            return super()._raw_score(text)  # py3langid's score for featureless input
        # py3langid's _sparse_score, fed arrays instead of a Counter: same dtypes, same order
        return np.log1p(counts.astype(np.float32)) @ self._weights[features] + self.nb_pc


@cache
def load_identifier() -> CompiledLanguageIdentifier:
    """py3langid's bundled model with probabilities normalized to [0, 1], loaded once per process.

    Once: loading it takes ~1 s of CPU, and a worker process runs several tasks.
    """
    identifier: CompiledLanguageIdentifier = CompiledLanguageIdentifier.from_model_file(
        MODEL_FILE, norm_probs=True
    )
    return identifier


class LanguageIdFilter(CharCountingFilter):
    """Keep documents in ``language`` with probability ≥ ``min_confidence``.

    Drop reasons: ``lang_<code>`` (identified as another language, e.g. ``lang_pt``) or
    ``lang_low_confidence``. The language and its probability go into the metadata.
    """

    name = "🌍 language id"

    def __init__(
        self,
        language: str = "es",
        min_confidence: float = 0.65,
        prefix_chars: int = 2000,
        exclusion_writer: DiskWriter | None = None,
    ) -> None:
        super().__init__(exclusion_writer, batch_size=BATCH)
        self.language, self.min_confidence, self.prefix_chars = (
            language,
            min_confidence,
            prefix_chars,
        )
        self._identifier: Any = None  # loaded in the task process, not pickled to workers

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        if self._identifier is None:
            self._identifier = load_identifier()
        # Lower-cased: py3langid lower-cases only all-caps input, and Spanish with upper-case
        # headings (parliament agendas, laws) was read as Galician/Portuguese (222 of 259
        # language drops on ../shared/data/pretrain before this; see benchmarks/RESULTS.md).
        language, probability = self._identifier.classify(doc.text[: self.prefix_chars].lower())
        doc.metadata["language"], doc.metadata["language_score"] = (
            language,
            round(float(probability), 4),
        )
        if language != self.language:
            return False, f"lang_{language}"
        if probability < self.min_confidence:
            return False, "lang_low_confidence"
        return True
