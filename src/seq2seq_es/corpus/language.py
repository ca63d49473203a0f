"""Language ID for Spanish with py3langid: offline, its model ships inside the wheel.

Why not datatrove's ``LanguageFilter``: it downloads a fastText model at run time,
which fails offline. Why only a prefix: py3langid walks the bytes in Python, so cost
grows with length; on our sample the first 2,000 characters decide as well as the
whole text and run ~2x faster (design/measured.md).
"""

from __future__ import annotations

from typing import Any

from datatrove.data import Document
from datatrove.pipeline.writers.disk_base import DiskWriter

from seq2seq_es.corpus.steps import CharCountingFilter


def load_identifier() -> Any:
    """py3langid's bundled model with probabilities normalized to [0, 1]."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


class LanguageIdFilter(CharCountingFilter):
    """Keep documents in ``language`` with probability ≥ ``min_confidence``.

    Drop reasons: ``lang_<code>`` (identified as another language, e.g. ``lang_pt``) or
    ``lang_low_confidence``. The language and its probability go into the metadata.
    """

    name = "🌍 language id"

    def __init__(self, language: str = "es", min_confidence: float = 0.65, prefix_chars: int = 2000,
                 exclusion_writer: DiskWriter | None = None) -> None:
        super().__init__(exclusion_writer)
        self.language, self.min_confidence, self.prefix_chars = language, min_confidence, prefix_chars
        self._identifier: Any = None  # loaded in the task process, not pickled to workers

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        if self._identifier is None:
            self._identifier = load_identifier()
        # Lower-cased: py3langid lower-cases only all-caps input, and Spanish with upper-case
        # headings (parliament agendas, laws) was read as Galician/Portuguese (222 of 259
        # language drops on ../shared/data/pretrain before this; see benchmarks/RESULTS.md).
        language, probability = self._identifier.classify(doc.text[: self.prefix_chars].lower())
        doc.metadata["language"], doc.metadata["language_score"] = language, round(float(probability), 4)
        if language != self.language:
            return False, f"lang_{language}"
        if probability < self.min_confidence:
            return False, "lang_low_confidence"
        return True
