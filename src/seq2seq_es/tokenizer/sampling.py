"""The training sample of a tokenizer: the first ``max_chars`` characters of the corpus.

Why a prefix and not a random sample: a prefix streams, so neither trainer has to read
the whole corpus first, and it is deterministic. The trainers feed it the shards
interleaved (one document of each shard in turn, ``iter_texts_interleaved``), so the
prefix mixes every source instead of holding the first shards only. The sample counts what it
yielded, so the summary can
say exactly what the tokenizer saw.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator

from seq2seq_es.corpus.text_files import list_jsonl_files
from seq2seq_es.errors import DataError
from seq2seq_es.files import iter_jsonl_lines
from seq2seq_es.tokenizer.normalization import Normalization, normalize_text

# The longest text a tokenizer trains on: the corpus stage's default ``length.max_chars``,
# which drops longer documents (one 50 MB "document" is a dump, not text, and a trainer
# fed it spends minutes and memory on one pre-token list).
MAX_TEXT_CHARS = 1_000_000


class TextTooLong(DataError):
    """A text longer than ``MAX_TEXT_CHARS``; ``locate_long_text`` says where it is."""

    def __init__(self, length: int, limit: int) -> None:
        super().__init__(f"a text of {length:,} characters (the limit is {limit:,})")
        self.length, self.limit = length, limit


class TrainingSample:
    """Iterate normalized texts until ``max_chars`` characters were yielded; count them.

    ``normalization`` is public: the trainers give the tokenizer the same normalizer, so
    encoding sees text exactly as training did.

    ``on_text(chars)`` is told of each text yielded (a progress bar: the trainers read the
    sample themselves, so this is the only place that sees them go by).

    A text longer than ``max_text_chars`` raises ``TextTooLong`` (the corpus stage would
    have dropped it). Iterable once. ``first_text_or_raise()`` checks, before a trainer starts, that
    the
    corpus holds at least one non-blank text, so an empty corpus fails with a clear
    ``DataError`` instead of a library error or an empty vocabulary.
    """

    def __init__(
        self,
        texts: Iterable[str],
        max_chars: int,
        normalization: Normalization = "nfc",
        max_text_chars: int = MAX_TEXT_CHARS,
        on_text: Callable[[int], None] | None = None,
    ) -> None:
        self._texts = iter(texts)
        self._on_text = on_text
        self._max_chars = max_chars
        self._max_text_chars = max_text_chars
        self.normalization: Normalization = normalization
        self._first: str | None = None
        self.chars = 0
        self.texts = 0

    def first_text_or_raise(self) -> None:
        for text in self._texts:
            if text.strip():
                self._first = text
                return
        raise DataError(
            "The corpus is empty: no non-blank text to train a tokenizer on. "
            "Check `input` (and `text_key`) in the tokenizer config."
        )

    def __iter__(self) -> Iterator[str]:
        texts = self._texts if self._first is None else itertools.chain([self._first], self._texts)
        self._first = None
        for text in texts:
            if self.chars >= self._max_chars:
                return
            if not text.strip():
                continue
            if len(text) > self._max_text_chars:
                raise TextTooLong(len(text), self._max_text_chars)
            text = normalize_text(text, self.normalization)
            self.chars += len(text)
            self.texts += 1
            if self._on_text is not None:
                self._on_text(len(text))
            yield text

    def stats(self) -> dict[str, int]:
        return {"chars": self.chars, "texts": self.texts}


def locate_long_text(path: str, text_key: str, limit: int) -> str:
    """``file:line`` of the first record whose text is longer than ``limit`` (to name it in an
    error)."""
    for file in list_jsonl_files(path):
        for line_no, record in iter_jsonl_lines(file):
            text = record.get(text_key)
            if isinstance(text, str) and len(text) > limit:
                return f"{file}:{line_no}"
    return str(path)


def too_long_error(exc: TextTooLong, path: str, text_key: str) -> DataError:
    """The user's error for ``TextTooLong``: where the text is, and what to do."""
    where = locate_long_text(path, text_key, exc.limit)
    return DataError(
        f"{where}: {exc}. The corpus stage drops such documents (length.max_chars); run "
        "`seq2seq-es corpus` on this input first, or split or remove this record."
    )
