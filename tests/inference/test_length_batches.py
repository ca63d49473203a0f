"""Decoding batches within a token budget: the same order, cuts that follow the budget, and the
same outputs as the fixed-size batches of before."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from spanish_inputs import spanish_sentences

from seq2seq_es.errors import ConfigError
from seq2seq_es.inference.config import GenerationOptions
from seq2seq_es.inference.engines import (
    TransformersEngine,
    generate_in_length_order,
    load_engine,
    source_token_counts,
)
from seq2seq_es.inference.length_batches import length_sorted_batches

pytestmark = pytest.mark.usefixtures("one_thread")

lengths = st.lists(st.integers(1, 60), min_size=0, max_size=40)


@settings(max_examples=200, deadline=None)
@given(lengths, st.integers(1, 8), st.integers(1, 120))
def test_a_budget_only_moves_the_cuts_of_the_length_order(
    counts: list[int], batch_size: int, max_tokens: int
) -> None:
    texts = ["x" * count for count in counts]  # characters and tokens agree here
    batches = length_sorted_batches(texts, batch_size, max_tokens, counts)
    fixed = length_sorted_batches(texts, batch_size)
    assert [i for batch in batches for i in batch] == [i for batch in fixed for i in batch]
    for batch in batches:
        assert 1 <= len(batch) <= batch_size
        padded = len(batch) * max(counts[i] for i in batch)
        assert len(batch) == 1 or padded <= max_tokens  # a text over budget goes alone
    for batch, following in itertools.pairwise(batches):
        grown = batch + following[:1]  # each cut is needed: one more text would break a limit
        assert len(grown) > batch_size or len(grown) * max(counts[i] for i in grown) > max_tokens


def test_fixed_batches_are_the_sorted_order_cut_every_batch_size() -> None:
    texts = ["ccc", "a", "bb", "a", "dddd"]
    assert length_sorted_batches(texts, 2) == [[1, 3], [2, 0], [4]]
    with pytest.raises(ValueError, match="one token count per text"):
        length_sorted_batches(texts, 2, max_tokens=8)


# Short and long inputs mixed: 3 to 14 words, and paragraphs of several such sentences.
SHORT = spanish_sentences(24, seed=5)
TEXTS = SHORT + [" ".join(SHORT[i : i + 4]) for i in range(0, 24, 3)]


class RecordingEngine:
    """A real engine that records the size of each batch it decodes."""

    def __init__(self, engine: TransformersEngine) -> None:
        self.engine, self.name = engine, engine.name
        self.tokenizer, self.max_source_length = engine.tokenizer, engine.max_source_length
        self.batch_sizes: list[int] = []

    def generate(self, texts: Sequence[str], options: GenerationOptions) -> list[dict[str, Any]]:
        self.batch_sizes.append(len(texts))
        return self.engine.generate(texts, options)


@pytest.mark.parametrize("family", ["bart", "t5"])
@pytest.mark.parametrize("num_beams", [1, 3])
def test_a_token_budget_decodes_the_same_outputs_in_input_order(
    family: str, num_beams: int, tiny_bart_folder: Path, tiny_t5_folder: Path
) -> None:
    engine = load_engine(tiny_bart_folder if family == "bart" else tiny_t5_folder)
    assert isinstance(engine, TransformersEngine)
    options = GenerationOptions(max_new_tokens=8, num_beams=num_beams, output_scores=True)
    today = generate_in_length_order(engine, TEXTS, options, 32)
    counts = source_token_counts(engine, TEXTS)
    budget = 4 * max(counts)  # 4 of the longest texts a batch, many more of the short ones
    recording = RecordingEngine(engine)
    budgeted = generate_in_length_order(recording, TEXTS, options, 32, max_tokens=budget)
    assert [r["text"] for r in budgeted] == [r["text"] for r in today]
    assert [r["tokens"] for r in budgeted] == [r["tokens"] for r in today]
    assert [r["score"] for r in budgeted] == pytest.approx([r["score"] for r in today], abs=1e-4)
    assert len(recording.batch_sizes) > 1 and recording.batch_sizes[-1] <= 4
    assert recording.batch_sizes[0] > 4  # short texts share a batch the budget would cut
    assert engine.model.config._attn_implementation == "sdpa"  # as loaded for eval and serve


@pytest.mark.parametrize(("family", "num_beams"), [("bart", 1), ("t5", 3)])
def test_a_static_kv_cache_decodes_the_same_outputs(
    family: str, num_beams: int, tiny_bart_folder: Path, tiny_t5_folder: Path
) -> None:
    engine = load_engine(tiny_bart_folder if family == "bart" else tiny_t5_folder)
    assert isinstance(engine, TransformersEngine)
    static = TransformersEngine(
        engine.model, engine.tokenizer, engine.defaults, engine.max_source_length, cache="static"
    )
    options = GenerationOptions(max_new_tokens=8, num_beams=num_beams)
    expected = [
        (r["text"], r["tokens"]) for r in generate_in_length_order(engine, TEXTS, options, 16)
    ]
    got = [(r["text"], r["tokens"]) for r in generate_in_length_order(static, TEXTS, options, 16)]
    assert got == expected


def test_an_unknown_cache_is_a_config_error(tiny_bart_folder: Path) -> None:
    engine = load_engine(tiny_bart_folder)
    assert isinstance(engine, TransformersEngine)
    with pytest.raises(ConfigError, match=r"Unknown cache 'paged'\. Valid caches: dynamic, static"):
        TransformersEngine(engine.model, engine.tokenizer, engine.defaults, 64, cache="paged")
