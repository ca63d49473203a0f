"""BART noise, ``noise: exact-ratio``: our variant that masks exactly ``mask_ratio`` of the words.

Why a variant: fairseq's algorithm (:mod:`fairseq_noise`, the default) draws span
starts independently, so overlapping spans merge and about 27% of the tokens end up
masked when 30% is asked. This variant places the spans so that exactly
``ceil(mask_ratio * words)`` words are masked, uniformly over arrangements in which
spans neither overlap nor touch. objectives/README.md tables every difference from
fairseq, with measured statistics. tests/objectives/reference_noise.py is a per-token
version that makes the same random draws (a test checks equal outputs).

Per example:

1. **Sentence permutation**: a ``permute_sentence_ratio`` share of the sentences
   (found with the Spanish rules of :mod:`sentence_split`, not fairseq's "after each
   ``.`` token") swap places, as fairseq's ``permute_sentences`` shuffles them.
2. **Text infilling**, whole-word (``TokenTables.word_starts``: a leading space, a
   line break or special token before, or position 0): ``ceil(mask_ratio * words)``
   words, counting only words that are not special tokens, are masked in spans whose
   lengths (in words) are drawn from Poisson(``poisson_lambda``) (numpy's, not
   fairseq's truncated table), the last one trimmed to the budget. Each span becomes
   ONE ``<mask>``; a zero-length span inserts a ``<mask>``. Each span's ``<mask>``
   (and each inserted one) is a random non-special token with probability
   ``random_ratio``. Special tokens (the ``</s>`` between packed documents) are never
   masked.
3. **Insertion**: ``ceil(insert_ratio * tokens)`` more tokens at random positions,
   each a random token with probability ``random_ratio``, else ``<mask>``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from seq2seq_es.objectives.bart_settings import BartNoiseSettings
from seq2seq_es.objectives.noise_draws import lengths_for_budget, random_tokens
from seq2seq_es.objectives.token_tables import TokenTables


class SpanPlan(NamedTuple):
    """Masked spans over the maskable words, in word-rank space (0 … n_words-1)."""

    starts: np.ndarray  # first word of each span, increasing
    lengths: np.ndarray  # words in each span (>= 1)
    insertions: int  # zero-length spans: <mask> tokens to insert


def sample_span_lengths(budget: int, poisson_lambda: float, rng: np.random.Generator) -> np.ndarray:
    """Poisson(``poisson_lambda``) span lengths summing exactly to ``budget``, zeros kept."""
    return lengths_for_budget(budget, lambda k: rng.poisson(poisson_lambda, size=k))


def plan_spans(
    n_words: int, mask_ratio: float, poisson_lambda: float, rng: np.random.Generator
) -> SpanPlan:
    """Place ``ceil(mask_ratio * n_words)`` masked words in non-touching Poisson spans.

    Uniform over arrangements: the ``k`` spans go into ``k`` distinct gaps among the
    ``n_words - masked`` unmasked words (one span per gap, so spans never touch).
    When there are fewer gaps than spans (only for ``mask_ratio`` near 1 or a handful
    of words), the surplus spans are merged into the last one, keeping the budget.
    """
    budget = math.ceil(n_words * mask_ratio)
    lengths = sample_span_lengths(budget, poisson_lambda, rng)
    insertions = int(np.count_nonzero(lengths == 0))
    lengths = lengths[lengths > 0]
    gaps = n_words - budget + 1
    if len(lengths) > gaps:
        lengths = np.concatenate([lengths[: gaps - 1], [lengths[gaps - 1 :].sum()]]).astype(
            np.int64
        )
    slots = random_subset(gaps, len(lengths), rng)
    before = np.cumsum(lengths) - lengths  # masked words before each span
    return SpanPlan(starts=slots + before, lengths=lengths, insertions=insertions)


def random_subset(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """``k`` distinct integers of ``range(n)``, sorted (cheaper than
    ``rng.choice(replace=False)``)."""
    return np.sort(rng.permutation(n)[:k])


def permutation_order(
    sentence_starts: np.ndarray, ratio: float, rng: np.random.Generator
) -> np.ndarray:
    """Token order after permuting a ``ratio`` share of the sentences (fairseq semantics).

    ``ceil(ratio * n)`` sentences are picked at random and shuffled among their own
    places; the others stay. Returns indices: ``ids[order]`` is the permuted block.
    """
    length = len(sentence_starts)
    starts = np.flatnonzero(sentence_starts)
    n = len(starts)
    if ratio <= 0 or n < 2:
        return np.arange(length)
    n_permuted = math.ceil(n * ratio)
    chosen = rng.permutation(n)[:n_permuted]
    ordering = np.arange(n)
    ordering[chosen] = chosen[rng.permutation(n_permuted)]
    ends = np.empty(n, dtype=np.int64)
    ends[:-1], ends[-1] = starts[1:], length
    sizes = (ends - starts)[ordering]
    offsets = np.cumsum(sizes) - sizes
    return np.repeat(starts[ordering] - offsets, sizes) + np.arange(length)


def span_ids(word_start: np.ndarray, maskable: np.ndarray, plan: SpanPlan) -> np.ndarray:
    """Per token: the index of the masked span covering it, or -1.

    Words are runs from one word start to the next (``word_start`` is ``True`` at
    position 0, at every special token and after it, as ``TokenTables.word_starts``
    gives it); a special token is thus a word of its own that is never counted, so
    a span skips over it (and then shows as two ``<mask>``: rare, harmless).
    """
    word_of_token = np.cumsum(word_start) - 1
    maskable_words = np.flatnonzero(maskable[word_start])
    span_of_masked = np.repeat(np.arange(len(plan.lengths)), plan.lengths)
    before = np.cumsum(plan.lengths) - plan.lengths
    rank = (plan.starts - before)[span_of_masked] + np.arange(len(span_of_masked))
    span_of_word = np.full(int(word_start.sum()), -1, dtype=np.int64)
    span_of_word[maskable_words[rank]] = span_of_masked
    return span_of_word[word_of_token]


def insert_tokens(
    ids: np.ndarray,
    count: int,
    mask_id: int,
    random_ratio: float,
    random_ids: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Insert ``count`` ``<mask>`` (a ``random_ratio`` share: random tokens) at random places."""
    if count <= 0:
        return ids
    total = len(ids) + count
    where = np.zeros(total, dtype=bool)
    where[random_subset(total, count, rng)] = True
    is_random = rng.random(count) < random_ratio
    inserted = np.where(is_random, random_tokens(random_ids, count, rng), mask_id)
    out = np.empty(total, dtype=ids.dtype)
    out[where] = inserted
    out[~where] = ids
    return out


