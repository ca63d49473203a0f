"""``engine.compile``: ``torch.compile`` the model so that a run compiles one graph.

Why every batch dimension is marked dynamic: our batches change length from step to step (BART's
text infilling shortens sources; fine-tuning pads to each batch's longest). Left to itself,
dynamo compiles the first batch's shapes, then compiles again with dynamic shapes at the first
batch of another length (``TORCH_LOGS=recompiles``: "size mismatch at index 1. expected 29,
actual 30"), and each compilation of barto-tiny cost about 70 CPU seconds with an empty inductor
cache (benchmarks/RESULTS.md). ``maybe_mark_dynamic`` on every batch makes the first compilation
the dynamic one: one compilation, and a resumed run runs the same graph (the same kernels, so
the same rounding) as the run it continues. ``torch.compile(dynamic=True)`` would also make
Python floats symbolic, which restarted dynamo's analysis once (measured).

``exact_random``: inductor draws dropout masks from its own generator (seeded from torch's), so
a compiled run with dropout is not comparable step by step with an eager one;
``fallback_random`` makes it call eager's random ops. Passed as a per-compile option, not set
in inductor's process-wide config.
"""

from __future__ import annotations

from typing import Any

import torch


def compile_model(model: Any, exact_random: bool) -> Any:
    """``torch.compile(model)`` with inductor; ``exact_random``: eager's dropout masks."""
    return torch.compile(model, options={"fallback_random": exact_random})


def mark_lengths_dynamic(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Mark every dimension of every tensor dynamic for ``torch.compile`` (no effect when the
    model is not compiled): see the module docstring."""
    for tensor in batch.values():
        for dim in range(tensor.dim()):
            torch._dynamo.maybe_mark_dynamic(tensor, dim)
    return batch
