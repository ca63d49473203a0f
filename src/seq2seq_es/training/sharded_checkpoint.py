"""The model and optimizer of an FSDP run in a checkpoint: one safetensors shard per process,
written and read by ``torch.distributed.checkpoint`` (DCP), nothing pickled.

Why not DCP's default ``FileSystemWriter``: its ``.distcp`` data files come with a
``.metadata`` index written with ``pickle.dump`` and read with ``pickle.load`` (torch
2.13, ``torch/distributed/checkpoint/filesystem.py``), which this project never does
(``checkpoint.py``). DCP's ``HuggingFaceStorageWriter`` with ``save_distributed=True``
writes each process's shards as ``shards/shard-0000R-model-00001-of-00001.safetensors``,
their offsets in the full tensors as JSON in the safetensors header, and no index file;
``HuggingFaceStorageReader`` rebuilds the index from those headers
(``torch/distributed/checkpoint/hf_storage.py``). Only tensors go through DCP; the
optimizer's param groups (learning rate, betas, parameter names) are JSON beside them.

Tied weights (BART's embeddings and output layer are one tensor under four names) are
stored once under their first name, as ``save_model`` does for DDP checkpoints:
safetensors refuses tensors that share memory.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint import HuggingFaceStorageReader, HuggingFaceStorageWriter
from torch.distributed.checkpoint.state_dict import (
    get_model_state_dict,
    get_optimizer_state_dict,
    set_model_state_dict,
    set_optimizer_state_dict,
)
from torch.distributed.tensor import DTensor

from seq2seq_es.files import write_json

SHARDS = "shards"
PARAM_GROUPS = "optimizer.json"


def _storage(tensor: Any) -> int:
    local = tensor.to_local() if isinstance(tensor, DTensor) else tensor
    return int(local.untyped_storage().data_ptr())


def tied_aliases(state: dict[str, Any]) -> dict[str, str]:
    """``{name: first name}`` for every entry that shares its tensor with an earlier one."""
    first: dict[int, str] = {}
    aliases: dict[str, str] = {}
    for name, tensor in state.items():
        key = _storage(tensor)
        if key in first:
            aliases[name] = first[key]
        else:
            first[key] = name
    return aliases


def _sharded_parts(model: Any, optimizer: Any) -> tuple[dict[str, Any], dict[str, str], Any]:
    """(what DCP stores, the model's tied aliases, the optimizer's state dict)."""
    weights = get_model_state_dict(model)
    aliases = tied_aliases(weights)
    optim = get_optimizer_state_dict(model, optimizer)
    stored = {
        "model": {k: v for k, v in weights.items() if k not in aliases},
        "optimizer": optim["state"],
    }
    return stored, aliases, optim


def save_sharded(folder: Path, model: Any, optimizer: Any, main: bool) -> None:
    """Write this process's shards under ``folder/shards`` and (main process) the param groups to
    ``folder/optimizer.json``. Every process must call it."""
    stored, _, optim = _sharded_parts(model, optimizer)
    writer = HuggingFaceStorageWriter(str(folder / SHARDS), save_distributed=True)
    dcp.save(stored, storage_writer=writer)
    if main:
        write_json(folder / PARAM_GROUPS, {"param_groups": optim["param_groups"]})


def load_sharded(folder: Path, model: Any, optimizer: Any) -> None:
    """Restore what ``save_sharded`` wrote into a model and optimizer sharded the same way.
    Every process must call it."""
    stored, aliases, _ = _sharded_parts(model, optimizer)
    dcp.load(stored, storage_reader=HuggingFaceStorageReader(str(folder / SHARDS)))
    weights = dict(stored["model"])
    weights.update({name: weights[first] for name, first in aliases.items()})
    set_model_state_dict(model, weights)
    groups = json.loads((folder / PARAM_GROUPS).read_text(encoding="utf-8"))["param_groups"]
    for group in groups:
        if "betas" in group:
            group["betas"] = tuple(group["betas"])
    set_optimizer_state_dict(
        model, optimizer, {"state": stored["optimizer"], "param_groups": groups}
    )
