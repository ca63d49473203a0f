"""The pretraining corpus as one token stream on disk, cut into fixed-length blocks.

Why: tokenizing once and memory-mapping the result (nanoGPT's ``train.bin``) makes
block *i* a constant-time slice, so a shuffled, resumable, multi-process data order
costs nothing and the corpus never has to fit in memory. Documents are concatenated
with ``</s>`` between them (packing, as BART and T5 pretrain). The file is rebuilt only
when the corpus files or the tokenizer change (fingerprint in ``tokens.json``).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from transformers import PreTrainedTokenizerBase

from seq2seq_es.corpus.text_files import iter_texts, list_jsonl_files
from seq2seq_es.errors import DataError
from seq2seq_es.files import atomic_write, write_json


def fingerprint(
    data: str | Path, text_key: str, tokenizer: PreTrainedTokenizerBase, max_tokens: int
) -> str:
    digest = hashlib.sha1()
    for file in list_jsonl_files(data):
        stat = file.stat()
        digest.update(f"{file.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    vocab = sorted(tokenizer.get_vocab().items())
    digest.update(json.dumps([text_key, max_tokens, vocab, tokenizer.eos_token_id]).encode())
    return digest.hexdigest()


def build_token_stream(
    data: str | Path,
    text_key: str,
    tokenizer: PreTrainedTokenizerBase,
    folder: Path,
    max_tokens: int,
) -> tuple[Path, dict[str, Any]]:
    """Tokenize ``data`` into ``folder/tokens.bin`` (or reuse it); return its path and metadata."""
    folder.mkdir(parents=True, exist_ok=True)
    bin_path, meta_path = folder / "tokens.bin", folder / "tokens.json"
    key = fingerprint(data, text_key, tokenizer, max_tokens)
    if bin_path.is_file() and meta_path.is_file():
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("fingerprint") == key:
            return bin_path, meta
    dtype = np.uint16 if len(tokenizer) < 2**16 else np.uint32
    eos = tokenizer.eos_token_id
    texts = iter_texts(data, text_key)
    written = documents = 0
    with atomic_write(bin_path, "wb") as handle:
        for chunk in iter(lambda: list(itertools.islice(texts, 512)), []):
            for ids in tokenizer(chunk, add_special_tokens=False)["input_ids"]:
                ids = ids[: max_tokens - written - 1]
                np.asarray([*ids, eos], dtype=dtype).tofile(handle)
                written += len(ids) + 1
                documents += 1
                if written >= max_tokens:
                    break
            if written >= max_tokens:
                break
    if written == 0:
        raise DataError(f"{data}: the corpus holds no text to pretrain on.")
    meta = {
        "fingerprint": key,
        "tokens": written,
        "documents": documents,
        "dtype": np.dtype(dtype).name,
    }
    write_json(meta_path, meta)
    return bin_path, meta


class TokenBlocks(Sequence[np.ndarray]):
    """Blocks ``[i*length, (i+1)*length)`` of a token stream, as int64 arrays."""

    def __init__(
        self, path: Path, dtype: str, length: int, first: int = 0, count: int | None = None
    ) -> None:
        self.tokens = np.memmap(path, dtype=np.dtype(dtype), mode="r")
        self.length = length
        total = len(self.tokens) // length
        self.first = first
        self.size = total - first if count is None else min(count, total - first)

    def __len__(self) -> int:
        return max(self.size, 0)

    def __getitem__(self, index: int) -> np.ndarray:  # type: ignore[override]
        if not 0 <= index < len(self):
            raise IndexError(index)
        start = (self.first + index) * self.length
        return np.asarray(self.tokens[start : start + self.length], dtype=np.int64)

    def chunks(self, size: int = 1 << 22) -> Iterator[np.ndarray]:
        """All tokens of these blocks in slices of ``size`` tokens (counting without loading it
        all)."""
        start, end = self.first * self.length, (self.first + len(self)) * self.length
        for offset in range(start, end, size):
            yield np.asarray(self.tokens[offset : min(offset + size, end)])

    def __getstate__(self) -> dict[str, Any]:
        """DataLoader workers re-open the memmap instead of pickling the array."""
        state = self.__dict__.copy()
        state["path"], state["dtype"] = self.tokens.filename, self.tokens.dtype.name
        del state["tokens"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        path, dtype = state.pop("path"), state.pop("dtype")
        self.__dict__.update(state)
        self.tokens = np.memmap(path, dtype=np.dtype(dtype), mode="r")
