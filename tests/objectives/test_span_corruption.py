"""T5 span corruption: exact lengths, lossless sentinels, equal to the per-token reference."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import reference_noise
import reference_t5
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from spanish_samples import spanish_documents
from transformers import PreTrainedTokenizerFast

from seq2seq_es.errors import ConfigError, DataError
from seq2seq_es.objectives.packing import pack_blocks
from seq2seq_es.objectives.span_corruption import (
    SpanCorruptionCollator,
    compute_input_and_target_lengths,
    corrupted_lengths,
    noise_masks,
    sentinel_ids_from_tokenizer,
    span_corruption,
    span_counts,
    t5_sentinel_ids,
)
from seq2seq_es.tokenizer.unigram import train_unigram

VOCAB = 1000
SENTINELS = t5_sentinel_ids(VOCAB)  # 999, 998, …
EOS, PAD = 1, 0


def raw_blocks(count: int, length: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(2, VOCAB - 100, size=length) for _ in range(count)]


def test_t5_base_lengths() -> None:
    """The numbers of t5 and nanoT5 for T5 v1.1 pretraining, and t5's density-0.5 step."""
    assert compute_input_and_target_lengths(512, 0.15, 3.0) == (568, 114)
    assert corrupted_lengths(568, 0.15, 3.0) == (512, 114)
    # 767 raw tokens would give 513 targets for 512 inputs: t5 drops one raw and one target token
    assert compute_input_and_target_lengths(512, 0.5, 3.0) == (766, 512)
    assert corrupted_lengths(766, 0.5, 3.0) == (512, 512)


DENSITIES = [
    0.01,
    0.05,
    0.1,
    0.15,
    0.2,
    0.25,
    0.3,
    1 / 3,
    0.4,
    0.45,
    0.49,
    0.5,
    0.51,
    0.55,
    0.6,
    0.7,
    0.8,
    0.85,
    0.9,
    0.95,
    0.99,
]
MEANS = [1.0, 1.5, 2.0, 3.0, 5.0, 8.0, 10.0]
LENGTHS = [*range(3, 160), 255, 256, 257, 383, 384, 511, 512, 513, 568, 1023, 1024, 2048]


@pytest.mark.parametrize("mean", MEANS)
def test_lengths_equal_t5_random_spans_helper(mean: float) -> None:
    """Every (length, density) of the grid: our raw and target lengths are t5's."""
    for density in DENSITIES:
        for length in LENGTHS:
            expected = reference_t5.random_spans_helper(length, density, mean)
            assert compute_input_and_target_lengths(length, density, mean) == expected, (
                length,
                density,
                mean,
            )


@given(length=st.integers(2, 5000), density=st.floats(0.001, 0.999), mean=st.floats(1.0, 20.0))
def test_noise_counts_equal_seqio_random_spans_noise_mask(
    length: int, density: float, mean: float
) -> None:
    noise, spans = reference_t5.noise_mask_counts(length, density, mean)
    assert span_counts(length, density, mean) == (noise, min(spans, max(length, 2) - noise))


def test_float32_rounding_as_seqio() -> None:
    """190 × 0.15 is 28.499… in float64 but 28.500001 in float32: seqio's mask has 29 noise
    tokens."""
    assert round(190 * 0.15) == 28 and span_counts(190, 0.15, 3.0) == (29, 10)


def test_collator_refuses_lengths_t5_would_cut() -> None:
    """172 inputs: the helper's 190 raw tokens and 38 targets, but the mask makes 40 targets."""
    assert compute_input_and_target_lengths(172, 0.15, 3.0) == (190, 38)
    assert corrupted_lengths(190, 0.15, 3.0) == (172, 40)
    with pytest.raises(ConfigError, match=r"t5 would cut tokens off\. Use input_length 171 or 173"):
        SpanCorruptionCollator(172, SENTINELS, eos_id=EOS, decoder_start_id=PAD, seed=0)


