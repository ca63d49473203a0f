"""BART noise, exact-ratio variant: equal to the per-token reference, and exactly 30% of the
words masked."""

from __future__ import annotations

import collections

import numpy as np
import reference_noise
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from seq2seq_es.objectives.bart_settings import BartNoiseSettings
from seq2seq_es.objectives.exact_ratio_noise import (
    bart_noise,
    permutation_order,
    plan_spans,
    sample_span_lengths,
    span_ids,
)
from seq2seq_es.objectives.token_tables import TokenTables

noise_settings = st.builds(
    BartNoiseSettings,
    mask_ratio=st.sampled_from([0.0, 0.1, 0.3, 0.5, 0.9]),
    poisson_lambda=st.sampled_from([0.5, 3.0, 6.0]),
    permute_sentence_ratio=st.sampled_from([0.0, 0.5, 1.0]),
    insert_ratio=st.sampled_from([0.0, 0.1]),
    random_ratio=st.sampled_from([0.0, 0.1, 1.0]),
    noise=st.just("exact-ratio"),
)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), noise=noise_settings, seed=st.integers(0, 2**32 - 1))
def test_vectorized_equals_per_token_reference(
    tables: TokenTables,
    blocks: list[np.ndarray],
    data: st.DataObject,
    noise: BartNoiseSettings,
    seed: int,
) -> None:
    """Random token soup (specials included) and real packed text, every setting."""
    if data.draw(st.booleans()):
        ids = np.asarray(
            data.draw(st.lists(st.integers(0, len(tables.special) - 1), max_size=50)),
            dtype=np.int64,
        )
    else:
        block = blocks[data.draw(st.integers(0, len(blocks) - 1))]
        ids = block[: data.draw(st.integers(0, len(block)))]
    fast = bart_noise(ids, tables, noise, 4, np.random.default_rng(seed))
    slow = reference_noise.bart_noise(ids.tolist(), tables, noise, 4, np.random.default_rng(seed))
    assert fast.tolist() == slow


def test_masked_share_is_30_percent_of_tokens(
    tables: TokenTables, blocks: list[np.ndarray]
) -> None:
    """Whole words are masked, yet over many blocks 30% ± 1.5% of the tokens are."""
    masked = maskable = 0
    for index, block in enumerate(blocks * 2):
        rng = np.random.default_rng([0, 0, index])
        word_start, can_mask = tables.word_starts(block), ~tables.special[block]
        plan = plan_spans(int(np.count_nonzero(word_start & can_mask)), 0.3, 3.0, rng)
        masked += int(np.count_nonzero(span_ids(word_start, can_mask, plan) >= 0))
        maskable += int(np.count_nonzero(can_mask))
    assert abs(masked / maskable - 0.3) < 0.015


def test_span_lengths_follow_poisson_3() -> None:
    """Chi-square goodness of fit of the drawn span lengths (zero = insertion) to Poisson(3).

    The last span of each example is trimmed to the budget, so it is left out.
    """
    rng = np.random.default_rng(0)
    lengths = np.concatenate([sample_span_lengths(40, 3.0, rng)[:-1] for _ in range(600)])
    edges = np.arange(9)  # 0..7 and a tail bin >= 8
    observed = np.array(
        [*(np.count_nonzero(lengths == k) for k in edges[:-1]), np.count_nonzero(lengths >= 8)]
    )
    probabilities = np.array([*stats.poisson.pmf(edges[:-1], 3.0), stats.poisson.sf(7, 3.0)])
    assert stats.chisquare(observed, probabilities * len(lengths)).pvalue > 1e-3
    assert abs(lengths.mean() - 3.0) < 0.1


@given(n_words=st.integers(0, 300), ratio=st.floats(0.0, 0.95), seed=st.integers(0, 2**32 - 1))
def test_span_plan_masks_the_budget_in_separate_spans(
    n_words: int, ratio: float, seed: int
) -> None:
    plan = plan_spans(n_words, ratio, 3.0, np.random.default_rng(seed))
    assert plan.lengths.sum() == int(np.ceil(n_words * ratio))
    assert (plan.lengths >= 1).all()
    ends = plan.starts + plan.lengths
    assert (plan.starts[1:] > ends[:-1]).all(), "spans neither overlap nor touch"
    assert len(ends) == 0 or (plan.starts[0] >= 0 and ends[-1] <= n_words)


def test_each_span_becomes_one_mask(tables: TokenTables, blocks: list[np.ndarray]) -> None:
    noise = BartNoiseSettings(permute_sentence_ratio=0.0, random_ratio=0.0, noise="exact-ratio")
    for index, block in enumerate(blocks[:50]):
        out = bart_noise(block, tables, noise, 4, np.random.default_rng(index))
        rng = np.random.default_rng(index)
        word_start, can_mask = tables.word_starts(block), ~tables.special[block]
        plan = plan_spans(int(np.count_nonzero(word_start & can_mask)), 0.3, 3.0, rng)
        spans = span_ids(word_start, can_mask, plan)
        runs = np.count_nonzero((spans >= 0) & (np.diff(spans, prepend=-1) != 0))
        assert np.count_nonzero(out == 4) == runs + plan.insertions
        assert len(out) == len(block) - np.count_nonzero(spans >= 0) + runs + plan.insertions
        kept = out[out != 4]
        assert np.array_equal(kept, block[spans < 0]), "unmasked tokens keep their order"


@given(
    sizes=st.lists(st.integers(1, 6), min_size=1, max_size=12),
    ratio=st.sampled_from([0.3, 0.5, 1.0]),
    seed=st.integers(0, 1000),
)
def test_permutation_keeps_the_multiset_of_sentences(
    sizes: list[int], ratio: float, seed: int
) -> None:
    starts = np.zeros(sum(sizes), dtype=bool)
    starts[np.cumsum(sizes) - sizes] = True
    ids = np.arange(len(starts))  # token i of the block is i: sentences stay recognisable
    permuted = ids[permutation_order(starts, ratio, np.random.default_rng(seed))]
    before = [tuple(s) for s in np.split(ids, np.flatnonzero(starts)[1:])]
    after = [tuple(s) for s in np.split(permuted, np.flatnonzero(starts[permuted])[1:])]
    assert collections.Counter(after) == collections.Counter(before)
    assert sum(a != b for a, b in zip(before, after, strict=True)) <= int(
        np.ceil(len(sizes) * ratio)
    )


def test_permutation_alone_reorders_real_sentences(
    tables: TokenTables, blocks: list[np.ndarray]
) -> None:
    noise = BartNoiseSettings(mask_ratio=0.0, permute_sentence_ratio=1.0, noise="exact-ratio")
    changed = 0
    for index, block in enumerate(blocks[:30]):
        out = bart_noise(block, tables, noise, 4, np.random.default_rng(index))
        assert sorted(out.tolist()) == sorted(block.tolist())
        changed += not np.array_equal(out, block)
    assert changed >= 25
