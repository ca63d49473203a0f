"""BART's noise as fairseq's ``DenoisingDataset`` makes it (``noise: fairseq``, the default).

What BARTO was pretrained with (fairseq ``--mask 0.3 --mask-random 0.1
--poisson-lambda 3 --mask-length span-poisson --replace-length 1 --permute-sentences 1``),
re-implemented with numpy array operations. tests/objectives/reference_fairseq.py is
a line-by-line port of fairseq's ``fairseq/data/denoising_dataset.py`` (torch ops, its
``while`` loop over span positions); a test checks that the two give identical outputs
for the same random draws, and that the statistics match fairseq's own torch draws.

Per block (fairseq's ``source``: ``<s> body </s>``; we get the body and the collator
wraps it), in fairseq's order:

1. **Sentence permutation**: sentences end after a full-stop token ``.`` that does
   not follow another one (the body's last token always ends one);
   ``ceil(ratio * n)`` of them are shuffled among their places.
2. **Whole-word masking**: word starts are fairseq's (``TokenTables.fairseq_word_start``:
   a leading space, or a special token; ``<s>``/``</s>`` around the body never);
   ``ceil(words * mask_ratio)`` (in float32, as fairseq's tensor product) words are to
   be masked. Span lengths come from fairseq's truncated Poisson table until they sum
   to that budget (the last one trimmed); zero lengths become insertions. Each span
   starts at a distinct random word start and runs over its number of words (never
   past the body). Spans are drawn independently, so they can overlap: with
   ``replace_length=1`` the first token of each span becomes ``<mask>`` (a random
   token with probability ``random_ratio``) and the rest of each span is deleted, so
   overlapping spans merge into one ``<mask>`` and touching spans give ``<mask><mask>``.
   ``replace_length=0`` deletes whole spans; ``-1`` masks every token (fairseq writes
   span positions step by step, so where spans overlap the later step wins).
3. **Insertions**: the zero-length spans, then ``insert_ratio``: ``n`` new tokens at
   random places, of which ``ceil(n * random_ratio)`` are random tokens, the rest ``<mask>``.

Random draws come from the example's ``numpy.random.Generator`` (seeded
``[seed, epoch, index]`` by the collator); fairseq's ``numpy_seed(seed, epoch, index)``
seeds only numpy while its noise draws from torch's global generator, so its noise
is not reproducible per example; ours is. Random tokens are drawn from the
non-special ids (fairseq: any id but ``<s>``, which includes ``<pad>``, ``</s>`` and
``<mask>``): a ``<pad>`` in the input would be hidden by our attention mask.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from seq2seq_es.objectives.bart_settings import BartNoiseSettings
from seq2seq_es.objectives.noise_draws import lengths_for_budget, random_tokens
from seq2seq_es.objectives.token_tables import TokenTables


@lru_cache(maxsize=16)
def poisson_cdf(poisson_lambda: float) -> np.ndarray:
    """Cumulative distribution of fairseq's span lengths: Poisson(λ) probabilities for
    k = 0, 1, … up to the first one below 1e-7 (included), renormalised (torch
    ``Categorical`` normalises them)."""
    probabilities, term = [], math.exp(-poisson_lambda)
    for k in range(128):
        probabilities.append(term)
        if term < 1e-7:
            break
        term *= poisson_lambda / (k + 1)
    cdf = np.cumsum(probabilities)
    return cdf / cdf[-1]


def sample_lengths(cdf: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` draws from the categorical distribution with cumulative ``cdf`` (one uniform
    each)."""
    return np.minimum(np.searchsorted(cdf, rng.random(count), side="right"), len(cdf) - 1)


def span_lengths(budget: int, poisson_lambda: float, rng: np.random.Generator) -> np.ndarray:
    """fairseq's span lengths for a budget of words, zeros kept (they are insertions)."""
    cdf = poisson_cdf(poisson_lambda)
    return lengths_for_budget(budget, lambda k: sample_lengths(cdf, k, rng))


def permute_sentences(
    ids: np.ndarray, full_stop_id: int, ratio: float, rng: np.random.Generator
) -> np.ndarray:
    """fairseq's ``permute_sentences`` on a body: sentences end after the first ``.`` of a run."""
    if len(ids) == 0:
        return ids
    full_stop = ids == full_stop_id
    full_stop[-1] = True  # "pretend it ends with a full stop"
    ends = np.flatnonzero(full_stop & ~np.concatenate([[False], full_stop[:-1]])) + 1
    n = len(ends)
    n_permuted = math.ceil((n * 2 * ratio) / 2.0)
    chosen = rng.permutation(n)[:n_permuted]
    ordering = np.arange(n)
    ordering[chosen] = chosen[rng.permutation(n_permuted)]
    starts = np.concatenate([[0], ends[:-1]])
    sizes = (ends - starts)[ordering]
    offsets = np.cumsum(sizes) - sizes
    order = np.arange(len(ids))  # a tail after the last sentence end (a final "..") stays in place
    order[: ends[-1]] = np.repeat(starts[ordering] - offsets, sizes) + np.arange(ends[-1])
    return ids[order]


