"""LoRA adapters through peft for every seq2seq family we fine-tune: defaults, checks, apply, merge,
save.

Why LoRA (Hu et al. 2021, arXiv 2106.09685): a frozen weight ``W`` gets a trainable update
``(alpha / r) · B·A`` of rank ``r``, so fine-tuning BARTO or T5S trains well under 1% of
the weights and the optimizer keeps moments only for those; after training the update is
added into ``W`` (``merge``) and the model is a plain transformers model again, so
``predict``, ``export`` and ``serve`` take it unchanged.

Defaults are the paper's choice (§7.1: adapt the query and value projections ``W_q``,
``W_v``) spelled in each architecture's module names; peft ships such a table for some
model types only (not mBART or LED), so ours is here, as data.

Two traps handled here rather than in every caller:

- A BERT2BERT built with ``--share`` (encoder and decoder use one tensor per weight) gets
  one adapter per side; merging both into the one tensor would add both updates to both
  sides, so the decoder gets its own copies first and the merged model says it is no
  longer shared (``tie_encoder_decoder: false``).
- An output layer tied to the input embeddings (BART's ``lm_head``) cannot take an adapter:
  merging it would change the embeddings too. It is refused with the names that can.

peft is imported inside the functions, so fine-tuning without an adapter does not load it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from transformers import (
    EncoderDecoderConfig,
    EncoderDecoderModel,
    PreTrainedConfig,
    PreTrainedTokenizerBase,
)
from transformers.pytorch_utils import Conv1D

from seq2seq_es.errors import CheckpointError, ConfigError
from seq2seq_es.files import atomic_dir
from seq2seq_es.models.config import AdapterConfig
from seq2seq_es.models.loading import load_seq2seq, load_tokenizer, save_seq2seq

ADAPTER_CONFIG_FILE = "adapter_config.json"
ADAPTER_WEIGHTS_FILE = "adapter_model.safetensors"

_BART_ATTENTION = ("q_proj", "v_proj")
_T5_ATTENTION = ("q", "v")
_BERT_ATTENTION = ("query", "value")

# Per model_type: the query and value projections (self- and cross-attention share the names).
DEFAULT_TARGET_MODULES: dict[str, tuple[str, ...]] = {
    "bart": _BART_ATTENTION,
    "mbart": _BART_ATTENTION,
    "marian": _BART_ATTENTION,
    "pegasus": _BART_ATTENTION,
    "m2m_100": _BART_ATTENTION,
    "plbart": _BART_ATTENTION,
    # LED: the encoder's Longformer attention (local and global projections), the decoder's BART
    # attention.
    "led": ("query", "value", "query_global", "value_global", *_BART_ATTENTION),
    "t5": _T5_ATTENTION,
    "mt5": _T5_ATTENTION,
    "umt5": _T5_ATTENTION,
    "longt5": _T5_ATTENTION,
    # Halves of a BERT2BERT (EncoderDecoderModel): its default is the union of its encoder's and
    # decoder's.
    "bert": _BERT_ATTENTION,
    "roberta": _BERT_ATTENTION,
    "xlm-roberta": _BERT_ATTENTION,
    "electra": _BERT_ATTENTION,
    "bert-generation": _BERT_ATTENTION,
    "gpt2": ("c_attn",),
}


def is_adapter_model(model: Any) -> bool:
    """True for a model wrapped by peft (``get_peft_model`` / ``PeftModel.from_pretrained``)."""
    return hasattr(model, "peft_config") and hasattr(model, "merge_and_unload")


def default_target_modules(config: PreTrainedConfig) -> list[str]:
    """The architecture's default LoRA targets; an ``EncoderDecoderModel`` takes both halves'."""
    halves: list[Any] = (
        [config.encoder, config.decoder] if isinstance(config, EncoderDecoderConfig) else [config]
    )
    types = [half.model_type for half in halves]
    missing = [kind for kind in types if kind not in DEFAULT_TARGET_MODULES]
    if missing:
        raise ConfigError(
            f"No default LoRA target modules for model type {missing[0]!r} (known: "
            f"{', '.join(sorted(DEFAULT_TARGET_MODULES))}). Set adapter.target_modules to the "
            "names of its attention projections (`seq2seq-es model info` lists the model)."
        )
    return list(dict.fromkeys(name for kind in types for name in DEFAULT_TARGET_MODULES[kind]))


def _adaptable_modules(model: Any) -> dict[str, torch.nn.Module]:
    """Full name → module, for the layer types LoRA wraps here (linear layers, GPT-2's Conv1D)."""
    return {
        name: module
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear | Conv1D)
    }


