"""T5 span corruption (Raffel et al., 2020, §3.1.4), with t5/seqio's exact length arithmetic.

What T5S was pretrained with (nanoT5 settings): 15% of the tokens (noise density
0.15) are dropped in spans of mean length 3; each dropped span is replaced in the
input by one sentinel ``<extra_id_k>`` (k = 0, 1, … in order), and the target lists
each sentinel followed by the tokens it replaced, then ``</s>``.

Lengths are exact, never padded: :func:`compute_input_and_target_lengths` (as in
t5.data.preprocessors / HF ``run_t5_mlm_flax``) gives the raw block length whose
corruption fills the model input exactly: 512 input tokens ← 568 raw tokens
(85 noise tokens in 28 spans: 483 + 28 sentinels + ``</s>`` = 512) → 114 targets
(85 + 28 + ``</s>``). Every example of a raw length has the same number of noise
tokens and spans (seqio's ``random_spans_noise_mask``: spans are a random
segmentation of the noise tokens interleaved with a random segmentation of the
others, starting with a non-noise span), so the whole batch is corrupted with array
operations; only the two segmentations are drawn per example, from
``numpy.random.default_rng([seed, epoch, index])``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import torch

from seq2seq_es.errors import ConfigError, DataError


class SpanCounts(NamedTuple):
    noise_tokens: int
    noise_spans: int


def span_counts(length: int, noise_density: float, mean_span_length: float) -> SpanCounts:
    """Noise tokens and spans for a raw length (seqio: both rounded, clamped to >= 1 span)."""
    noise = min(max(round(length * noise_density), 1), length - 1)
    spans = min(max(round(noise / mean_span_length), 1), noise, length - noise)
    return SpanCounts(noise, spans)


def compute_input_and_target_lengths(input_length: int, noise_density: float = 0.15,
                                     mean_span_length: float = 3.0) -> tuple[int, int]:
    """(raw tokens per example, target length) so that the input has exactly ``input_length``.

    The largest raw length whose corrupted input (non-noise tokens + one sentinel per
    span + ``</s>``) still fits ``input_length``; for 512, 0.15, 3 → (568, 114).
    """
    if input_length < 3:
        raise ConfigError(f"input_length={input_length} is too short for span corruption (need >= 3).")
    if not 0 < noise_density < 1 or mean_span_length < 1:
        raise ConfigError(f"noise_density={noise_density} must be in (0, 1) and mean_span_length="
                          f"{mean_span_length} >= 1.")

    def lengths(raw: int) -> tuple[int, int]:
        noise, spans = span_counts(raw, noise_density, mean_span_length)
        return raw - noise + spans + 1, noise + spans + 1

    raw = input_length
    while lengths(raw + 1)[0] <= input_length:
        raw += 1
    while raw > 2 and lengths(raw)[0] > input_length:  # only for tiny lengths, where clamping adds a span
        raw -= 1
    if lengths(raw)[0] != input_length:  # rounding can skip a length in degenerate settings
        raise ConfigError(f"No raw length gives exactly input_length={input_length} with noise_density="
                          f"{noise_density}, mean_span_length={mean_span_length}; try a neighbouring length.")
    return raw, lengths(raw)[1]


def random_segmentation(items: int, segments: int, rng: np.random.Generator) -> np.ndarray:
    """Lengths (each >= 1) of a uniformly random split of ``items`` into ``segments`` parts."""
    cuts = np.sort(rng.choice(items - 1, size=segments - 1, replace=False)) + 1
    return np.diff(np.concatenate([[0], cuts, [items]]))


def noise_masks(rngs: Sequence[np.random.Generator], length: int, noise_density: float,
                mean_span_length: float) -> np.ndarray:
    """``(len(rngs), length)`` boolean noise masks, one per generator (seqio's ``random_spans_noise_mask``)."""
    noise, spans = span_counts(length, noise_density, mean_span_length)
    interleaved = np.empty((len(rngs), 2 * spans), dtype=np.int64)
    for row, rng in enumerate(rngs):
        interleaved[row, 0::2] = random_segmentation(length - noise, spans, rng)
        interleaved[row, 1::2] = random_segmentation(noise, spans, rng)
    boundaries = np.cumsum(interleaved, axis=1)[:, :-1]
    flips = np.zeros((len(rngs), length), dtype=np.int64)
    np.put_along_axis(flips, boundaries, 1, axis=1)
    return np.cumsum(flips, axis=1) % 2 == 1


def replace_spans(ids: np.ndarray, mask: np.ndarray, sentinel_ids: np.ndarray) -> np.ndarray:
    """Each run of ``mask`` in each row → one sentinel (k-th run → ``sentinel_ids[k]``).

    All rows must have the same number of masked tokens and runs (true for
    :func:`noise_masks`), so the result is again a rectangle.
    """
    previous = np.zeros_like(mask)
    previous[:, 1:] = mask[:, :-1]
    first = mask & ~previous
    run = np.cumsum(first, axis=1) - 1
    out = np.where(first, sentinel_ids[np.clip(run, 0, None)], ids)
    return out[~mask | first].reshape(len(ids), -1)


def span_corruption(ids: np.ndarray, mask: np.ndarray, sentinel_ids: np.ndarray,
                    eos_id: int) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, targets) of a batch: noise spans → sentinels in the input; the target
    holds each sentinel then the tokens it replaced; both end with ``</s>``.

    The targets use the same function on the complementary mask: the first run of
    non-noise tokens gets ``<extra_id_0>``, so in the target ``<extra_id_k>`` precedes
    exactly the tokens that ``<extra_id_k>`` stands for in the input.
    """
    eos = np.full((len(ids), 1), eos_id, dtype=ids.dtype)
    inputs = np.concatenate([replace_spans(ids, mask, sentinel_ids), eos], axis=1)
    targets = np.concatenate([replace_spans(ids, ~mask, sentinel_ids), eos], axis=1)
    return inputs, targets


def t5_sentinel_ids(vocab_size: int, count: int = 100) -> np.ndarray:
    """T5's convention: ``<extra_id_i>`` is id ``vocab_size - 1 - i`` (of the SentencePiece vocabulary)."""
    return vocab_size - 1 - np.arange(count)