def test_collator_pads_where_t5_leaves_room() -> None:
    """Density 0.8, mean 2: t5's raw length corrupts into fewer tokens than asked; padded as t5
    pads."""
    input_length, density, mean = 64, 0.8, 2.0
    raw, target = compute_input_and_target_lengths(input_length, density, mean)
    actual_input, actual_target = corrupted_lengths(raw, density, mean)
    assert actual_input < input_length and actual_target <= target
    collator = SpanCorruptionCollator(
        input_length,
        SENTINELS,
        eos_id=EOS,
        decoder_start_id=PAD,
        seed=0,
        noise_density=density,
        mean_span_length=mean,
        pad_id=PAD,
    )
    blocks = raw_blocks(3, raw)
    batch = collator(list(enumerate(blocks)))
    assert batch["input_ids"].shape == (3, input_length) and batch["labels"].shape == (3, target)
    assert batch["attention_mask"].sum(1).tolist() == [actual_input] * 3
    assert (batch["input_ids"][:, actual_input:] == PAD).all() and (
        batch["labels"][:, actual_target:] == -100
    ).all()
    for row in range(3):
        restored = reconstruct(
            batch["input_ids"][row, :actual_input].tolist(),
            batch["labels"][row, :actual_target].tolist(),
        )
        assert restored == blocks[row].tolist()


def test_collator_gives_exact_lengths_without_padding() -> None:
    collator = SpanCorruptionCollator(512, SENTINELS, eos_id=EOS, decoder_start_id=PAD, seed=3)
    assert (collator.raw_length, collator.target_length) == (568, 114)
    batch = collator(list(enumerate(raw_blocks(4, 568))))
    assert batch["input_ids"].shape == (4, 512) and batch["labels"].shape == (4, 114)
    assert batch["attention_mask"].all() and (batch["input_ids"] != PAD).all()
    assert (batch["input_ids"][:, -1] == EOS).all() and (batch["labels"][:, -1] == EOS).all()
    assert (batch["decoder_input_ids"][:, 0] == PAD).all()
    assert torch.equal(batch["decoder_input_ids"][:, 1:], batch["labels"][:, :-1])
    for row in batch["input_ids"]:
        sentinels = row[row >= VOCAB - 100]
        assert sentinels.tolist() == SENTINELS[:28].tolist(), (
            "28 sentinels, <extra_id_0> first, in order"
        )


def reconstruct_with(inputs: list[int], targets: list[int], sentinel_ids: np.ndarray) -> list[int]:
    """Put every sentinel's target tokens back in its place in the input."""
    sentinels = set(sentinel_ids.tolist())
    fills: dict[int, list[int]] = {}
    current: list[int] = []
    for token in targets[:-1]:
        if token in sentinels:
            current = fills.setdefault(token, [])
        else:
            current.append(token)
    out = []
    for token in inputs[:-1]:
        out.extend(fills[token] if token in sentinels else [token])
    return out


def reconstruct(inputs: list[int], targets: list[int]) -> list[int]:
    return reconstruct_with(inputs, targets, SENTINELS)


@settings(max_examples=60, deadline=None)
@given(
    length=st.integers(2, 700),
    density=st.sampled_from([0.15, 0.3, 0.5, 0.9]),
    mean=st.sampled_from([1.0, 3.0, 10.0]),
    seed=st.integers(0, 2**32 - 1),
)
def test_interleaving_by_sentinel_restores_the_original(
    length: int, density: float, mean: float, seed: int
) -> None:
    assume(span_counts(length, density, mean).noise_spans <= len(SENTINELS))
    ids = raw_blocks(3, length, seed % 1000)
    rngs = [np.random.default_rng([seed, i]) for i in range(3)]
    mask = noise_masks(rngs, length, density, mean)
    inputs, targets = span_corruption(np.stack(ids), mask, SENTINELS, EOS)
    noise, spans = span_counts(length, density, mean)
    assert inputs.shape == (3, length - noise + spans + 1) and targets.shape == (
        3,
        noise + spans + 1,
    )
    for row in range(3):
        assert reconstruct(inputs[row].tolist(), targets[row].tolist()) == ids[row].tolist()
        expected = reference_noise.span_corruption(
            ids[row].tolist(),
            SENTINELS.tolist(),
            EOS,
            density,
            mean,
            np.random.default_rng([seed, row]),
        )
        assert (inputs[row].tolist(), targets[row].tolist()) == expected


