"""BART denoising batches: sentence permutation + text infilling (Lewis et al., 2020, §2.2).

The collator turns packed blocks into BART batches; the noise itself is one of two
pure functions, chosen by ``BartNoiseSettings.noise``:

* ``fairseq`` (default, what BARTO was pretrained with): fairseq's ``DenoisingDataset``
  algorithm, :func:`seq2seq_es.objectives.fairseq_noise.fairseq_noise`;
* ``exact-ratio``: our variant that masks exactly ``mask_ratio`` of the words in
  spans that never overlap or touch,
  :func:`seq2seq_es.objectives.exact_ratio_noise.bart_noise`.

objectives/README.md tables how the two differ, with statistics measured on real text.

Labels are the original block ``<s> x </s>``; decoder inputs are the labels shifted
right, starting with ``</s>`` (BART's ``decoder_start_token_id``). The noise of
example ``i`` in epoch ``e`` comes from ``numpy.random.default_rng([seed, e, i])``
only (the key of fairseq's ``numpy_seed(seed, epoch, index)``), so a resumed run or
any number of DataLoader workers sees the same batches.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from seq2seq_es.errors import ConfigError
from seq2seq_es.objectives.bart_settings import BartNoiseSettings
from seq2seq_es.objectives.exact_ratio_noise import bart_noise
from seq2seq_es.objectives.fairseq_noise import fairseq_noise
from seq2seq_es.objectives.token_tables import TokenTables

__all__ = ["BartDenoisingCollator", "BartNoiseSettings"]

NOISE_FUNCTIONS = {"fairseq": fairseq_noise, "exact-ratio": bart_noise}


class BartDenoisingCollator:
    """``[(index, block), ...]`` → a BART batch (``input_ids``, ``attention_mask``,
    ``decoder_input_ids``, ``labels``); blocks are token-id bodies without ``<s>``/``</s>``.

    Picklable (tables and ids only) for DataLoader workers; ``set_epoch`` is called by
    the training loop before each epoch.
    """

    def __init__(
        self,
        tables: TokenTables,
        settings: BartNoiseSettings,
        *,
        bos_id: int,
        eos_id: int,
        pad_id: int,
        mask_id: int,
        decoder_start_id: int,
        seed: int,
    ) -> None:
        self.tables, self.settings = tables, settings
        self.bos_id, self.eos_id, self.pad_id, self.mask_id = bos_id, eos_id, pad_id, mask_id
        self.decoder_start_id, self.seed = decoder_start_id, seed
        self.epoch = 0

    @classmethod
    def from_tokenizer(
        cls, tokenizer: Any, settings: BartNoiseSettings, seed: int
    ) -> BartDenoisingCollator:
        """BART's special ids from ``tokenizer`` (decoder start = ``</s>``, as BART)."""
        missing = [
            name
            for name in ("bos_token_id", "eos_token_id", "pad_token_id", "mask_token_id")
            if getattr(tokenizer, name) is None
        ]
        if missing:
            raise ConfigError(
                f"The tokenizer has no {', '.join(missing)}: BART denoising needs <s>, </s>, <pad> "
                "and <mask>. Train it with `seq2seq-es tokenizer` (byte-level BPE)."
            )
        return cls(
            TokenTables.from_tokenizer(tokenizer),
            settings,
            bos_id=tokenizer.bos_token_id,
            eos_id=tokenizer.eos_token_id,
            pad_id=tokenizer.pad_token_id,
            mask_id=tokenizer.mask_token_id,
            decoder_start_id=tokenizer.eos_token_id,
            seed=seed,
        )

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def noise(self, index: int, block: Sequence[int] | np.ndarray) -> np.ndarray:
        """The noisy body of example ``index`` in the current epoch."""
        rng = np.random.default_rng([self.seed, self.epoch, index])
        noise = NOISE_FUNCTIONS[self.settings.noise]
        return noise(
            np.asarray(block, dtype=np.int64), self.tables, self.settings, self.mask_id, rng
        )

    def __call__(
        self, batch: Sequence[tuple[int, Sequence[int] | np.ndarray]]
    ) -> dict[str, torch.Tensor]:
        sources = [self.noise(index, block) for index, block in batch]
        targets = [np.asarray(block, dtype=np.int64) for _, block in batch]
        input_ids = _wrap_and_pad(sources, self.bos_id, self.eos_id, self.pad_id)
        labels = _wrap_and_pad(targets, self.bos_id, self.eos_id, -100)
        decoder_input_ids = np.full_like(labels, self.pad_id)
        decoder_input_ids[:, 0] = self.decoder_start_id
        decoder_input_ids[:, 1:] = np.where(labels[:, :-1] == -100, self.pad_id, labels[:, :-1])
        return {
            "input_ids": torch.from_numpy(input_ids),
            "attention_mask": torch.from_numpy((input_ids != self.pad_id).astype(np.int64)),
            "decoder_input_ids": torch.from_numpy(decoder_input_ids),
            "labels": torch.from_numpy(labels),
        }


def _wrap_and_pad(rows: list[np.ndarray], bos_id: int, eos_id: int, pad_id: int) -> np.ndarray:
    """``<s> row </s>`` for each row, right-padded with ``pad_id`` to the longest."""
    width = max((len(r) for r in rows), default=0) + 2
    out = np.full((len(rows), width), pad_id, dtype=np.int64)
    for i, row in enumerate(rows):
        out[i, 0], out[i, 1 : len(row) + 1], out[i, len(row) + 1] = bos_id, row, eos_id
    return out