def adaptable_module_names(model: Any) -> list[str]:
    """The short names a ``target_modules`` entry can use (``q_proj``, ``fc1``, …), sorted; an
    output layer tied to the input embeddings is not one of them."""
    return sorted(
        {
            name.rsplit(".", 1)[-1]
            for name, module in _adaptable_modules(model).items()
            if not _is_tied_output(model, module)
        }
    )


def _matches(full_name: str, target: str) -> bool:
    """peft's rule for a list of targets: the whole name, or its last dotted parts."""
    return full_name == target or full_name.endswith("." + target)


def resolve_target_modules(model: Any, adapter: AdapterConfig) -> list[str]:
    """The target names for ``model``, checked: each names at least one linear layer, none the
    tied output layer."""
    targets = adapter.target_modules or default_target_modules(model.config)
    modules = _adaptable_modules(model)
    valid = ", ".join(adaptable_module_names(model))
    for target in targets:
        found = [name for name in modules if _matches(name, target)]
        if not found:
            raise ConfigError(
                f"adapter.target_modules: {target!r} names no linear layer of this "
                f"{model.config.model_type} model. Valid names: {valid}."
            )
        tied = [name for name in found if _is_tied_output(model, modules[name])]
        if tied:
            raise ConfigError(
                f"adapter.target_modules: {target!r} selects {tied[0]}, the output layer, whose "
                "weight is the input embeddings' (tied): merging an adapter there would change "
                f"the embeddings too. Valid names: {valid}."
            )
    return list(targets)


def _is_tied_output(model: Any, module: torch.nn.Module) -> bool:
    output: Any = model.get_output_embeddings()
    inputs: Any = model.get_input_embeddings()
    if output is None or inputs is None or module is not output:
        return False
    return bool(model.get_output_embeddings().weight.data_ptr() == inputs.weight.data_ptr())


def lora_config(model: Any, adapter: AdapterConfig) -> Any:
    """The peft ``LoraConfig`` of ``adapter`` for ``model`` (targets resolved and checked)."""
    from peft import LoraConfig, TaskType

    if adapter.kind != "lora":
        raise ConfigError(f"adapter.kind is {adapter.kind!r}: there is no adapter to configure.")
    return LoraConfig(
        task_type=TaskType.SEQ_2_SEQ_LM,
        r=adapter.r,
        lora_alpha=adapter.alpha,
        lora_dropout=adapter.dropout,
        target_modules=resolve_target_modules(model, adapter),
    )


def apply_adapter(model: Any, adapter: AdapterConfig, seed: int) -> Any:
    """``model`` with LoRA adapters and every other weight frozen (``kind: none``: ``model``
    unchanged).

    The adapters' random initialisation (peft: Kaiming-uniform ``A``, zero ``B``, so the
    model starts as the base) draws from a forked RNG seeded with ``seed``, as
    ``presets.build_model`` does: torch's global stream is left as it was.
    """
    if adapter.kind == "none":
        return model
    from peft import get_peft_model

    config = lora_config(model, adapter)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        wrapped = get_peft_model(model, config)
    _name_base_absolutely(wrapped)
    return wrapped


def _name_base_absolutely(model: Any) -> None:
    """Write a local base folder into ``adapter_config.json`` as an absolute path, so
    ``merge-adapter`` finds it from any working directory (hub ids and presets stay as they are)."""
    for settings in model.peft_config.values():
        name = settings.base_model_name_or_path
        if name and Path(name).is_dir():
            settings.base_model_name_or_path = str(Path(name).resolve())


def parameter_counts(model: Any) -> dict[str, int]:
    """Trainable and total parameters, each tensor counted once (tied weights are one)."""
    unique = {id(p): p for p in model.parameters()}.values()
    return {
        "trainable": sum(p.numel() for p in unique if p.requires_grad),
        "total": sum(p.numel() for p in unique),
    }


# ---------------------------------------------------- checkpoints (hook for training/checkpoint.py)


def checkpoint_tensors(model: Any) -> dict[str, torch.Tensor] | None:
    """What a checkpoint must store of ``model``: for an adapter model its trainable tensors only,
    else None
    (store the whole ``state_dict``). The frozen base is rebuilt on resume from ``config.model``
    (a folder, or a preset and its seed), so storing it again would only make checkpoints big."""
    if not is_adapter_model(model):
        return None
    return {name: param.detach() for name, param in model.named_parameters() if param.requires_grad}


