"""FSDP2 (``engine.distributed=fsdp``): each process keeps a 1/N shard of every weight, its
gradient and its optimizer state, on CPU (gloo) or GPUs (NCCL).

Why torch's ``fully_shard`` and not Accelerate's FSDP plugin: Accelerate turns FSDP on
only for GPUs (on CPU its plugin is ignored and the model is wrapped in DDP), and its
checkpoints go through pickles. Here the same code shards on a laptop's 2 gloo processes
and on 8 GPUs, and checkpoints are DCP's safetensors shards (``sharded_checkpoint.py``).

The model is sharded per layer (the classes transformers lists in ``_no_split_modules``:
``BartEncoderLayer``, ``T5Block``, …), then as a whole (embeddings, tied output layer,
final norms), as torchtitan and Accelerate's ``TRANSFORMER_BASED_WRAP`` do: a layer's
full weights exist only while it computes. Gradients are averaged across processes as
DDP averages them, so the optimisation (and the loss curve) equals DDP's up to float
summation order.

Callbacks (validation, selection, saving) need a plain model: ``FullCopy`` keeps, on the
main process only, a twin of the model whose weights are gathered from the shards when
asked (``get_model_state_dict(full_state_dict=True, cpu_offload=True)``: every process
takes part, only the main process receives the tensors). The twin is built on the meta
device when sharding starts, so it costs no memory until it is first needed.
"""

from __future__ import annotations

import copy
from typing import Any, cast

import torch
from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.fsdp import FSDPModule, MixedPrecisionPolicy, fully_shard
from torch.distributed.tensor import DTensor

from seq2seq_es.errors import ConfigError

PARAM_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def is_sharded(model: Any) -> bool:
    """True for a model ``shard_model`` sharded (its parameters are DTensors)."""
    return isinstance(model, FSDPModule)


def layer_classes(model: Any) -> set[str]:
    """The class names of the model's repeated layers: the units sharded one by one."""
    names = set(getattr(model, "_no_split_modules", None) or ())
    if not names:
        raise ConfigError(
            f"engine.distributed=fsdp: {type(model).__name__} names no layer classes "
            "(_no_split_modules) to shard one by one. Use engine.distributed=ddp."
        )
    return names


def shard_model(model: Any, device: torch.device, world_size: int, precision: str) -> Any:
    """Shard ``model`` in place across the ``world_size`` processes (per layer, then the root);
    returns it (now also an ``FSDPModule``). Every process must call it with the same model."""
    model.to(device)
    mesh = init_device_mesh(device.type, (world_size,))
    dtype = PARAM_DTYPES.get(precision)
    policy = MixedPrecisionPolicy(param_dtype=dtype, reduce_dtype=torch.float32 if dtype else None)
    layers = layer_classes(model)
    for module in model.modules():
        if type(module).__name__ in layers:
            fully_shard(module, mesh=mesh, mp_policy=policy)
    fully_shard(model, mesh=mesh, mp_policy=policy)
    return model


def local_value(tensor: Any) -> Any:
    """A DTensor (e.g. the gradient norm ``clip_grad_norm_`` returns under FSDP) as the plain
    tensor every process agrees on; other values unchanged."""
    return tensor.full_tensor() if isinstance(tensor, DTensor) else tensor


def full_state_dict(model: Any) -> dict[str, torch.Tensor]:
    """The whole model's weights on CPU, on the main process (empty on the others). Every process
    must call it: the shards are gathered."""
    options = StateDictOptions(full_state_dict=True, cpu_offload=True)
    return cast("dict[str, torch.Tensor]", get_model_state_dict(model, options=options))


def meta_twin(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of ``model`` whose parameters live on the meta device (no memory), tied ones still
    tied; buffers are copied as they are (small, and the non-persistent ones are in no state
    dict)."""
    memo: dict[int, Any] = {
        id(param): torch.nn.Parameter(
            torch.empty_like(param, device="meta"), requires_grad=param.requires_grad
        )
        for param in model.parameters()
    }
    return copy.deepcopy(model, memo)


def materialize(twin: torch.nn.Module, device: torch.device) -> None:
    """Give the meta parameters of ``twin`` real (uninitialised) storage on ``device``, one
    tensor per shared parameter, so tied weights stay tied."""
    made: dict[int, torch.nn.Parameter] = {}
    for module in twin.modules():
        for name, param in list(module._parameters.items()):
            if param is not None and param.is_meta:
                if id(param) not in made:
                    made[id(param)] = torch.nn.Parameter(
                        torch.empty_like(param, device=device), requires_grad=param.requires_grad
                    )
                module._parameters[name] = made[id(param)]


class FullCopy:
    """The main process's plain twin of a sharded model (see the module docstring)."""

    def __init__(self, model: torch.nn.Module, main: bool, device: torch.device) -> None:
        """Call before ``shard_model`` (the twin copies the unsharded structure)."""
        self.twin = meta_twin(model) if main else None
        self.device = device
        self.ready = False

    def gather(self, sharded: Any) -> Any | None:
        """The twin holding the sharded model's current weights (main process), None elsewhere.
        Every process must call it."""
        weights = full_state_dict(sharded)
        if self.twin is None:
            return None
        if not self.ready:
            materialize(self.twin, self.device)
            self.ready = True
        self.twin.load_state_dict(weights, strict=True)
        self.twin.train(sharded.training)
        return self.twin
