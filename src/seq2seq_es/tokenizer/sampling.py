"""The training sample of a tokenizer: the first ``max_chars`` characters of the corpus.

Why a prefix and not a random sample: a prefix streams, so neither trainer has to read
the whole corpus first, and it is deterministic. The trainers feed it the shards
interleaved (one document of each shard in turn, ``iter_texts_interleaved``), so the
prefix mixes every source instead of holding the first shards only. The sample counts what it yielded, so the summary can
say exactly what the tokenizer saw.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator

from seq2seq_es.errors import DataError
from seq2seq_es.tokenizer.normalization import Normalization, normalize_text


class TrainingSample:
    """Iterate normalized texts until ``max_chars`` characters were yielded; count them.

    ``normalization`` is public: the trainers give the tokenizer the same normalizer, so
    encoding sees text exactly as training did.

    Iterable once. ``first_text_or_raise()`` checks, before a trainer starts, that the
    corpus holds at least one non-blank text, so an empty corpus fails with a clear
    ``DataError`` instead of a library error or an empty vocabulary.
    """

    def __init__(self, texts: Iterable[str], max_chars: int, normalization: Normalization = "nfc") -> None:
        self._texts = iter(texts)
        self._max_chars = max_chars
        self.normalization: Normalization = normalization
        self._first: str | None = None
        self.chars = 0
        self.texts = 0

    def first_text_or_raise(self) -> None:
        for text in self._texts:
            if text.strip():
                self._first = text
                return
        raise DataError("The corpus is empty: no non-blank text to train a tokenizer on. "
                        "Check `input` (and `text_key`) in the tokenizer config.")

    def __iter__(self) -> Iterator[str]:
        texts = self._texts if self._first is None else itertools.chain([self._first], self._texts)
        self._first = None
        for text in texts:
            if self.chars >= self._max_chars:
                return
            if not text.strip():
                continue
            text = normalize_text(text, self.normalization)
            self.chars += len(text)
            self.texts += 1
            yield text

    def stats(self) -> dict[str, int]:
        return {"chars": self.chars, "texts": self.texts}
