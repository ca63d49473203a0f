"""The training loss: the model's cross-entropy, plus t5x's z-loss when it is asked for.

z-loss (Mesh TensorFlow / t5x ``cross_entropy_with_logits``): ``z_loss * log(Z)**2`` for each
target token, ``log Z = logsumexp(logits)`` its softmax normaliser, averaged over the target
tokens like the cross-entropy. It pulls log Z towards 0, so the logits cannot drift together in
bf16; the T5 1.1 recipe the authors pretrained T5S with sets 1e-4 (t5x base.gin ``Z_LOSS``).
"""

from __future__ import annotations

from typing import Any

import torch

IGNORE_INDEX = -100  # labels that are padding, as transformers' losses skip them


def z_loss_term(logits: torch.Tensor, labels: torch.Tensor, weight: float) -> torch.Tensor:
    """``weight`` × mean over target tokens (labels != -100) of ``logsumexp(logits)²``."""
    log_z = torch.logsumexp(logits.float(), dim=-1)
    real = labels != IGNORE_INDEX
    return weight * (log_z.square() * real).sum() / real.sum().clamp(min=1)


def training_loss(model: Any, batch: dict[str, torch.Tensor], z_loss: float) -> torch.Tensor:
    """What one micro-batch contributes to the gradient."""
    output = model(**batch)
    if not z_loss:
        return output.loss
    return output.loss + z_loss_term(output.logits, batch["labels"], z_loss)
