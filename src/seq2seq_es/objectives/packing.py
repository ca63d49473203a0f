"""Pack tokenized documents into fixed-length blocks (streaming).

Why pack: pretraining on documents of wildly different lengths wastes compute on
padding; BART and T5 both train on contiguous blocks of the concatenated corpus with
an end-of-sequence token between documents.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator


def pack_blocks(documents: Iterable[list[int]], block_size: int, separator_id: int) -> Iterator[list[int]]:
    """Concatenate token lists (each followed by ``separator_id``), cut into blocks.

    Streams: holds at most one block plus one document in memory. The final partial
    block is dropped so every block has exactly ``block_size`` tokens.
    """
    if block_size < 1:
        raise ValueError("block_size must be positive")
    buffer: list[int] = []
    for ids in documents:
        buffer.extend(ids)
        buffer.append(separator_id)
        while len(buffer) >= block_size:
            yield buffer[:block_size]
            del buffer[:block_size]
