"""Cut many texts into decoding batches: length-sorted, at most so many texts, within a token
budget.

Why a token budget (fairseq's ``--max-tokens``): a fixed count of texts per batch is too few
for short inputs (a Tatoeba sentence of 10 tokens) and too many for long ones (a 1,024-token
judgment, whose batch of 32 holds 32k padded source tokens and all their cross-attention
states). With ``max_tokens`` a batch holds as many texts as fit: its size times its longest
text's token count (the padded source tensor) stays within the budget, and ``batch_size`` stays
the cap on texts. A text longer than the budget alone is decoded alone, never refused.

The order is the one ``generate_in_length_order`` always used: by length in characters,
stable (equal lengths keep their input order). A budget only moves the cuts between batches.
"""

from __future__ import annotations

from collections.abc import Sequence


def length_sorted_batches(
    texts: Sequence[str],
    batch_size: int,
    max_tokens: int | None = None,
    token_counts: Sequence[int] | None = None,
) -> list[list[int]]:
    """Indices of ``texts`` in batches: sorted by character length, at most ``batch_size`` a
    batch and, with ``max_tokens``, at most that many padded source tokens (``token_counts``:
    each text's tokens as the model sees them, after truncation)."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    if max_tokens is None:
        return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
    if token_counts is None or len(token_counts) != len(texts):
        raise ValueError("max_tokens needs one token count per text")
    batches: list[list[int]] = []
    batch: list[int] = []
    longest = 0
    for index in order:
        grown = max(longest, token_counts[index])
        if batch and (len(batch) == batch_size or grown * (len(batch) + 1) > max_tokens):
            batches.append(batch)
            batch, grown = [], token_counts[index]
        batch.append(index)
        longest = grown
    if batch:
        batches.append(batch)
    return batches
