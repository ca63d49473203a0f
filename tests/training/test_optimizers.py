import math

import torch

from seq2seq_es.training.config import OptimConfig
from seq2seq_es.training.optimizers import AdamWScale, build_optimizer


def test_adamwscale_first_step_is_lr_times_rms() -> None:
    """Adam's first update is ±lr per element; AdamWScale multiplies it by the tensor's RMS."""
    weight = torch.nn.Parameter(torch.full((4, 4), 2.0))
    weight.grad = torch.ones(4, 4)
    AdamWScale([weight], lr=0.1, eps=0.0).step()
    assert torch.allclose(weight.detach(), torch.full((4, 4), 2.0 - 0.1 * 2.0))


def test_adamwscale_floor_for_zero_tensors() -> None:
    weight = torch.nn.Parameter(torch.zeros(3))
    weight.grad = -torch.ones(3)
    AdamWScale([weight], lr=1.0, eps=0.0).step()
    assert torch.allclose(weight.detach(), torch.full((3,), 1e-3))


def test_no_weight_decay_on_biases_and_norms() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.LayerNorm(3))
    optimizer = build_optimizer(model, OptimConfig(weight_decay=0.1))
    decayed, plain = optimizer.param_groups
    assert decayed["weight_decay"] == 0.1 and all(p.ndim == 2 for p in decayed["params"])
    assert plain["weight_decay"] == 0.0 and len(plain["params"]) == 3
    assert math.isclose(optimizer.param_groups[0]["lr"], 1e-3)
