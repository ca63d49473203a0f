"""T5 span corruption (Raffel et al., 2020, §3.1.4), with t5's length arithmetic.

What T5S was pretrained with (nanoT5 settings): 15% of the tokens (noise density
0.15) are dropped in spans of mean length 3; each dropped span is replaced in the
input by one sentinel ``<extra_id_k>`` (k = 0, 1, … in order), and the target lists
each sentinel followed by the tokens it replaced, then ``</s>``.

Two pieces of t5 arithmetic, kept apart as t5 keeps them (both checked against our
port of t5 in tests/objectives/reference_t5.py over a grid of settings):

* :func:`compute_input_and_target_lengths` is t5's ``random_spans_helper``
  (``t5/data/preprocessors.py``): the raw length to cut the corpus into and the target
  length, e.g. 512 input tokens ← 568 raw tokens → 114 targets; at density 0.5 it
  gives up one raw token to keep the targets no longer than the inputs (512 ← 766 → 512).
* :func:`span_counts` is seqio's ``random_spans_noise_mask``: noise tokens and spans of
  a raw length (float32 rounding, at least one of each), e.g. 568 → 85 noise tokens
  in 28 spans (483 + 28 sentinels + ``</s>`` = 512; 85 + 28 + ``</s>`` = 114).

The two do not always agree: the helper rounds in float64 without clamping, the mask
in float32 with clamping. When the corruption of a raw block is shorter than t5's
lengths (densities of 0.5 and above, tiny lengths), the collator pads it as t5's
pipeline does; when it is longer, t5 would silently cut tokens off the end of the
input or target, and the collator refuses the setting with a ConfigError naming
lengths that work (for density 0.15, mean 3, input lengths such as 172, 316 or 352).

Every example of a raw length has the same number of noise tokens and spans (spans
are a random segmentation of the noise tokens interleaved with a random segmentation
of the others, starting with a non-noise span), so the whole batch is corrupted with
array operations; only the two segmentations are drawn per example, from
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
    """Noise tokens and spans of a raw length, as seqio's ``random_spans_noise_mask``.

    float32 products rounded half to even (``tf.round``), at least one noise token, one
    non-noise token and one span. One guard of ours: no more spans than non-noise tokens
    (seqio's segmentation fails there, e.g. density 0.9 with spans of mean 1).
    """
    length = max(length, 2)
    noise = int(np.round(np.float32(length) * np.float32(noise_density)))
    noise = min(max(noise, 1), length - 1)
    spans = max(int(np.round(np.float32(noise) / np.float32(mean_span_length))), 1)
    return SpanCounts(noise, min(spans, length - noise))


def corrupted_lengths(
    raw_length: int, noise_density: float, mean_span_length: float
) -> tuple[int, int]:
    """(input, target) lengths of the corruption of a raw block: one sentinel per span, plus
    ``</s>``."""
    noise, spans = span_counts(raw_length, noise_density, mean_span_length)
    return raw_length - noise + spans + 1, noise + spans + 1


def compute_input_and_target_lengths(
    input_length: int, noise_density: float = 0.15, mean_span_length: float = 3.0
) -> tuple[int, int]:
    """(raw tokens per example, target length): t5's ``random_spans_helper`` with one sentinel per
    span.

    The largest raw length whose corrupted input (non-noise tokens + one sentinel per
    span + ``</s>``, counted with Python rounding and no clamping) fits ``input_length``,
    searched upward from ``input_length - 1``; then, at density exactly 0.5, one raw token
    and one target token less when the targets would be longer than the inputs.
    For 512, 0.15, 3 → (568, 114).
    """
    if input_length < 3:
        raise ConfigError(
            f"input_length={input_length} is too short for span corruption (need >= 3)."
        )
    if not 0 < noise_density < 1 or mean_span_length < 1:
        raise ConfigError(
            f"noise_density={noise_density} must be in (0, 1) and mean_span_length="
            f"{mean_span_length} >= 1."
        )

    def lengths(raw: int) -> tuple[int, int]:
        noise = round(raw * noise_density)
        spans = round(noise / mean_span_length)
        return raw - noise + spans + 1, noise + spans + 1

    raw = input_length - 1
    while lengths(raw + 1)[0] <= input_length:
        raw += 1
    inputs, targets = lengths(raw)
    if noise_density == 0.5 and targets > inputs:
        raw, targets = raw - 1, targets - 1
    return raw, targets


def lengths_that_fit(input_length: int, noise_density: float, mean_span_length: float) -> list[int]:
    """Input lengths near ``input_length`` whose corruption fits t5's lengths (for error
    messages)."""
    fitting = []
    for candidate in sorted(
        range(max(3, input_length - 20), input_length + 21), key=lambda n: abs(n - input_length)
    ):
        raw, target = compute_input_and_target_lengths(candidate, noise_density, mean_span_length)
        actual_input, actual_target = corrupted_lengths(raw, noise_density, mean_span_length)
        if actual_input <= candidate and actual_target <= target:
            fitting.append(candidate)
    return sorted(fitting[:2])


def random_segmentation(items: int, segments: int, rng: np.random.Generator) -> np.ndarray:
    """Lengths (each >= 1) of a uniformly random split of ``items`` into ``segments`` parts."""
    cuts = np.sort(rng.choice(items - 1, size=segments - 1, replace=False)) + 1
    return np.diff(np.concatenate([[0], cuts, [items]]))


def noise_masks(
    rngs: Sequence[np.random.Generator], length: int, noise_density: float, mean_span_length: float
) -> np.ndarray:
    """``(len(rngs), length)`` boolean noise masks, one per generator (seqio's
    ``random_spans_noise_mask``)."""
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


def span_corruption(
    ids: np.ndarray, mask: np.ndarray, sentinel_ids: np.ndarray, eos_id: int
) -> tuple[np.ndarray, np.ndarray]:
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
    """T5's convention: ``<extra_id_i>`` is id ``vocab_size - 1 - i`` (of the SentencePiece
    vocabulary)."""
    return vocab_size - 1 - np.arange(count)


def sentinel_ids_from_tokenizer(tokenizer: Any) -> np.ndarray:
    """The ids of ``<extra_id_0>``, ``<extra_id_1>``, … in order, looked up in ``tokenizer``."""
    vocab = tokenizer.get_vocab()
    ids: list[int] = []
    while f"<extra_id_{len(ids)}>" in vocab:
        ids.append(vocab[f"<extra_id_{len(ids)}>"])
    if not ids:
        raise ConfigError(
            "The tokenizer has no <extra_id_0> sentinel: T5 span corruption needs a T5 "
            "tokenizer with sentinels (<extra_id_0> … <extra_id_99>)."
        )
    return np.asarray(ids, dtype=np.int64)


def sentinel_ids_for(choice: str, tokenizer: Any, count: int) -> np.ndarray:
    """The sentinels of ``objective.sentinels``: ``extra_ids`` looks the ``<extra_id_N>``
    tokens up; ``top_of_vocabulary`` takes the ``count`` highest ids of the tokenizer, the first
    span's being ``len(tokenizer) - 1`` (t5 ``preprocessors.sentinel_id`` and
    ``noise_span_to_unique_sentinel``: the vocabulary's last id, then downwards), which are
    ordinary pieces when the vocabulary has no extra ids."""
    if choice == "extra_ids":
        return sentinel_ids_from_tokenizer(tokenizer)
    return t5_sentinel_ids(len(tokenizer), min(count, len(tokenizer)))


class SpanCorruptionCollator:
    """``[(index, raw_block), ...]`` → a T5 batch with inputs of ``input_length`` and labels
    of ``target_length`` tokens (t5's ``random_spans_helper`` lengths).

    Raw blocks must hold ``raw_length`` tokens: pack with
    ``pack_blocks(docs, collator.raw_length, eos_id)``. At the usual settings (density
    0.15, mean 3, 512 inputs) the corruption fills both lengths exactly; where t5's
    arithmetic leaves room it is padded (``pad_id`` in the input, attention mask 0;
    -100 in the labels). Decoder inputs are the labels shifted right after
    ``decoder_start_id`` (``<pad>`` for T5). Picklable.
    """

    def __init__(
        self,
        input_length: int,
        sentinel_ids: Sequence[int] | np.ndarray,
        *,
        eos_id: int,
        decoder_start_id: int,
        seed: int,
        noise_density: float = 0.15,
        mean_span_length: float = 3.0,
        pad_id: int = 0,
    ) -> None:
        self.raw_length, self.target_length = compute_input_and_target_lengths(
            input_length, noise_density, mean_span_length
        )
        self.input_length, self.noise_density, self.mean_span_length = (
            input_length,
            noise_density,
            mean_span_length,
        )
        actual_input, actual_target = corrupted_lengths(
            self.raw_length, noise_density, mean_span_length
        )
        if actual_input > input_length or actual_target > self.target_length:
            fitting = lengths_that_fit(input_length, noise_density, mean_span_length)
            raise ConfigError(
                f"input_length={input_length} with noise_density={noise_density}, "
                f"mean_span_length={mean_span_length}: t5's random_spans_helper gives "
                f"{self.raw_length} raw tokens and {self.target_length} targets, but its noise "
                f"mask makes {actual_input} input and {actual_target} target tokens of them (its "
                "float32 rounding differs), so t5 would cut tokens off. Use input_length "
                f"{' or '.join(map(str, fitting))}."
            )
        self.sentinel_ids = np.asarray(sentinel_ids, dtype=np.int64)
        spans = span_counts(self.raw_length, noise_density, mean_span_length).noise_spans
        if spans > len(self.sentinel_ids):
            raise ConfigError(
                f"input_length={input_length} needs {spans} sentinels per example but the "
                f"tokenizer has {len(self.sentinel_ids)}; use a shorter input or more sentinels."
            )
        self.eos_id, self.decoder_start_id, self.pad_id, self.seed = (
            eos_id,
            decoder_start_id,
            pad_id,
            seed,
        )
        self.corrupted_input_length = actual_input
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __call__(
        self, batch: Sequence[tuple[int, Sequence[int] | np.ndarray]]
    ) -> dict[str, torch.Tensor]:
        ids = np.asarray([block for _, block in batch], dtype=np.int64)
        if ids.ndim != 2 or ids.shape[1] != self.raw_length:
            raise DataError(
                f"span corruption needs blocks of exactly {self.raw_length} tokens (for "
                f"{self.input_length} input tokens), got shape {ids.shape}. Pack the corpus "
                f"with block_size={self.raw_length}."
            )
        rngs = [np.random.default_rng([self.seed, self.epoch, index]) for index, _ in batch]
        mask = noise_masks(rngs, self.raw_length, self.noise_density, self.mean_span_length)
        inputs, labels = span_corruption(ids, mask, self.sentinel_ids, self.eos_id)
        inputs = _pad_columns(inputs, self.input_length, self.pad_id)
        labels = _pad_columns(labels, self.target_length, -100)
        decoder_input_ids = np.empty_like(labels)
        decoder_input_ids[:, 0] = self.decoder_start_id
        decoder_input_ids[:, 1:] = np.where(labels[:, :-1] == -100, self.pad_id, labels[:, :-1])
        attention_mask = np.broadcast_to(
            np.arange(self.input_length) < self.corrupted_input_length, inputs.shape
        )
        return {
            "input_ids": torch.from_numpy(inputs),
            "attention_mask": torch.from_numpy(attention_mask.astype(np.int64)),
            "decoder_input_ids": torch.from_numpy(decoder_input_ids),
            "labels": torch.from_numpy(labels),
        }


def _pad_columns(rows: np.ndarray, width: int, value: int) -> np.ndarray:
    """``rows`` right-padded with ``value`` to ``width`` columns (never cut)."""
    if rows.shape[1] >= width:
        return rows
    return np.pad(rows, ((0, 0), (0, width - rows.shape[1])), constant_values=value)
