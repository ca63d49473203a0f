"""Optimizers: torch AdamW, and AdamWScale as nanoT5 uses to pretrain T5 from scratch.

AdamWScale is Adam whose step for each tensor is multiplied by the tensor's root mean
square (floored at 1e-3), the relative step size of Adafactor (Shazeer & Stern, 2018).
nanoT5 found it lets T5 train at lr 2e-2 with AdamW's memory; weight decay is
decoupled as in AdamW. Written from that description, not copied.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch
from torch.optim import Optimizer

from seq2seq_es.training.config import OptimConfig


class AdamWScale(Optimizer):
    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(
            params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay}
        )

    @staticmethod
    def _rms(tensor: torch.Tensor) -> float:
        return float(tensor.norm(2) / math.sqrt(tensor.numel()))

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                state = self.state[param]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(param)
                    state["exp_avg_sq"] = torch.zeros_like(param)
                state["step"] += 1
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                exp_avg.mul_(beta1).add_(param.grad, alpha=1 - beta1)
                exp_avg_sq.mul_(beta2).addcmul_(param.grad, param.grad, value=1 - beta2)
                bias1 = 1 - beta1 ** state["step"]
                bias2 = 1 - beta2 ** state["step"]
                step_size = group["lr"] * math.sqrt(bias2) / bias1 * max(1e-3, self._rms(param))
                param.addcdiv_(exp_avg, exp_avg_sq.sqrt().add_(group["eps"]), value=-step_size)
                if group["weight_decay"] > 0:
                    param.add_(param, alpha=-group["lr"] * group["weight_decay"])
        return loss


def adafactor(groups: list[dict[str, Any]], optim: OptimConfig) -> Optimizer:
    """transformers' Adafactor as t5x configures it for T5 1.1 (``adafactor.Adafactor`` in
    base.gin): the schedule's learning rate (no relative step), multiplied by each tensor's RMS
    (t5x ``multiply_by_parameter_scale``), factored second moments for matrices, decay
    ``1 - t^-0.8``, no first moment (momentum), update clipping at 1.0."""
    from transformers.optimization import Adafactor

    return Adafactor(
        groups,
        lr=optim.lr,
        relative_step=False,
        scale_parameter=True,
        warmup_init=False,
        decay_rate=-optim.decay_rate,
        beta1=None,
        clip_threshold=1.0,
    )


def build_optimizer(model: torch.nn.Module, optim: OptimConfig) -> Optimizer:
    """AdamW, AdamWScale or Adafactor; no weight decay on biases and norm weights (1-D
    tensors)."""
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim < 2]
    groups = [
        {"params": decay, "weight_decay": optim.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    if optim.optimizer == "adamwscale":
        return AdamWScale(groups, lr=optim.lr, betas=optim.betas, eps=optim.eps)
    if optim.optimizer == "adafactor":
        return adafactor(groups, optim)
    # fused: one kernel for all tensors instead of a Python loop over them (CPU and CUDA);
    # what the HF Trainer uses by default since torch 2.8.
    return torch.optim.AdamW(groups, lr=optim.lr, betas=optim.betas, eps=optim.eps, fused=True)