def test_noise_statistics() -> None:
    """15% of the tokens in spans of mean length 3, spread over the whole block."""
    rngs = [np.random.default_rng(i) for i in range(400)]
    mask = noise_masks(rngs, 568, 0.15, 3.0)
    assert (mask.sum(1) == 85).all()
    starts = mask & ~np.pad(mask, ((0, 0), (1, 0)))[:, :-1]
    assert (starts.sum(1) == 28).all()
    assert not mask[:, 0].any() and mask[:, -1].all(), (
        "as seqio: a non-noise span first, a noise span last"
    )
    coverage = mask.mean(0)
    assert abs(coverage.mean() - 85 / 568) < 1e-9 and coverage[1:-10].max() < 0.25


def test_same_seed_same_batch_and_workers(tmp_path: object) -> None:
    collator = SpanCorruptionCollator(128, SENTINELS, eos_id=EOS, decoder_start_id=PAD, seed=11)
    items = list(enumerate(raw_blocks(12, collator.raw_length)))
    clone = pickle.loads(pickle.dumps(collator))
    first = collator(items[:4])
    assert all(torch.equal(first[k], clone(items[:4])[k]) for k in first)
    assert torch.equal(collator(items[2:3])["input_ids"][0], first["input_ids"][2])
    clone.set_epoch(1)
    assert not torch.equal(clone(items[:4])["input_ids"], first["input_ids"])

    order = [[0, 5, 2], [11, 3, 7], [1, 4, 6]]
    runs = [
        list(
            torch.utils.data.DataLoader(
                items, batch_sampler=order, collate_fn=collator, num_workers=w
            )
        )
        for w in (0, 2)
    ]
    for one, two in zip(*runs, strict=True):
        assert all(torch.equal(one[k], two[k]) for k in one)


def test_tiny_and_degenerate_inputs() -> None:
    """Below ~14 inputs t5's helper counts no noise at all while its mask masks one token:
    refused."""
    with pytest.raises(ConfigError, match="would cut"):
        SpanCorruptionCollator(8, SENTINELS, eos_id=EOS, decoder_start_id=PAD, seed=0)
    for input_length in (14, 15, 16, 20):
        collator = SpanCorruptionCollator(
            input_length, SENTINELS, eos_id=EOS, decoder_start_id=PAD, seed=0
        )
        batch = collator(list(enumerate(raw_blocks(2, collator.raw_length))))
        assert batch["input_ids"].shape == (2, input_length)
        assert batch["labels"].shape == (2, collator.target_length)
    special = SpanCorruptionCollator(16, SENTINELS, eos_id=EOS, decoder_start_id=PAD, seed=0)
    batch = special([(0, np.full(special.raw_length, EOS)), (1, np.full(special.raw_length, PAD))])
    assert batch["input_ids"].shape == (2, 16)


def test_user_errors_are_clear() -> None:
    collator = SpanCorruptionCollator(512, SENTINELS, eos_id=EOS, decoder_start_id=PAD, seed=0)
    with pytest.raises(DataError, match="exactly 568 tokens"):
        collator([(0, np.arange(100))])
    with pytest.raises(DataError, match="exactly 568 tokens"):
        collator([])
    with pytest.raises(ConfigError, match="sentinels"):
        SpanCorruptionCollator(4096, SENTINELS[:10], eos_id=EOS, decoder_start_id=PAD, seed=0)
    with pytest.raises(ConfigError, match="too short"):
        compute_input_and_target_lengths(2)


