"""Straightforward per-token Python versions of the noise functions, for tests and benchmarks.

Each function walks the tokens one by one, as one would write the algorithm on paper,
and makes exactly the same random draws, in the same order, as the vectorized code in
``seq2seq_es.objectives``. Equal outputs for equal seeds are then strong evidence
that the array code does what the loops say (benchmarks/bench_objectives.py also
times these loops as the baseline).
"""

from __future__ import annotations

import math
import re

import numpy as np

from seq2seq_es.objectives.bart_denoising import BartNoiseSettings
from seq2seq_es.objectives.sentence_split import is_abbreviation
from seq2seq_es.objectives.span_corruption import span_counts
from seq2seq_es.objectives.token_tables import TokenTables


def word_starts(ids: list[int], tables: TokenTables) -> list[bool]:
    starts = []
    for t, token in enumerate(ids):
        start = t == 0 or bool(tables.begins_word[token] or tables.special[token])
        if t > 0 and (tables.ends_with_space[ids[t - 1]] or tables.special[ids[t - 1]]):
            start = True
        starts.append(start)
    return starts


def sentence_starts(ids: list[int], starts_word: list[bool], tables: TokenTables) -> list[bool]:
    rules = tables.sentences
    out = []
    for t, token in enumerate(ids):
        if t == 0:
            out.append(True)
            continue
        prev = ids[t - 1]
        opener = rules.opener[token] or (
            rules.blank[token] and t + 1 < len(ids) and rules.opener[ids[t + 1]]
        )
        end = bool(rules.terminal[prev] and opener and starts_word[t])
        if end and rules.period[prev] and t - 1 > 0:
            begin = t - 2
            while not starts_word[begin]:
                begin -= 1
            word = re.search(r"(\w+)\Z", "".join(rules.texts[i] for i in ids[begin : t - 1]))
            if word is not None and is_abbreviation(word.group(1)):
                end = False
        out.append(end or bool(rules.line_break[prev]) or bool(rules.special[prev]))
    return out


def span_lengths(budget: int, poisson_lambda: float, rng: np.random.Generator) -> list[int]:
    if budget <= 0:
        return []
    lengths = [int(x) for x in rng.poisson(poisson_lambda, size=budget)]
    while sum(lengths) < budget:
        lengths += [int(x) for x in rng.poisson(poisson_lambda, size=budget)]
    out, total = [], 0
    for length in lengths:
        if total + length >= budget:
            out.append(budget - total)
            break
        out.append(length)
        total += length
    return out


def bart_noise(
    block: list[int],
    tables: TokenTables,
    settings: BartNoiseSettings,
    mask_id: int,
    rng: np.random.Generator,
) -> list[int]:
    ids = [int(t) for t in block]
    starts_word = word_starts(ids, tables)
    starts_sentence = sentence_starts(ids, starts_word, tables)

    sentences: list[list[tuple[int, bool]]] = []
    for token, starts, new_sentence in zip(ids, starts_word, starts_sentence, strict=True):
        if new_sentence:
            sentences.append([])
        sentences[-1].append((token, starts))
    if settings.permute_sentence_ratio > 0 and len(sentences) >= 2:
        n = len(sentences)
        n_permuted = math.ceil(n * settings.permute_sentence_ratio)
        chosen = [int(x) for x in rng.permutation(n)[:n_permuted]]
        shuffle = [int(x) for x in rng.permutation(n_permuted)]
        ordering = list(range(n))
        for j, c in enumerate(chosen):
            ordering[c] = chosen[shuffle[j]]
        sentences = [sentences[o] for o in ordering]

    words: list[list[int]] = []
    for sentence in sentences:
        for k, (token, starts) in enumerate(sentence):
            if starts or k == 0 or not words:
                words.append([])
            words[-1].append(token)

    out: list[int] = []
    insertions = 0
    if settings.mask_ratio > 0:
        maskable = [w for w in range(len(words)) if not tables.special[words[w][0]]]
        budget = math.ceil(len(maskable) * settings.mask_ratio)
        lengths = span_lengths(budget, settings.poisson_lambda, rng)
        insertions = sum(1 for x in lengths if x == 0)
        lengths = [x for x in lengths if x > 0]
        gaps = len(maskable) - budget + 1
        if len(lengths) > gaps:
            lengths = [*lengths[: gaps - 1], sum(lengths[gaps - 1 :])]
        slots = sorted(int(x) for x in rng.permutation(gaps)[: len(lengths)])
        span_of_word: dict[int, int] = {}
        masked_before = 0
        for j, length in enumerate(lengths):
            for q in range(length):
                span_of_word[maskable[slots[j] + masked_before + q]] = j
            masked_before += length
        is_random = [bool(x < settings.random_ratio) for x in rng.random(len(lengths))]
        replacements = [
            int(tables.random_ids[int(x * len(tables.random_ids))])
            for x in rng.random(len(lengths))
        ]
        last_span = -1
        for w, word in enumerate(words):
            span = span_of_word.get(w, -1)
            if span < 0:
                out.extend(word)
            elif span != last_span:
                out.append(replacements[span] if is_random[span] else mask_id)
            last_span = span
    else:
        out = [token for word in words for token in word]

    if settings.insert_ratio > 0:
        insertions += math.ceil(len(out) * settings.insert_ratio)
    if insertions == 0:
        return out
    total = len(out) + insertions
    positions = sorted(int(x) for x in rng.permutation(total)[:insertions])
    is_random = [bool(x < settings.random_ratio) for x in rng.random(insertions)]
    replacements = [
        int(tables.random_ids[int(x * len(tables.random_ids))]) for x in rng.random(insertions)
    ]
    result, source, k = [], iter(out), 0
    for position in range(total):
        if k < insertions and positions[k] == position:
            result.append(replacements[k] if is_random[k] else mask_id)
            k += 1
        else:
            result.append(next(source))
    return result


def segmentation(items: int, segments: int, rng: np.random.Generator) -> list[int]:
    cuts = sorted(int(x) + 1 for x in rng.choice(items - 1, size=segments - 1, replace=False))
    lengths, previous = [], 0
    for cut in [*cuts, items]:
        lengths.append(cut - previous)
        previous = cut
    return lengths


def span_corruption(
    block: list[int],
    sentinel_ids: list[int],
    eos_id: int,
    noise_density: float,
    mean_span_length: float,
    rng: np.random.Generator,
) -> tuple[list[int], list[int]]:
    length = len(block)
    noise, spans = span_counts(length, noise_density, mean_span_length)
    keep_lengths = segmentation(length - noise, spans, rng)
    noise_lengths = segmentation(noise, spans, rng)
    is_noise: list[bool] = []
    for keep, drop in zip(keep_lengths, noise_lengths, strict=True):
        is_noise += [False] * keep + [True] * drop
    inputs, targets = [], []
    input_runs = target_runs = 0
    for t, token in enumerate(block):
        starts_run = t == 0 or is_noise[t] != is_noise[t - 1]
        if is_noise[t]:
            if starts_run:
                inputs.append(sentinel_ids[input_runs])
                input_runs += 1
            targets.append(token)
        else:
            if starts_run:
                targets.append(sentinel_ids[target_runs])
                target_runs += 1
            inputs.append(token)
    return [*inputs, eos_id], [*targets, eos_id]
