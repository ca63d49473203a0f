"""Teacher-forced likelihood of the references: a per-example score for comparing checkpoints.

Why: small models, or models early in training, decode near-degenerate text, and then
BLEU or ROUGE sit near zero for every system and cannot tell two checkpoints apart.
The cross-entropy of the reference given the source still can, and it is paired:
two models of the same tokenizer are scored on the very same target tokens. Each
example becomes one row ``[nll_sum, tokens]`` of ``SegmentStats``, so the bootstrap
intervals and the paired tests of ``metrics/`` apply unchanged (the corpus score is
a ratio of sums: total NLL over total tokens, as a validation loss is).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from transformers import DataCollatorForSeq2Seq, PreTrainedTokenizerBase

from seq2seq_es.metrics.segment_stats import SegmentStats


def reference_nll(
    model: Any,
    tokenizer: PreTrainedTokenizerBase,
    features: list[dict[str, list[int]]],
    batch_size: int = 16,
) -> np.ndarray:
    """``(n, 2)`` array: summed negative log-likelihood (nats) of each example's labels, label
    count."""
    collate = DataCollatorForSeq2Seq(tokenizer, model=model, label_pad_token_id=-100)
    rows = []
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(features), batch_size):
            batch = collate([dict(f) for f in features[start : start + batch_size]])
            batch = batch.to(model.device)  # the collator gives CPU tensors
            logits = model(**batch).logits.float()
            labels = batch["labels"]
            nll = torch.nn.functional.cross_entropy(
                logits.transpose(1, 2), labels, ignore_index=-100, reduction="none"
            )
            rows.append(
                torch.stack([nll.sum(dim=1), (labels != -100).sum(dim=1).float()], dim=1)
                .double()
                .cpu()
                .numpy()
            )
    return np.concatenate(rows) if rows else np.zeros((0, 2))


def _nll_scores(sums: np.ndarray, _n: int) -> dict[str, np.ndarray]:
    per_token = sums[:, 0] / np.maximum(sums[:, 1], 1.0)
    return {"nll_per_token": per_token, "perplexity": np.exp(per_token)}


def nll_stats(rows: np.ndarray, tokenizer_name: str) -> SegmentStats:
    """``SegmentStats`` of ``reference_nll`` rows; lower is better for both scores."""
    return SegmentStats(
        "nll", f"nll|teacher-forced|nats-per-label-token|tok:{tokenizer_name}", rows, _nll_scores
    )