def restore_checkpoint_tensors(
    model: Any, tensors: dict[str, torch.Tensor], source: str | Path = "checkpoint"
) -> None:
    """Load what ``checkpoint_tensors`` stored into a freshly built adapter model (same names,
    same shapes)."""
    params = {name: param for name, param in model.named_parameters() if param.requires_grad}
    missing, unexpected = sorted(set(params) - set(tensors)), sorted(set(tensors) - set(params))
    if missing or unexpected:
        raise CheckpointError(
            f"{source} does not hold this run's adapter ({len(missing)} trainable tensors missing, "
            f"e.g. {missing[:1]}; {len(unexpected)} unknown, e.g. {unexpected[:1]}). Resume with "
            "the adapter settings it was made with, or start a new output_dir."
        )
    with torch.no_grad():
        for name, tensor in tensors.items():
            if params[name].shape != tensor.shape:
                raise CheckpointError(
                    f"{source}: {name} has shape {tuple(tensor.shape)}, the model "
                    f"{tuple(params[name].shape)}. Resume with the adapter.r it was made with."
                )
            params[name].copy_(tensor)


class AdapterCheckpoint:
    """What the training engine's checkpoints store of an adapter model (its ``ModelState``
    protocol, ``training/checkpoint.py``): the trainable tensors only, restored by name."""

    content = "adapter"

    def state_tensors(self, model: Any) -> dict[str, torch.Tensor]:
        tensors = checkpoint_tensors(model)
        if tensors is None:
            raise ConfigError("AdapterCheckpoint is for a model with an adapter (peft)")
        return tensors

    def load_state_tensors(
        self, model: Any, tensors: dict[str, torch.Tensor], source: str | Path
    ) -> None:
        restore_checkpoint_tensors(model, tensors, source)


def checkpoint_state(model: Any) -> AdapterCheckpoint | None:
    """The ``model_state`` a recipe hands ``training.loop.train``: the adapter's for an adapter
    model, else None (the engine then stores every weight)."""
    return AdapterCheckpoint() if is_adapter_model(model) else None


# ---------------------------------------------------------------- saving, loading, merging


def save_adapter(model: Any, tokenizer: PreTrainedTokenizerBase, folder: str | Path) -> Path:
    """Write the adapter as peft does (``adapter_config.json``, ``adapter_model.safetensors``) +
    tokenizer, atomically.

    ``save_embedding_layers=False``: we never resize embeddings, and peft's ``"auto"`` would
    look the base model up on the Hub to find out.
    """
    with atomic_dir(folder) as tmp:
        model.save_pretrained(tmp, save_embedding_layers=False)
        tokenizer.save_pretrained(tmp)
    return Path(folder)


def save_model_or_adapter(
    model: Any, tokenizer: PreTrainedTokenizerBase, folder: str | Path
) -> Path:
    """An adapter model's adapter, or a whole model (``save_seq2seq``): what fine-tuning's
    selection keeps."""
    if is_adapter_model(model):
        return save_adapter(model, tokenizer, folder)
    return save_seq2seq(model, tokenizer, folder)


