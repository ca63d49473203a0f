"""Packing: exact blocks, nothing lost or reordered, streaming."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from seq2seq_es.errors import ConfigError
from seq2seq_es.objectives.packing import pack_blocks

SEP = 2


@given(
    documents=st.lists(st.lists(st.integers(5, 50), max_size=40), max_size=30),
    size=st.integers(1, 64),
)
def test_blocks_are_the_separated_stream_cut_exactly(documents: list[list[int]], size: int) -> None:
    stream = [token for document in documents for token in [*document, SEP]]
    blocks = list(pack_blocks(documents, size, SEP))
    assert all(len(block) == size for block in blocks)
    assert len(blocks) == len(stream) // size, "only the last partial block is dropped"
    assert np.concatenate([np.zeros(0, np.int64), *blocks]).tolist() == stream[: len(blocks) * size]


def test_streams_lazily_over_an_unbounded_corpus() -> None:
    consumed = 0

    def documents() -> Iterator[list[int]]:
        nonlocal consumed
        for i in itertools.count():
            consumed += 1
            yield [i % 100 + 5] * 7

    blocks = pack_blocks(documents(), 16, SEP)
    first = list(itertools.islice(blocks, 3))
    assert [len(b) for b in first] == [16, 16, 16]
    assert consumed <= 7, "a block is yielded as soon as it is full"
    assert not np.shares_memory(first[0], first[1])


def test_long_document_spans_several_blocks_and_arrays_are_accepted() -> None:
    blocks = list(pack_blocks([np.arange(5, 105)], 10, SEP))
    assert len(blocks) == 10 and blocks[-1].dtype == np.int64
    assert blocks[0].tolist() == list(range(5, 15))


def test_empty_documents_and_bad_size() -> None:
    assert [b.tolist() for b in pack_blocks([[], [], [7]], 2, SEP)] == [[SEP, SEP], [7, SEP]]
    assert list(pack_blocks([], 4, SEP)) == []
    with pytest.raises(ConfigError):
        list(pack_blocks([[1]], 0, SEP))
