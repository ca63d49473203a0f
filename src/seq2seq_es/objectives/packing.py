"""Pack tokenized documents into fixed-length blocks (streaming).

Why pack: pretraining on documents of wildly different lengths wastes compute on
padding; BART (fairseq ``TokenBlockDataset``, ``--sample-break-mode none``) and T5
(seqio ``reduce_concat_tokens`` + ``split_tokens``; HF ``group_texts``) both train on
contiguous blocks of the concatenated corpus with ``</s>`` after each document.
Block ``i`` is then example ``i`` of the noise functions' (seed, epoch, index) keys.

Streaming: documents are consumed lazily and each block is yielded as soon as it is
full, so memory holds one block plus one document whatever the corpus size.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from seq2seq_es.errors import ConfigError


def pack_blocks(
    documents: Iterable[Sequence[int] | np.ndarray],
    block_size: int,
    separator_id: int,
    dtype: type[np.integer] = np.int64,
) -> Iterator[np.ndarray]:
    """Concatenate token lists (each followed by ``separator_id``) and cut into blocks.

    Yields arrays of exactly ``block_size`` tokens; the final partial block is dropped
    (as fairseq and seqio do for pretraining). Empty documents add only a separator.
    """
    if block_size < 1:
        raise ConfigError(f"block_size must be positive, got {block_size}.")
    block = np.empty(block_size, dtype=dtype)
    filled = 0
    for document in documents:
        tokens = np.append(np.asarray(document, dtype=dtype), np.asarray(separator_id, dtype=dtype))
        start = 0
        while start < len(tokens):
            take = min(block_size - filled, len(tokens) - start)
            block[filled : filled + take] = tokens[start : start + take]
            filled += take
            start += take
            if filled == block_size:
                yield block.copy()
                filled = 0
