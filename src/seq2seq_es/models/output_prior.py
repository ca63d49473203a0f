"""Start a BART model's output bias at the log unigram distribution of its training targets.

Why: BART's output layer adds ``final_logits_bias``, which transformers keeps as a frozen
buffer of zeros. A BART trained from scratch must then produce the unigram distribution
(what its first few dozen steps learn) through its hidden states, and in a tiny BARTO the
quickest route Adam found ran through the encoder: every position turned into the same
vector, which the decoder's cross-attention reads as a bias. The encoder never recovered
(``benchmarks/RESULTS.md``: barto-tiny at lr 2e-3, encoder std over positions 0.0004 after
25 steps, loss with another document's input identical). With the bias starting at the
log prior the same run keeps its encoder and its loss falls below the unigram level.
The buffer stays frozen: it is a fixed prior, saved with the model like any other weight.
T5 has no output bias, so T5 models are left as they are.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import torch


def unigram_log_probs(token_arrays: Iterable[np.ndarray], vocab_size: int) -> torch.Tensor:
    """Add-one smoothed log frequencies of the ids in ``token_arrays`` (ids < 0, e.g. -100,
    ignored)."""
    counts = np.ones(vocab_size, dtype=np.int64)
    for tokens in token_arrays:
        ids = np.asarray(tokens).astype(np.int64, copy=False)
        ids = ids[(ids >= 0) & (ids < vocab_size)]
        counts += np.bincount(ids, minlength=vocab_size)
    return torch.from_numpy(np.log(counts / counts.sum())).float()


def set_output_prior(model: Any, log_probs: torch.Tensor) -> bool:
    """Copy ``log_probs`` into the model's output bias; False when the model has none (T5)."""
    bias = getattr(model, "final_logits_bias", None)
    if not isinstance(bias, torch.Tensor):
        return False
    if bias.shape[-1] != log_probs.shape[-1]:
        raise ValueError(
            f"output bias has {bias.shape[-1]} entries, the prior {log_probs.shape[-1]}"
        )
    with torch.no_grad():
        bias.copy_(log_probs.to(bias.dtype).reshape(bias.shape))
    return True
