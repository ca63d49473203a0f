"""The server's own tokenizer: counts request texts, decodes streamed tokens.

It never touches the tokenizer the model decodes with.

Why a tokenizer of its own: a Hugging Face fast tokenizer is not stateless. Each call
writes its ``padding``/``truncation`` settings into the shared Rust tokenizer
(``set_truncation_and_padding``) and tokenizes under them, so two threads calling one
tokenizer can each run under the other's settings: the batch worker got unpadded rows
(every request of that batch failed) and a count ran under the worker's truncation (3,001
tokens counted as 128, so the length limit could be bypassed). The engine's tokenizer
belongs to the batch worker thread alone; the server counts and decodes with this deep
copy, one call at a time, every setting explicit.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Sequence
from typing import Any


class RequestTokenizer:
    """Token counts of texts as the engine's tokenizer makes them (special tokens included),
    and the text of generated token ids.

    Special tokens are counted because the engine cuts its inputs at ``max_source_length``
    tokens *with* them: a count above that length is exactly an input the engine truncates.
    """

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = copy.deepcopy(tokenizer)
        self._lock = threading.Lock()
        self._special_ids = set(self._tokenizer.all_special_ids)

    def count(self, texts: Sequence[str]) -> list[int]:
        with self._lock:
            encoded = self._tokenizer(
                list(texts), add_special_tokens=True, padding=False, truncation=False
            )
        return [len(ids) for ids in encoded["input_ids"]]

    def text_of(self, ids: Sequence[int]) -> str:
        """The text of generated ``ids``, special tokens left out (as outputs are decoded)."""
        with self._lock:
            return str(self._tokenizer.decode(list(ids), skip_special_tokens=True))

    def is_special(self, token_id: int) -> bool:
        return token_id in self._special_ids
