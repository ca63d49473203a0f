"""Our port of fairseq's BART noise (``fairseq/data/denoising_dataset.py``, ``DenoisingDataset``).

Written from reading fairseq's ``permute_sentences``, ``add_whole_word_mask`` (span-poisson)
and ``add_insertion_noise``, step by step as fairseq runs them: torch tensors, the source
with its ``<s>``/``</s>``, the ``to_keep`` mask and the ``while`` loop that walks every
span forward one token per step. It is deliberately the slow, literal algorithm, so
that the array code in ``seq2seq_es.objectives.fairseq_noise`` can be checked against it.

Random draws go through a ``Draws`` object: ``NumpyDraws`` makes the same draws, in the
same order, as our implementation (equal outputs are then expected), ``TorchDraws``
makes them with torch's global generator as fairseq does (same distribution, different
values: the statistics must agree). Two documented differences from fairseq are
parameters here too: the random-token pool (fairseq: ``randint(1, len(vocab))``) and the
ids of ``<s>``/``</s>``.
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np
import torch


class Draws(Protocol):
    def randperm(self, n: int) -> torch.Tensor: ...
    def uniform(self, n: int) -> torch.Tensor: ...
    def span_lengths(self, n: int) -> torch.Tensor: ...
    def tokens(self, n: int) -> torch.Tensor: ...


def poisson_probabilities(poisson_lambda: float) -> list[float]:
    """fairseq's table: e^-λ λ^k / k! for k = 0.. until a value below 1e-7 (kept)."""
    probabilities, power, factorial = [], 1.0, 1
    for k in range(128):
        probabilities.append(math.exp(-poisson_lambda) * power / factorial)
        power *= poisson_lambda
        factorial *= k + 1
        if probabilities[-1] < 1e-7:
            break
    return probabilities


class NumpyDraws:
    """The draws of ``seq2seq_es.objectives.fairseq_noise``, from one numpy generator."""

    def __init__(self, rng: np.random.Generator, poisson_lambda: float, pool: np.ndarray) -> None:
        probabilities = np.asarray(poisson_probabilities(poisson_lambda))
        self.cdf = np.cumsum(probabilities / probabilities.sum())
        self.rng, self.pool = rng, pool

    def randperm(self, n: int) -> torch.Tensor:
        return torch.from_numpy(self.rng.permutation(n))

    def uniform(self, n: int) -> torch.Tensor:
        return torch.from_numpy(self.rng.random(n))

    def span_lengths(self, n: int) -> torch.Tensor:
        u = self.rng.random(n)
        return torch.from_numpy(
            np.minimum(np.searchsorted(self.cdf, u, side="right"), len(self.cdf) - 1)
        )

    def tokens(self, n: int) -> torch.Tensor:
        return torch.from_numpy(self.pool[(self.rng.random(n) * len(self.pool)).astype(np.int64)])


class TorchDraws:
    """fairseq's own calls on torch's global generator (seed it with ``torch.manual_seed``)."""

    def __init__(self, poisson_lambda: float, pool: np.ndarray) -> None:
        self.spans = torch.distributions.Categorical(
            torch.FloatTensor(poisson_probabilities(poisson_lambda))
        )
        self.pool = torch.from_numpy(pool)

    def randperm(self, n: int) -> torch.Tensor:
        return torch.randperm(n)

    def uniform(self, n: int) -> torch.Tensor:
        return torch.FloatTensor(n).uniform_()

    def span_lengths(self, n: int) -> torch.Tensor:
        return self.spans.sample(sample_shape=(n,))

    def tokens(self, n: int) -> torch.Tensor:
        return self.pool[torch.randint(0, len(self.pool), size=(n,))]


