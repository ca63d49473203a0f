"""BART text infilling, minimal form (the walking skeleton's denoising objective).

BART (Lewis et al., 2020) replaces spans of tokens, with lengths drawn from
Poisson(λ=3), by a single ``<mask>`` until ~30% of tokens are masked; the decoder
reconstructs the original. Noise for example *i* at epoch *e* depends only on
(seed, e, i), so a resumed run or a different worker count sees the same batches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class InfillingSettings:
    mask_ratio: float = 0.3
    poisson_lambda: float = 3.0


def infill(tokens: np.ndarray, mask_id: int, settings: InfillingSettings, rng: np.random.Generator) -> np.ndarray:
    """Return ``tokens`` with Poisson-length spans each replaced by one ``mask_id``.

    ``tokens`` excludes the ``<s>``/``</s>`` wrappers, which are never masked.
    """
    length = len(tokens)
    to_mask = round(length * settings.mask_ratio)
    if to_mask == 0 or length == 0:
        return tokens.copy()
    masked = np.zeros(length, dtype=bool)
    span_start = np.zeros(length, dtype=bool)
    while masked.sum() < to_mask:
        span = max(1, int(rng.poisson(settings.poisson_lambda)))
        span = min(span, to_mask - int(masked.sum()))
        start = int(rng.integers(0, length))
        end = min(length, start + span)
        if masked[start:end].any():
            continue
        masked[start:end] = True
        span_start[start] = True
    keep = ~masked | span_start
    out = tokens[keep].copy()
    out[span_start[keep]] = mask_id
    return out


class InfillingCollator:
    """Turn a list of (index, block) pairs into a padded BART batch."""

    def __init__(self, bos_id: int, eos_id: int, pad_id: int, mask_id: int, decoder_start_id: int,
                 settings: InfillingSettings, seed: int) -> None:
        self.bos_id, self.eos_id, self.pad_id, self.mask_id = bos_id, eos_id, pad_id, mask_id
        self.decoder_start_id = decoder_start_id
        self.settings = settings
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Called by the training loop before each epoch: noise depends on (seed, epoch, index)."""
        self.epoch = epoch

    def __call__(self, batch: Sequence[tuple[int, list[int]]]) -> dict[str, torch.Tensor]:
        sources, targets = [], []
        for index, block in batch:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            body = np.asarray(block, dtype=np.int64)
            noisy = infill(body, self.mask_id, self.settings, rng)
            sources.append([self.bos_id, *noisy.tolist(), self.eos_id])
            targets.append([self.bos_id, *block, self.eos_id])
        input_ids = _pad(sources, self.pad_id)
        labels = torch.tensor(targets, dtype=torch.long)
        decoder_input_ids = torch.full_like(labels, self.pad_id)
        decoder_input_ids[:, 0] = self.decoder_start_id
        decoder_input_ids[:, 1:] = labels[:, :-1]
        return {
            "input_ids": input_ids,
            "attention_mask": (input_ids != self.pad_id).long(),
            "decoder_input_ids": decoder_input_ids,
            "labels": labels,
        }


def _pad(rows: list[list[int]], pad_id: int) -> torch.Tensor:
    width = max(len(r) for r in rows)
    out = torch.full((len(rows), width), pad_id, dtype=torch.long)
    for i, row in enumerate(rows):
        out[i, : len(row)] = torch.tensor(row, dtype=torch.long)
    return out
