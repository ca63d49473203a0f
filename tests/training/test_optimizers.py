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


def test_adafactor_as_t5x_configures_it() -> None:
    """Factored second moments for a matrix, no momentum, decay 1 - t^-0.8 (t5x base.gin), and
    the step scaled by the parameter's RMS: with a constant gradient the first update of a
    tensor of 2s is lr × RMS(2s) = 2·lr per element."""
    weight = torch.nn.Parameter(torch.full((4, 6), 2.0))
    model = torch.nn.Module()
    model.weight = weight
    optimizer = build_optimizer(model, OptimConfig(optimizer="adafactor", lr=0.1, weight_decay=0))
    weight.grad = torch.ones(4, 6)
    optimizer.step()
    assert torch.allclose(weight.detach(), torch.full((4, 6), 2.0 - 0.1 * 2.0))
    group = optimizer.param_groups[0]
    assert group["beta1"] is None and group["decay_rate"] == -0.8 and not group["relative_step"]
    state = optimizer.state[weight]
    assert state["exp_avg_sq_row"].shape == (4,) and state["exp_avg_sq_col"].shape == (6,)
    assert "exp_avg" not in state, "no first moment"
