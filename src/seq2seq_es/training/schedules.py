"""Learning-rate schedules: linear warm-up, then linear / cosine / inverse-sqrt / constant.

Pure multiplier functions (step → factor of the peak lr) so each can be tested and
plotted on its own; ``build_scheduler`` wraps one in a ``LambdaLR``. Inverse square
root is the T5/fairseq schedule: ``min(step / warmup, sqrt(warmup / step))``.
"""

from __future__ import annotations

import math
from functools import partial

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR


def lr_multiplier(
    step: int, schedule: str, warmup_steps: int, total_steps: int, min_ratio: float = 0.0
) -> float:
    """Factor of the peak learning rate at optimizer step ``step`` (0-based)."""
    if schedule == "rsqrt":  # t5x utils.create_learning_rate_scheduler('constant * rsqrt_decay')
        return max(min_ratio, math.sqrt(max(warmup_steps, 1) / max(step + 1, warmup_steps, 1)))
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant":
        return 1.0
    if schedule == "inverse_sqrt":
        return max(min_ratio, math.sqrt(max(warmup_steps, 1) / (step + 1)))
    decay_steps = max(total_steps - warmup_steps, 1)
    progress = min(max(step - warmup_steps, 0) / decay_steps, 1.0)
    if schedule == "linear":
        shape = 1.0 - progress
    elif schedule == "cosine":
        shape = 0.5 * (1.0 + math.cos(math.pi * progress))
    else:
        raise ValueError(f"unknown schedule {schedule!r}")
    return min_ratio + (1.0 - min_ratio) * shape


def build_scheduler(
    optimizer: Optimizer, schedule: str, warmup_steps: int, total_steps: int, min_ratio: float = 0.0
) -> LambdaLR:
    return LambdaLR(
        optimizer,
        partial(
            lr_multiplier,
            schedule=schedule,
            warmup_steps=warmup_steps,
            total_steps=total_steps,
            min_ratio=min_ratio,
        ),
    )
