"""The statistics that compare BART noise variants (issue 23's table), for tests and benchmarks.

Computed from outputs alone: run the noise with a ``<mask>`` id and a one-id random-token
pool (``marked_id``) that never occur in the input, then count them.
"""

from __future__ import annotations

import numpy as np

TABLE = (
    "share of tokens masked",
    "<mask> tokens per example",
    "mean masked span (tokens)",
    "output / input length",
    "random share of replacements",
)


def table_statistics(
    blocks: list[np.ndarray], outputs: list[np.ndarray], mask_id: int, marked_id: int
) -> dict[str, np.ndarray]:
    """Per example: tokens of the block gone or replaced (share), ``<mask>`` count, masked tokens
    per
    replacement token (``<mask>`` or random), output/input length, random share of replacements."""
    length = np.array([len(b) for b in blocks], dtype=float)
    masks = np.array([np.count_nonzero(o == mask_id) for o in outputs], dtype=float)
    randoms = np.array([np.count_nonzero(o == marked_id) for o in outputs], dtype=float)
    out_length = np.array([len(o) for o in outputs], dtype=float)
    masked = length - (out_length - masks - randoms)
    return dict(
        zip(
            TABLE,
            (
                masked / length,
                masks,
                masked / (masks + randoms),
                out_length / length,
                randoms / (masks + randoms),
            ),
            strict=True,
        )
    )


def touching_masks(outputs: list[np.ndarray], mask_id: int) -> float:
    """Share of examples with two ``<mask>`` in a row."""
    return float(np.mean([np.any((o[1:] == mask_id) & (o[:-1] == mask_id)) for o in outputs]))