def bart_noise(
    ids: np.ndarray,
    tables: TokenTables,
    settings: BartNoiseSettings,
    mask_id: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """The noisy version of one block body (no ``<s>``/``</s>`` wrapper), see the module doc."""
    ids = np.asarray(ids, dtype=np.int64)
    word_start = tables.word_starts(ids)
    sentence_start = tables.sentences.sentence_starts(ids, word_start)
    word_start |= sentence_start  # a moved sentence (even a cut one) begins with a word
    order = permutation_order(sentence_start, settings.permute_sentence_ratio, rng)
    ids, word_start = ids[order], word_start[order]
    maskable = ~tables.special[ids]
    insertions = 0
    if settings.mask_ratio > 0:
        plan = plan_spans(
            int(np.count_nonzero(word_start & maskable)),
            settings.mask_ratio,
            settings.poisson_lambda,
            rng,
        )
        spans = span_ids(word_start, maskable, plan)
        masked = spans >= 0
        first = masked.copy()  # the first token of each masked run becomes the <mask>
        first[1:] &= spans[1:] != spans[:-1]
        is_random = rng.random(len(plan.lengths)) < settings.random_ratio
        replacements = random_tokens(tables.random_ids, len(plan.lengths), rng)
        noisy = ids.copy()
        noisy[first] = np.where(is_random, replacements, mask_id)[spans[first]]
        ids = noisy[~masked | first]
        insertions = plan.insertions
    if settings.insert_ratio > 0:
        insertions += math.ceil(len(ids) * settings.insert_ratio)
    return insert_tokens(ids, insertions, mask_id, settings.random_ratio, tables.random_ids, rng)
