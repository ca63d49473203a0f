"""Process-wide torch settings a training command makes once, at its entry.

Why not inside the loop: thread counts and TF32 flags are global to the process; set
deep in a library they would silently change whatever else runs in it (a test, a
notebook, a second model). Commands call ``prepare_runtime`` first; the library code
below them never touches global settings (the loop seeds its own random streams from
the run's seed, which is the training state, not a setting).
"""

from __future__ import annotations

import torch

from seq2seq_es.training.config import EngineConfig


def prepare_runtime(engine: EngineConfig) -> None:
    """CPU threads per process and, on Ampere+ GPUs, TF32 matmuls, as the engine config says."""
    if engine.threads:
        torch.set_num_threads(engine.threads)
    if torch.cuda.is_available() and engine.tf32:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
