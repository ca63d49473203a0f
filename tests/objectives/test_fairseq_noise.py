"""BART noise, fairseq variant: equal to our port of fairseq's algorithm, and fairseq's
statistics."""

from __future__ import annotations

import dataclasses
import gzip
import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from noise_statistics import table_statistics
from reference_fairseq import FairseqNoise, NumpyDraws, TorchDraws
from scipy import stats

from seq2seq_es.objectives.bart_settings import BartNoiseSettings
from seq2seq_es.objectives.exact_ratio_noise import bart_noise
from seq2seq_es.objectives.fairseq_noise import fairseq_noise, permute_sentences, poisson_cdf
from seq2seq_es.objectives.packing import pack_blocks
from seq2seq_es.objectives.token_tables import TokenTables
from seq2seq_es.tokenizer.bpe import train_byte_level_bpe

MASK, BOS, EOS = 4, 0, 2


def reference(tables: TokenTables, noise: BartNoiseSettings, draws: object) -> FairseqNoise:
    return FairseqNoise(
        word_start=tables.fairseq_word_start,
        full_stop_id=tables.full_stop_id,
        mask_id=MASK,
        bos_id=BOS,
        eos_id=EOS,
        mask_ratio=noise.mask_ratio,
        random_ratio=noise.random_ratio,
        insert_ratio=noise.insert_ratio,
        permute_sentence_ratio=noise.permute_sentence_ratio,
        replace_length=noise.replace_length,
        draws=draws,
    )  # type: ignore[arg-type]


noise_settings = st.builds(
    BartNoiseSettings,
    mask_ratio=st.sampled_from([0.0, 0.1, 0.3, 0.5, 0.9]),
    poisson_lambda=st.sampled_from([0.5, 3.0, 6.0]),
    permute_sentence_ratio=st.sampled_from([0.0, 0.5, 1.0]),
    insert_ratio=st.sampled_from([0.0, 0.1]),
    random_ratio=st.sampled_from([0.0, 0.1, 1.0]),
    replace_length=st.sampled_from([1, 0, -1]),
)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), noise=noise_settings, seed=st.integers(0, 2**32 - 1))
def test_equals_the_port_of_fairseq_for_the_same_draws(
    tables: TokenTables,
    blocks: list[np.ndarray],
    data: st.DataObject,
    noise: BartNoiseSettings,
    seed: int,
) -> None:
    """Random token soup (specials and runs of "." included) and real packed text, every setting."""
    if data.draw(st.booleans()):
        soup = st.one_of(st.integers(0, len(tables.special) - 1), st.just(tables.full_stop_id))
        ids = np.asarray(data.draw(st.lists(soup, max_size=60)), dtype=np.int64)
    else:
        block = blocks[data.draw(st.integers(0, len(blocks) - 1))]
        ids = block[: data.draw(st.integers(0, len(block)))]
    ours = fairseq_noise(ids, tables, noise, MASK, np.random.default_rng(seed))
    draws = NumpyDraws(np.random.default_rng(seed), noise.poisson_lambda, tables.random_ids)
    assert ours.tolist() == reference(tables, noise, draws)(ids.tolist())


def test_span_length_table_is_fairseqs() -> None:
    """Poisson(3) for k = 0 … 17, the first k whose probability is below 1e-7, renormalised."""
    probabilities = np.diff(poisson_cdf(3.0), prepend=0.0)
    exact = stats.poisson.pmf(np.arange(len(probabilities)), 3.0)
    assert len(probabilities) == 18 and exact[-1] < 1e-7 <= exact[-2]
    assert np.allclose(probabilities, exact / exact.sum(), rtol=1e-8, atol=0)


def test_tokens_without_a_leading_space_are_never_a_span_start(
    tables: TokenTables, blocks: list[np.ndarray]
) -> None:
    """fairseq's word starts: a block's first token, when it continues a word, stays as it is."""
    noise = BartNoiseSettings(permute_sentence_ratio=0.0, random_ratio=0.0)
    checked = 0
    for index, block in enumerate(blocks):
        if tables.fairseq_word_start[block[0]]:
            continue
        out = fairseq_noise(block, tables, noise, MASK, np.random.default_rng(index))
        assert out[0] == block[0]
        checked += 1
    assert checked >= 50


def test_inserted_tokens_have_exactly_ceil_n_random_ratio_random_ones(
    tables: TokenTables, blocks: list[np.ndarray]
) -> None:
    """fairseq's add_insertion_noise: n = ceil(len(<s> body </s>) * insert_ratio) new tokens,
    ceil(n * random_ratio) of them random (a marked pool makes them countable)."""
    marked = dataclasses.replace(tables, random_ids=np.array([len(tables.special)]))
    noise = BartNoiseSettings(
        mask_ratio=0.0, permute_sentence_ratio=0.0, insert_ratio=0.1, random_ratio=0.1
    )
    for index, block in enumerate(blocks[:40]):
        out = fairseq_noise(block, marked, noise, MASK, np.random.default_rng(index))
        n = math.ceil((len(block) + 2) * 0.1)
        assert len(out) == len(block) + n
        assert np.count_nonzero(out == len(tables.special)) == math.ceil(n * 0.1)
        assert np.count_nonzero(out == MASK) == n - math.ceil(n * 0.1)
        assert out[(out != MASK) & (out != len(tables.special))].tolist() == block.tolist()