def sentinel_ids_from_tokenizer(tokenizer: Any) -> np.ndarray:
    """The ids of ``<extra_id_0>``, ``<extra_id_1>``, … in order, looked up in ``tokenizer``."""
    vocab = tokenizer.get_vocab()
    ids: list[int] = []
    while f"<extra_id_{len(ids)}>" in vocab:
        ids.append(vocab[f"<extra_id_{len(ids)}>"])
    if not ids:
        raise ConfigError("The tokenizer has no <extra_id_0> sentinel: T5 span corruption needs a T5 "
                          "tokenizer with sentinels (<extra_id_0> … <extra_id_99>).")
    return np.asarray(ids, dtype=np.int64)


class SpanCorruptionCollator:
    """``[(index, raw_block), ...]`` → a T5 batch with inputs of exactly ``input_length``
    and labels of exactly ``target_length`` tokens (no padding, attention mask all ones).

    Raw blocks must hold ``raw_length`` tokens: pack with
    ``pack_blocks(docs, collator.raw_length, eos_id)``. Decoder inputs are the labels
    shifted right after ``decoder_start_id`` (``<pad>`` for T5). Picklable.
    """

    def __init__(self, input_length: int, sentinel_ids: Sequence[int] | np.ndarray, *, eos_id: int,
                 decoder_start_id: int, seed: int, noise_density: float = 0.15,
                 mean_span_length: float = 3.0) -> None:
        self.raw_length, self.target_length = compute_input_and_target_lengths(
            input_length, noise_density, mean_span_length)
        self.input_length, self.noise_density, self.mean_span_length = input_length, noise_density, mean_span_length
        self.sentinel_ids = np.asarray(sentinel_ids, dtype=np.int64)
        spans = span_counts(self.raw_length, noise_density, mean_span_length).noise_spans
        if spans > len(self.sentinel_ids):
            raise ConfigError(f"input_length={input_length} needs {spans} sentinels per example but the "
                              f"tokenizer has {len(self.sentinel_ids)}; use a shorter input or more sentinels.")
        self.eos_id, self.decoder_start_id, self.seed = eos_id, decoder_start_id, seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __call__(self, batch: Sequence[tuple[int, Sequence[int] | np.ndarray]]) -> dict[str, torch.Tensor]:
        ids = np.asarray([block for _, block in batch], dtype=np.int64)
        if ids.ndim != 2 or ids.shape[1] != self.raw_length:
            raise DataError(f"span corruption needs blocks of exactly {self.raw_length} tokens (for "
                            f"{self.input_length} input tokens), got shape {ids.shape}. Pack the corpus "
                            f"with block_size={self.raw_length}.")
        rngs = [np.random.default_rng([self.seed, self.epoch, index]) for index, _ in batch]
        mask = noise_masks(rngs, self.raw_length, self.noise_density, self.mean_span_length)
        inputs, labels = span_corruption(ids, mask, self.sentinel_ids, self.eos_id)
        decoder_input_ids = np.empty_like(labels)
        decoder_input_ids[:, 0] = self.decoder_start_id
        decoder_input_ids[:, 1:] = labels[:, :-1]
        return {
            "input_ids": torch.from_numpy(inputs),
            "attention_mask": torch.ones(inputs.shape, dtype=torch.long),
            "decoder_input_ids": torch.from_numpy(decoder_input_ids),
            "labels": torch.from_numpy(labels),
        }
