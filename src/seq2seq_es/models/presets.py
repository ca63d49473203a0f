"""Model presets as plain data (one table, litgpt style), built into transformers configs.

Why a table: presets differ only in numbers; one builder turns any row into a
``BartConfig`` so there are no per-preset subclasses, and outputs load anywhere with
``AutoModelForSeq2SeqLM.from_pretrained``.
"""

from __future__ import annotations

from typing import Any

from transformers import BartConfig, BartForConditionalGeneration, PreTrainedTokenizerBase

from seq2seq_es.errors import ConfigError

PRESETS: dict[str, dict[str, Any]] = {
    # BARTO as in the paper: BART-base, 6+6 layers, d768, 12 heads, FFN 3072, 1,024 positions.
    "barto-base": dict(family="bart", d_model=768, encoder_layers=6, decoder_layers=6,
                       encoder_attention_heads=12, decoder_attention_heads=12,
                       encoder_ffn_dim=3072, decoder_ffn_dim=3072, max_position_embeddings=1024),
    # A few-million-parameter BART that trains in minutes on a laptop CPU.
    "barto-tiny": dict(family="bart", d_model=128, encoder_layers=2, decoder_layers=2,
                       encoder_attention_heads=4, decoder_attention_heads=4,
                       encoder_ffn_dim=512, decoder_ffn_dim=512, max_position_embeddings=512),
}


def preset_names() -> list[str]:
    return sorted(PRESETS)


def build_config(preset: str, tokenizer: PreTrainedTokenizerBase, dropout: float = 0.1) -> BartConfig:
    """A transformers config for ``preset`` whose vocabulary and special ids match ``tokenizer``."""
    if preset not in PRESETS:
        raise ConfigError(f"Unknown model preset {preset!r}. Valid presets: {', '.join(preset_names())}.")
    row = {k: v for k, v in PRESETS[preset].items() if k != "family"}
    return BartConfig(
        vocab_size=len(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.eos_token_id,
        forced_eos_token_id=tokenizer.eos_token_id,
        dropout=dropout,
        **row,
    )


def build_model(preset: str, tokenizer: PreTrainedTokenizerBase, seed: int, dropout: float = 0.1) -> BartForConditionalGeneration:
    """A randomly initialised model for ``preset``; ``seed`` fixes the initial weights."""
    import torch

    config = build_config(preset, tokenizer, dropout=dropout)
    torch.manual_seed(seed)
    return BartForConditionalGeneration(config)


def count_parameters(model: Any) -> int:
    """Unique trainable parameters (tied embeddings counted once)."""
    seen: set[int] = set()
    total = 0
    for param in model.parameters():
        if id(param) not in seen and param.requires_grad:
            seen.add(id(param))
            total += param.numel()
    return total
