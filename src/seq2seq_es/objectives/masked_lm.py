"""BERT's masked language modelling (Devlin et al. 2019, §3.1) with transformers' own collator.

The masking is ``transformers.DataCollatorForLanguageModeling.torch_mask_tokens``, unchanged:
each non-special token is selected with probability ``mlm_probability`` (0.15); a selected
token becomes the mask token with probability ``mask_replace_prob`` (0.8), a random token
with ``random_replace_prob`` (0.1), and otherwise stays; labels are the original ids at the
selected positions and -100 elsewhere. Two things are ours:

* the random draws. transformers' ``seed`` gives one generator per process (plus the worker
  id inside DataLoader workers), so a batch would depend on the batch composition, the
  number of workers and where a run was resumed. Here example ``index`` of epoch ``e``
  draws from a ``torch.Generator`` seeded from ``[seed, e, index]``, as our other
  objectives seed numpy (``objectives/__init__.py``): the same example gets the same masks
  in any batch, worker or resumed run. ``example_seed`` gives that seed, so a test can run
  transformers' collator with ``seed=example_seed(...)`` on one example and compare.
* the blocks. Packed token-id bodies of ``seq_len - 2`` tokens are wrapped as
  ``[CLS] body [SEP]`` (``<s> … </s>`` with our byte-level BPE), as a BERT tokenizer
  encodes one text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from transformers import DataCollatorForLanguageModeling

from seq2seq_es.errors import ConfigError


def example_seed(seed: int, epoch: int, index: int) -> int:
    """The torch seed of example ``index`` in ``epoch``: a pure function of the three numbers."""
    return int(
        np.random.SeedSequence([seed, epoch, index]).generate_state(1, dtype=np.uint64)[0] >> 1
    )


class MaskedLmCollator:
    """``[(index, block), ...]`` → a BERT MLM batch (``input_ids``, ``attention_mask``, ``labels``).

    Picklable (it holds transformers' collator and its tokenizer); ``set_epoch`` is called
    by the training loop before each epoch.
    """

    def __init__(
        self,
        tokenizer: Any,
        *,
        seed: int,
        mlm_probability: float = 0.15,
        mask_replace_prob: float = 0.8,
        random_replace_prob: float = 0.1,
    ) -> None:
        ids = {
            "cls": tokenizer.cls_token_id,
            "sep": tokenizer.sep_token_id,
            "pad": tokenizer.pad_token_id,
            "mask": tokenizer.mask_token_id,
        }
        missing = [name for name, value in ids.items() if value is None]
        if missing:
            raise ConfigError(
                f"The tokenizer has no {' / '.join(missing)} token: masked language modelling (and "
                "the BERT2BERT warm start after it) needs CLS, SEP, PAD and MASK. Train it with "
                "`seq2seq-es tokenizer` (byte-level BPE: <s>, </s>, <pad>, <mask>)."
            )
        self.masking = DataCollatorForLanguageModeling(
            tokenizer,
            mlm=True,
            mlm_probability=mlm_probability,
            mask_replace_prob=mask_replace_prob,
            random_replace_prob=random_replace_prob,
            return_tensors="pt",
        )
        self.cls_id, self.sep_id, self.pad_id = int(ids["cls"]), int(ids["sep"]), int(ids["pad"])
        self.special_ids = np.array(sorted(tokenizer.all_special_ids), dtype=np.int64)
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def wrap(self, block: Sequence[int] | np.ndarray) -> np.ndarray:
        """``[CLS] block [SEP]``: one encoded text."""
        return np.concatenate(
            [[self.cls_id], np.asarray(block, dtype=np.int64), [self.sep_id]]
        ).astype(np.int64)

    def mask(self, index: int, ids: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """(input ids, labels) of one wrapped example, masked by transformers' rule with its own
        generator."""
        row = torch.from_numpy(ids.copy())[None]
        special = torch.from_numpy(np.isin(ids, self.special_ids))[None]
        self.masking.generator = torch.Generator().manual_seed(
            example_seed(self.seed, self.epoch, index)
        )
        inputs, labels = self.masking.torch_mask_tokens(row, special_tokens_mask=special)
        return inputs[0], labels[0]

    def __call__(
        self, batch: Sequence[tuple[int, Sequence[int] | np.ndarray]]
    ) -> dict[str, torch.Tensor]:
        rows = [self.mask(index, self.wrap(block)) for index, block in batch]
        width = max(len(inputs) for inputs, _ in rows)
        input_ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        labels = torch.full((len(rows), width), -100, dtype=torch.long)
        attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, (inputs, targets) in enumerate(rows):
            (
                input_ids[i, : len(inputs)],
                labels[i, : len(inputs)],
                attention_mask[i, : len(inputs)],
            ) = inputs, targets, 1
        return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}