def test_with_a_real_t5_tokenizer(tokenizer: PreTrainedTokenizerFast) -> None:
    """Sentinels looked up by name follow T5's id convention; packed Spanish text round-trips."""
    t5_tokenizer = train_unigram(spanish_documents(0, 200), 470)
    sentinels = sentinel_ids_from_tokenizer(t5_tokenizer)
    assert (
        len(sentinels) == 100 and sentinels.tolist() == t5_sentinel_ids(len(t5_tokenizer)).tolist()
    )
    collator = SpanCorruptionCollator(
        64,
        sentinels,
        eos_id=t5_tokenizer.eos_token_id,
        decoder_start_id=t5_tokenizer.pad_token_id,
        seed=0,
    )
    documents = t5_tokenizer(spanish_documents(3, 20), add_special_tokens=False)["input_ids"]
    blocks = list(pack_blocks(documents, collator.raw_length, t5_tokenizer.eos_token_id))
    batch = collator(list(enumerate(blocks[:4])))
    assert batch["input_ids"].shape == (4, 64)
    for row in range(4):
        restored = reconstruct_with(
            batch["input_ids"][row].tolist(), batch["labels"][row].tolist(), sentinels
        )
        assert t5_tokenizer.decode(restored) == t5_tokenizer.decode(blocks[row])
    with pytest.raises(ConfigError, match="extra_id_0"):
        sentinel_ids_from_tokenizer(tokenizer)  # a BART tokenizer has no sentinels


def test_sentinel_choice_extra_ids_or_top_of_vocabulary() -> None:
    """objective.sentinels: `extra_ids` needs <extra_id_N> tokens; `top_of_vocabulary` takes
    ids V-1, V-2, … whatever they are, as t5's span corruption with a SentencePiece vocabulary
    of extra_ids=0 (the authors' T5S): there the sentinels are ordinary pieces."""
    from seq2seq_es.objectives.collators import build_collator
    from seq2seq_es.objectives.config import ObjectiveConfig

    top = ObjectiveConfig(sentinels="top_of_vocabulary")
    plain = train_unigram(spanish_documents(0, 200), 370, extra_ids=0)
    vocab = len(plain)
    with pytest.raises(ConfigError, match="extra_id_0"):
        build_collator(ObjectiveConfig(), "span-corruption", plain, 64, seed=0)
    collator, raw = build_collator(top, "span-corruption", plain, 64, seed=0)
    documents = plain(spanish_documents(3, 20), add_special_tokens=False)["input_ids"]
    blocks = list(pack_blocks(documents, raw, plain.eos_token_id))
    batch = collator(list(enumerate(blocks[:4])))
    same = SpanCorruptionCollator(
        64, t5_sentinel_ids(vocab, 64), eos_id=plain.eos_token_id,
        decoder_start_id=plain.pad_token_id, seed=0, pad_id=plain.pad_token_id,
    )(list(enumerate(blocks[:4])))  # fmt: skip
    assert all(torch.equal(batch[key], same[key]) for key in ("input_ids", "labels"))
    for row in range(4):
        labels = batch["labels"][row].tolist()
        assert labels[0] == vocab - 1 and labels.count(vocab - 2) >= 1, "spans 1, 2: V-1, V-2"
    assert not plain.convert_ids_to_tokens(vocab - 1).startswith("<extra_id"), "an ordinary piece"

    with_ids = train_unigram(spanish_documents(0, 200), 470)  # <extra_id_i> at V-1-i: the same
    by_name, _ = build_collator(ObjectiveConfig(), "span-corruption", with_ids, 64, seed=0)
    by_top, _ = build_collator(top, "span-corruption", with_ids, 64, seed=0)
    assert by_name.sentinel_ids.tolist()[:64] == by_top.sentinel_ids.tolist()