def test_sentences_are_cut_after_full_stops_only(tables: TokenTables) -> None:
    """fairseq with the GPT-2 BPE: a sentence ends after a "." that follows no other "."; the body's
    last token is made a full stop, but here it follows a "." so it ends nothing and stays in
    place."""
    dot = tables.full_stop_id
    ids = np.array([10, 11, dot, 12, dot, dot, 13, 14, 15, dot, 16], dtype=np.int64)
    sentences = [[10, 11, dot], [12, dot], [dot, 13, 14, 15, dot]]
    orders = {
        tuple([*itertools.chain.from_iterable(sentences[i] for i in order), 16]): order
        for order in itertools.permutations(range(len(sentences)))
    }
    seen = {
        orders[tuple(permute_sentences(ids.copy(), dot, 1.0, np.random.default_rng(seed)).tolist())]
        for seed in range(60)
    }
    assert len(seen) == 6


def test_touching_spans_stay_two_masks_and_overlapping_ones_merge(
    tables: TokenTables, blocks: list[np.ndarray]
) -> None:
    """What the old docstring got wrong: fairseq does not join touching spans into one <mask>."""
    noise = BartNoiseSettings(permute_sentence_ratio=0.0, random_ratio=0.0)
    double = 0
    for index, block in enumerate(blocks):
        out = fairseq_noise(block, tables, noise, MASK, np.random.default_rng(index))
        double += bool(np.any((out[1:] == MASK) & (out[:-1] == MASK)))
    assert double > len(blocks) // 10


# --- statistics on real text: ours vs fairseq's own (torch) random draws
# --------------------------------

BLOCKS, BODY = 2000, 510


@pytest.fixture(scope="module")
def real_blocks(shared_data: Path) -> tuple[TokenTables, list[np.ndarray]]:
    """2,000 blocks of 510 tokens (a 512-token BART example) of pretrain/sample.jsonl.gz, 8k
    byte-level BPE."""
    with gzip.open(shared_data / "pretrain" / "sample.jsonl.gz", "rt", encoding="utf-8") as handle:
        texts = [json.loads(line)["text"] for line in handle]
    tokenizer = train_byte_level_bpe(texts, 8000, max_chars=2_000_000)
    batches = (
        tokenizer(texts[i : i + 50], add_special_tokens=False)["input_ids"]
        for i in range(0, len(texts), 50)
    )
    blocks = list(
        itertools.islice(
            pack_blocks(itertools.chain.from_iterable(batches), BODY, tokenizer.eos_token_id),
            BLOCKS,
        )
    )
    assert len(blocks) == BLOCKS
    return TokenTables.from_tokenizer(tokenizer), blocks


def test_statistics_match_fairseqs_own_random_draws(
    real_blocks: tuple[TokenTables, list[np.ndarray]],
) -> None:
    """The defaults (mask 0.3, Poisson 3, replace_length 1, random 0.1, permutation 1) on 2,000
    blocks:
    ours (per-example numpy seeds) and the fairseq port drawing from torch's generator, as fairseq
    does, agree within 4 standard errors on every statistic; the exact-ratio variant does not."""
    tables, blocks = real_blocks
    marked_id = len(tables.special)
    marked = dataclasses.replace(tables, random_ids=np.array([marked_id]))
    noise = BartNoiseSettings()
    ours = [
        fairseq_noise(b, marked, noise, MASK, np.random.default_rng([0, 0, i]))
        for i, b in enumerate(blocks)
    ]
    torch.manual_seed(0)
    port = reference(marked, noise, TorchDraws(noise.poisson_lambda, marked.random_ids))
    theirs = [np.asarray(port(b.tolist())) for b in blocks]
    variant = [
        bart_noise(
            b,
            marked,
            dataclasses.replace(noise, noise="exact-ratio"),
            MASK,
            np.random.default_rng([0, 0, i]),
        )
        for i, b in enumerate(blocks)
    ]
    a, b, c = (table_statistics(blocks, x, MASK, marked_id) for x in (ours, theirs, variant))
    for name in a:
        error = math.sqrt(a[name].var() / BLOCKS + b[name].var() / BLOCKS)
        print(
            f"{name}: ours {a[name].mean():.4f} fairseq {b[name].mean():.4f} ± {error:.4f} "
            f"exact-ratio {c[name].mean():.4f}"
        )
        assert abs(a[name].mean() - b[name].mean()) < 4 * error, name
    share = "share of tokens masked"
    assert abs(c[share].mean() - 0.30) < 0.01 < abs(a[share].mean() - 0.30), (
        "fairseq masks fewer than asked"
    )
