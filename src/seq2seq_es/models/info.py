"""``seq2seq-es model info``: what a checkpoint or preset is, in one table.

Architecture, sizes, parameter count, vocabulary and special tokens are read from the
model and tokenizer themselves (not from names), so a mismatch such as an untied T5 head,
a shared BERT2BERT or an LED window is visible before anyone spends GPU hours on it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from transformers import EncoderDecoderConfig, PreTrainedTokenizerBase

from seq2seq_es.models.loading import load_seq2seq
from seq2seq_es.models.presets import PRESETS, build_empty_model, count_parameters


def _first(config: Any, *names: str) -> Any:
    for name in names:
        value = getattr(config, name, None)
        if value is not None:
            return value
    return None


def architecture_rows(config: Any) -> dict[str, Any]:
    """Layer counts and widths of BART / mBART / T5 / mT5 / LED / BERT2BERT configs (and the BERT
    preset's)."""
    if isinstance(config, EncoderDecoderConfig):
        enc: Any = config.encoder
        dec: Any = config.decoder
        return {
            "encoder": f"{enc.model_type}: {enc.num_hidden_layers} layers",
            "decoder": f"{dec.model_type}: {dec.num_hidden_layers} layers (+ cross-attention)",
            "d_model": enc.hidden_size,
            "heads": enc.num_attention_heads,
            "ffn": enc.intermediate_size,
            "positions": enc.max_position_embeddings,
            "shared encoder/decoder": bool(getattr(config, "tie_encoder_decoder", False)),
        }
    rows: dict[str, Any] = {
        "encoder layers": _first(config, "encoder_layers", "num_layers", "num_hidden_layers"),
        "decoder layers": (
            _first(config, "decoder_layers", "num_decoder_layers", "num_layers")
            if config.is_encoder_decoder
            else "none (encoder-only)"
        ),
        "d_model": _first(config, "d_model", "hidden_size"),
        "heads": _first(config, "encoder_attention_heads", "num_heads", "num_attention_heads"),
        "ffn": _first(config, "encoder_ffn_dim", "d_ff", "intermediate_size"),
    }
    if hasattr(config, "relative_attention_num_buckets"):  # T5, mT5, umT5, LongT5
        rows["ffn"] = f"{config.d_ff} ({config.feed_forward_proj})"
        rows["positions"] = f"relative ({config.relative_attention_num_buckets} buckets)"
    elif hasattr(config, "attention_window"):  # LED: Longformer attention in the encoder
        rows["positions"] = (
            f"encoder {config.max_encoder_position_embeddings}, "
            f"decoder {config.max_decoder_position_embeddings}"
        )
        windows = (
            sorted(set(config.attention_window))
            if isinstance(config.attention_window, list)
            else [config.attention_window]
        )
        rows["attention window"] = ", ".join(map(str, windows))
    else:
        rows["positions"] = _first(config, "max_position_embeddings")
    return rows


def special_tokens(model: Any, tokenizer: PreTrainedTokenizerBase | None) -> dict[str, str]:
    """Special ids the model uses, with the token each id is in the tokenizer."""
    generation = getattr(model, "generation_config", None)  # an encoder-only BERT generates nothing
    config = generation if generation is not None else model.config
    rows = {}
    for key in ("pad_token_id", "bos_token_id", "eos_token_id", "decoder_start_token_id"):
        value = getattr(config, key, None)
        if value is None:
            value = getattr(model.config, key, None)
        if value is None:
            continue
        label = key.removesuffix("_token_id").replace("_", " ")
        if tokenizer is not None and isinstance(value, int):
            rows[label] = f"{value} ({tokenizer.convert_ids_to_tokens(value)})"
        else:
            rows[label] = str(value)
    if tokenizer is not None and tokenizer.mask_token is not None:
        rows["mask"] = f"{tokenizer.mask_token_id} ({tokenizer.mask_token})"
    return rows


def _lm_head_tied(model: Any) -> bool:
    head = model.get_output_embeddings()
    return head is not None and head.weight is model.get_input_embeddings().weight


def model_info(name_or_path: str | Path) -> dict[str, Any]:
    """Rows describing a preset name, a local folder or a hub id (loaded with ``load_seq2seq``)."""
    name = str(name_or_path)
    tokenizer: PreTrainedTokenizerBase | None = None
    rows: dict[str, Any] = {"source": name}
    if name in PRESETS:
        preset = PRESETS[name]
        model: Any = build_empty_model(name)
        rows["preset"] = preset.description
    else:
        model, tokenizer = load_seq2seq(name)
    config = model.config
    rows["class"] = type(model).__name__
    rows["model type"] = config.model_type
    rows.update(architecture_rows(config))
    rows["parameters"] = f"{count_parameters(model):,}"
    paper = PRESETS[name].paper_parameters if name in PRESETS else None
    if paper is not None:
        rows["paper parameters"] = f"~{paper / 1e6:.0f}M"
    rows["LM head tied to embeddings"] = _lm_head_tied(model)
    rows["vocab (embedding rows)"] = f"{model.get_input_embeddings().num_embeddings:,}"
    if tokenizer is not None:
        rows["tokenizer"] = (
            f"{type(tokenizer).__name__}, {len(tokenizer):,} tokens, max length "
            f"{tokenizer.model_max_length if tokenizer.model_max_length < 10**9 else 'unset'}"
        )
    rows.update(special_tokens(model, tokenizer))
    rows["dropout"] = _first(
        getattr(config, "encoder", config), "dropout", "dropout_rate", "hidden_dropout_prob"
    )
    generation = getattr(model, "generation_config", None)
    settings = {
        k: getattr(generation, k, None)
        for k in ("num_beams", "length_penalty", "no_repeat_ngram_size")
    }
    if any(v is not None for v in settings.values()):
        rows["generation"] = ", ".join(f"{k}={v}" for k, v in settings.items() if v is not None)
    return rows