def load_adapter_weights(model: Any, folder: str | Path) -> None:
    """Put the adapter weights saved in ``folder`` into ``model`` (an adapter model with the same
    settings)."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    path = Path(folder) / ADAPTER_WEIGHTS_FILE
    if not path.is_file():
        raise CheckpointError(
            f"{path} not found: {folder} is not an adapter folder written by peft."
        )
    unexpected = getattr(
        set_peft_model_state_dict(model, load_file(str(path))), "unexpected_keys", []
    )
    if unexpected:
        raise CheckpointError(
            f"{path} holds tensors this adapter model does not have (e.g. {unexpected[0]}): it "
            "was trained with other adapter settings."
        )


def _unshare_encoder_decoder(model: Any) -> None:
    """Give a shared BERT2BERT's decoder its own copy of every weight it shares with the encoder.

    Each side has its own adapters, so after merging the two sides differ: merged into the
    one shared tensor, both updates would land on both sides. Untied first, each merge adds
    one update to one tensor, and the model says it is no longer shared."""
    if not (
        isinstance(model, EncoderDecoderModel)
        and getattr(model.config, "tie_encoder_decoder", False)
    ):
        return
    encoder_storage = {param.data_ptr() for param in model.encoder.parameters()}
    for name, param in list(model.decoder.named_parameters()):
        if param.data_ptr() in encoder_storage:
            module_name, _, leaf = name.rpartition(".")
            setattr(
                model.decoder.get_submodule(module_name),
                leaf,
                torch.nn.Parameter(param.detach().clone(), requires_grad=param.requires_grad),
            )
    model.config.tie_encoder_decoder = False
    model.tie_weights()  # the decoder's LM head follows its (now own) word embeddings


def merge_adapter(model: Any) -> Any:
    """The base model with each adapter's update added into its weight (peft ``merge_and_unload``).

    Consumes ``model``: its layers are replaced in place. The result is a plain transformers
    model, trainable again as a freshly loaded one is (peft froze the base).
    """
    _unshare_encoder_decoder(model.get_base_model())
    merged = model.merge_and_unload()
    for param in merged.parameters():
        param.requires_grad_(True)
    return merged


def keep_final_adapter(
    model: Any, tokenizer: PreTrainedTokenizerBase, output_dir: str | Path, selected: bool
) -> Any:
    """End of an adapter fine-tune: ``output_dir/adapter`` (peft format) and ``output_dir/model``
    (merged).

    ``selected``: selection kept a best adapter in ``best_model/``; it becomes ``adapter/``
    and its weights go into ``model`` before merging (a run killed after that rename and
    resumed finds it in ``adapter/``). Otherwise the adapter as trained is saved. Returns
    the merged model, a plain transformers model (``predict``, ``export``, ``serve`` take
    ``model/`` unchanged).
    """
    output_dir = Path(output_dir)
    best, adapter_dir = output_dir / "best_model", output_dir / "adapter"
    if selected and best.is_dir():
        shutil.rmtree(adapter_dir, ignore_errors=True)
        best.rename(adapter_dir)
    if selected and adapter_dir.is_dir():
        load_adapter_weights(model, adapter_dir)
    else:
        save_adapter(model, tokenizer, adapter_dir)
    merged = merge_adapter(model)
    save_seq2seq(merged, tokenizer, output_dir / "model")
    return merged


def read_adapter_config(folder: str | Path) -> dict[str, Any]:
    """``adapter_config.json`` of an adapter folder, with errors that say what the folder lacks."""
    folder = Path(folder)
    path = folder / ADAPTER_CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(
            f"{folder}: no {ADAPTER_CONFIG_FILE} here, so this is not an adapter folder. Pass the "
            "folder peft's save_pretrained wrote (e.g. <finetune output_dir>/adapter)."
        )
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(
            f"{path} is not valid JSON ({exc}); save the adapter again."
        ) from None
    return data


def merge_adapter_folder(
    adapter: str | Path,
    output: str | Path,
    base: str | Path | None = None,
    tokenizer: str | Path | None = None,
) -> dict[str, Any]:
    """Merge an adapter trained anywhere (saved by peft) into its base; write a plain model folder.

    ``base`` defaults to the adapter's ``base_model_name_or_path``; the tokenizer to the
    adapter folder's own, else the base's.
    """
    from peft import PeftModel, get_peft_model_state_dict

    adapter = Path(adapter)
    settings = read_adapter_config(adapter)
    base = base or settings.get("base_model_name_or_path")
    if not base:
        raise ConfigError(
            f"{adapter}/{ADAPTER_CONFIG_FILE} does not name its base model: pass base=<model "
            "folder or hub id> (the model the adapter was trained on)."
        )
    tokenizer_source = tokenizer or (adapter if _has_tokenizer(adapter) else base)
    model, _ = load_seq2seq(base)
    tok = load_tokenizer(tokenizer_source)
    try:
        wrapped = PeftModel.from_pretrained(model, str(adapter))
    except (ValueError, RuntimeError, KeyError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"{adapter} does not fit the base model {base} ({reason}). Pass the base model it was "
            "trained on as base=."
        ) from None
    adapter_parameters = sum(t.numel() for t in get_peft_model_state_dict(wrapped).values())
    merged = merge_adapter(wrapped)
    save_seq2seq(merged, tok, output)
    return {
        "adapter": str(adapter),
        "base": str(base),
        "output": str(output),
        "peft_type": settings.get("peft_type"),
        "r": settings.get("r"),
        "target_modules": _as_list(settings.get("target_modules")),
        "adapter_parameters": adapter_parameters,
    }


def _has_tokenizer(folder: Path) -> bool:
    return (folder / "tokenizer.json").is_file() or (folder / "tokenizer_config.json").is_file()


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return sorted(str(v) for v in value) if isinstance(value, Iterable) else [str(value)]