def insert_noise(
    ids: np.ndarray,
    share: float,
    settings: BartNoiseSettings,
    mask_id: int,
    pool: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """fairseq's ``add_insertion_noise``: ``n = ceil(len(source) * share)`` new tokens (the
    source counts ``<s>`` and ``</s>``), placed among the body's positions, of which the first
    ``ceil(n * random_ratio)`` drawn places get random tokens and the others ``<mask>``."""
    if share == 0.0:
        return ids
    n = math.ceil((len(ids) + 2) * share)
    places = rng.permutation(len(ids) + n)[:n]
    n_random = math.ceil(n * settings.random_ratio)
    out = np.empty(len(ids) + n, dtype=ids.dtype)
    inserted = np.zeros(len(ids) + n, dtype=bool)
    inserted[places] = True
    out[places[n_random:]] = mask_id
    out[places[:n_random]] = random_tokens(pool, n_random, rng)
    out[~inserted] = ids
    return out


def mask_words(
    ids: np.ndarray,
    word_start: np.ndarray,
    settings: BartNoiseSettings,
    mask_id: int,
    pool: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """fairseq's ``add_whole_word_mask`` (span-poisson) on a body, then its zero-length
    insertions."""
    starts = np.flatnonzero(word_start)
    budget = math.ceil(float(np.float32(len(starts)) * np.float32(settings.mask_ratio)))
    if budget == 0:
        return ids
    lengths = span_lengths(budget, settings.poisson_lambda, rng)
    insertions = int(np.count_nonzero(lengths == 0))
    lengths = lengths[lengths > 0]
    if len(lengths) == 0:
        return insert_noise(ids, insertions / (len(ids) + 2), settings, mask_id, pool, rng)
    ranks = rng.permutation(len(starts))[: len(lengths)]
    is_random = rng.random(len(lengths)) < settings.random_ratio
    # span i covers the tokens from its start to the start of the word after its last one
    bounds = np.append(starts, len(ids))
    first, end = starts[ranks], bounds[np.minimum(ranks + lengths, len(starts))]
    out = ids.copy()
    if settings.replace_length == -1:
        out = mask_every_token(out, first, end, is_random, mask_id, pool, rng)
        keep = np.ones(len(ids), dtype=bool)
    else:
        if settings.replace_length == 1:
            out[first] = mask_id
            out[first[is_random]] = random_tokens(pool, int(is_random.sum()), rng)
        deleted_from = first + (
            settings.replace_length == 1
        )  # replace_length 1 keeps each span's first token
        cover = np.zeros(len(ids) + 1, dtype=np.int64)
        np.add.at(cover, deleted_from, 1)
        np.add.at(cover, end, -1)
        keep = np.cumsum(cover[:-1]) == 0
    out = out[keep]
    if insertions:
        out = insert_noise(out, insertions / (len(out) + 2), settings, mask_id, pool, rng)
    return out


def mask_every_token(
    ids: np.ndarray,
    first: np.ndarray,
    end: np.ndarray,
    is_random: np.ndarray,
    mask_id: int,
    pool: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """``replace_length=-1``: every token of every span becomes ``<mask>`` (or a random token
    for a random span). fairseq writes all spans' k-th tokens at step k, drawing the random
    tokens of each step in span order; where spans overlap, the highest step writes last."""
    sizes = end - first
    span = np.repeat(np.arange(len(first)), sizes)
    step = np.arange(len(span)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    position = first[span] + step
    values = np.full(len(span), mask_id, dtype=ids.dtype)
    by_step = np.lexsort((span, step))  # fairseq's draw order: step, then span
    drawn = by_step[is_random[span[by_step]]]
    values[drawn] = random_tokens(pool, len(drawn), rng)
    by_position = np.lexsort((step, position))
    last = np.ones(len(by_position), dtype=bool)
    last[:-1] = position[by_position][1:] != position[by_position][:-1]
    out = ids.copy()
    out[position[by_position[last]]] = values[by_position[last]]
    return out


def fairseq_noise(
    ids: np.ndarray,
    tables: TokenTables,
    settings: BartNoiseSettings,
    mask_id: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """The noisy version of one block body (no ``<s>``/``</s>``), see the module doc."""
    ids = np.asarray(ids, dtype=np.int64)
    if settings.permute_sentence_ratio > 0:
        ids = permute_sentences(ids, tables.full_stop_id, settings.permute_sentence_ratio, rng)
    if settings.mask_ratio > 0:
        ids = mask_words(
            ids, tables.fairseq_word_start[ids], settings, mask_id, tables.random_ids, rng
        )
    if settings.insert_ratio > 0:
        ids = insert_noise(ids, settings.insert_ratio, settings, mask_id, tables.random_ids, rng)
    return ids