class FairseqNoise:
    """``DenoisingDataset``'s noise for one source ``<s> body </s>`` (span-poisson masking)."""

    def __init__(
        self,
        *,
        word_start: np.ndarray,
        full_stop_id: int,
        mask_id: int,
        bos_id: int,
        eos_id: int,
        mask_ratio: float,
        random_ratio: float,
        insert_ratio: float,
        permute_sentence_ratio: float,
        replace_length: int,
        draws: Draws,
    ) -> None:
        self.mask_whole_word = torch.from_numpy(word_start.astype(np.uint8))
        self.full_stop_index, self.mask_idx, self.bos, self.eos = (
            full_stop_id,
            mask_id,
            bos_id,
            eos_id,
        )
        self.mask_ratio, self.random_ratio, self.insert_ratio = (
            mask_ratio,
            random_ratio,
            insert_ratio,
        )
        self.permute_sentence_ratio, self.replace_length, self.draws = (
            permute_sentence_ratio,
            replace_length,
            draws,
        )

    def __call__(self, body: list[int]) -> list[int]:
        source = torch.tensor([self.bos, *body, self.eos], dtype=torch.long)
        if self.permute_sentence_ratio > 0.0:
            source = self.permute_sentences(source, self.permute_sentence_ratio)
        if self.mask_ratio > 0:
            source = self.add_whole_word_mask(source, self.mask_ratio)
        if self.insert_ratio > 0:
            source = self.add_insertion_noise(source, self.insert_ratio)
        assert source[0] == self.bos and source[-1] == self.eos
        return source[1:-1].tolist()

    def permute_sentences(self, source: torch.Tensor, p: float) -> torch.Tensor:
        full_stops = source == self.full_stop_index
        full_stops[-2] = True  # the last body token ends a sentence
        # a sentence ends after a full stop whose previous token is not one
        sentence_ends = (full_stops[1:] & ~full_stops[:-1]).nonzero(as_tuple=False).flatten() + 2
        result = source.clone()
        num_sentences = sentence_ends.size(0)
        num_to_permute = math.ceil((num_sentences * 2 * p) / 2.0)
        substitutions = self.draws.randperm(num_sentences)[:num_to_permute]
        ordering = torch.arange(0, num_sentences)
        ordering[substitutions] = substitutions[self.draws.randperm(num_to_permute)]
        index = 1  # after <s>
        for i in ordering.tolist():
            sentence = source[(int(sentence_ends[i - 1]) if i > 0 else 1) : int(sentence_ends[i])]
            result[index : index + sentence.size(0)] = sentence
            index += sentence.size(0)
        return result

    def word_starts(self, source: torch.Tensor) -> torch.Tensor:
        is_word_start = self.mask_whole_word.gather(0, source)
        is_word_start[0] = 0
        is_word_start[-1] = 0
        return is_word_start

    def add_whole_word_mask(self, source: torch.Tensor, p: float) -> torch.Tensor:
        is_word_start = self.word_starts(source)
        num_to_mask = math.ceil(
            float(is_word_start.float().sum() * p)
        )  # a float32 product, as in fairseq
        if num_to_mask == 0:
            return source
        lengths = self.draws.span_lengths(num_to_mask)
        cum_length = torch.cumsum(lengths, 0)
        while cum_length[-1] < num_to_mask:
            lengths = torch.cat([lengths, self.draws.span_lengths(num_to_mask)], dim=0)
            cum_length = torch.cumsum(lengths, 0)
        i = 0
        while cum_length[i] < num_to_mask:
            i += 1
        lengths[i] = num_to_mask - (0 if i == 0 else cum_length[i - 1])
        num_to_mask = i + 1
        lengths = lengths[:num_to_mask]
        lengths = lengths[lengths > 0]
        num_inserts = num_to_mask - lengths.size(0)
        num_to_mask -= num_inserts
        if num_to_mask == 0:
            return self.add_insertion_noise(source, num_inserts / source.size(0))

        word_starts = is_word_start.nonzero(as_tuple=False)
        indices = word_starts[self.draws.randperm(word_starts.size(0))[:num_to_mask]].squeeze(1)
        mask_random = self.draws.uniform(num_to_mask) < self.random_ratio
        source_length = source.size(0)
        assert source_length - 1 not in indices
        to_keep = torch.ones(source_length, dtype=torch.bool)
        is_word_start[-1] = 255  # a long "length": no span runs over </s>
        if self.replace_length == 0:
            to_keep[indices] = 0
        else:
            source[indices] = self.mask_idx
            source[indices[mask_random]] = self.draws.tokens(int(mask_random.sum()))
        lengths = lengths - 1
        while indices.size(0) > 0:
            lengths = lengths - is_word_start[indices + 1].long()
            uncompleted = lengths >= 0
            indices = indices[uncompleted] + 1
            mask_random = mask_random[uncompleted]
            lengths = lengths[uncompleted]
            if self.replace_length != -1:
                to_keep[indices] = 0
            else:
                source[indices] = self.mask_idx
                source[indices[mask_random]] = self.draws.tokens(int(mask_random.sum()))
        source = source[to_keep]
        if num_inserts > 0:
            source = self.add_insertion_noise(source, num_inserts / source.size(0))
        return source

    def add_insertion_noise(self, tokens: torch.Tensor, p: float) -> torch.Tensor:
        if p == 0.0:
            return tokens
        num_tokens = len(tokens)
        n = math.ceil(num_tokens * p)
        noise_indices = self.draws.randperm(num_tokens + n - 2)[:n] + 1
        noise_mask = torch.zeros(size=(num_tokens + n,), dtype=torch.bool)
        noise_mask[noise_indices] = 1
        result = torch.full((n + len(tokens),), -1, dtype=torch.long)
        num_random = math.ceil(n * self.random_ratio)
        result[noise_indices[num_random:]] = self.mask_idx
        result[noise_indices[:num_random]] = self.draws.tokens(num_random)
        result[~noise_mask] = tokens
        assert (result >= 0).all()
        return result
