"""BART → Longformer-Encoder-Decoder (LED) conversion: LEDO, the paper's long-input BARTO.

The paper turned BARTO into ``vgaraujov/led-base-16384-spanish`` without further
pretraining, following Beltagy et al. 2020 (Longformer, §6 and allenai's
``convert_bart_to_longformerencoderdecoder.py``): the encoder's learned position table is
copied N times end to end (1,024 → 16,384 rows), full self-attention becomes sliding-window
attention with the *same* query/key/value weights (the global-attention projections start as
copies of them), and every other weight is kept as is. With inputs no longer than half the
attention window the LED computes exactly what the BART did.

Position tables: BART stores two extra leading rows (fairseq's padding offset, unused);
LED has no offset, so the LED tables are BART's rows ``[2:]`` (encoder: tiled).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from transformers import (
    BartForConditionalGeneration,
    GenerationConfig,
    LEDConfig,
    LEDForConditionalGeneration,
)

from seq2seq_es.errors import CheckpointError, ConfigError
from seq2seq_es.files import write_json
from seq2seq_es.models.loading import load_seq2seq, save_seq2seq

BART_POSITION_OFFSET = 2
_ATTENTION_RENAMES = {"q_proj": "query", "k_proj": "key", "v_proj": "value"}


def tile_positions(table: torch.Tensor, rows: int) -> torch.Tensor:
    """``table`` repeated end to end until it has ``rows`` rows (the last copy cut short)."""
    copies = -(-rows // table.shape[0])
    return table.repeat(copies, 1)[:rows].clone()


def led_config_from_bart(
    bart: BartForConditionalGeneration,
    max_encoder_positions: int,
    attention_window: int | list[int],
) -> LEDConfig:
    config: Any = bart.config  # BartConfig fields are typed Optional; a built model has them all
    if getattr(config, "scale_embedding", False):
        raise CheckpointError(
            "This BART scales its token embeddings (scale_embedding=True); LED has no embedding "
            "scaling, so the converted model would compute something else. Convert a BART-base-"
            "style checkpoint (scale_embedding=False), as BARTO is."
        )
    windows = (
        [attention_window] * config.encoder_layers
        if isinstance(attention_window, int)
        else attention_window
    )
    if len(windows) != config.encoder_layers or any(w <= 0 or w % 2 for w in windows):
        raise ConfigError(
            f"attention_window must be a positive even number, or one per encoder layer "
            f"({config.encoder_layers}); got {attention_window}."
        )
    if max_encoder_positions < config.max_position_embeddings:
        raise ConfigError(
            f"max_encoder_positions={max_encoder_positions} is shorter than the BART's own "
            f"{config.max_position_embeddings} positions; LED conversion is for longer inputs."
        )
    return LEDConfig(
        vocab_size=config.vocab_size,
        d_model=config.d_model,
        max_encoder_position_embeddings=max_encoder_positions,
        max_decoder_position_embeddings=config.max_position_embeddings,
        encoder_layers=config.encoder_layers,
        decoder_layers=config.decoder_layers,
        encoder_attention_heads=config.encoder_attention_heads,
        decoder_attention_heads=config.decoder_attention_heads,
        encoder_ffn_dim=config.encoder_ffn_dim,
        decoder_ffn_dim=config.decoder_ffn_dim,
        encoder_layerdrop=config.encoder_layerdrop,
        decoder_layerdrop=config.decoder_layerdrop,
        activation_function=config.activation_function,
        dropout=config.dropout,
        attention_dropout=config.attention_dropout,
        activation_dropout=config.activation_dropout,
        init_std=config.init_std,
        attention_window=list(windows),
        pad_token_id=config.pad_token_id,
        bos_token_id=config.bos_token_id,
        eos_token_id=config.eos_token_id,
        decoder_start_token_id=config.decoder_start_token_id,
    )


def led_state_dict_from_bart(
    bart_state: dict[str, torch.Tensor], max_encoder_positions: int
) -> dict[str, torch.Tensor]:
    """Rename BART weights to LED names; tile the encoder positions; global projections = local
    ones."""
    state: dict[str, torch.Tensor] = {}
    for name, tensor in bart_state.items():
        new = name.replace("model.", "led.", 1) if name.startswith("model.") else name
        if new.endswith("embed_positions.weight"):
            table = tensor[BART_POSITION_OFFSET:]
            state[new] = (
                tile_positions(table, max_encoder_positions)
                if ".encoder." in new
                else table.clone()
            )
            continue
        parts = new.split(".")
        if ".encoder.layers." in new and parts[4] == "self_attn":
            projection, leaf = parts[5], parts[6]
            prefix = ".".join(parts[:5])
            if projection == "out_proj":
                state[f"{prefix}.output.{leaf}"] = tensor
            else:
                local = _ATTENTION_RENAMES[projection]
                state[f"{prefix}.longformer_self_attn.{local}.{leaf}"] = tensor
                state[f"{prefix}.longformer_self_attn.{local}_global.{leaf}"] = tensor.clone()
            continue
        state[new] = tensor
    return state


def bart_to_led(
    bart: BartForConditionalGeneration,
    max_encoder_positions: int = 16_384,
    attention_window: int | list[int] = 512,
) -> LEDForConditionalGeneration:
    """An LED with BART's weights, ``max_encoder_positions`` input positions and sliding-window
    attention."""
    if not isinstance(bart, BartForConditionalGeneration):
        raise CheckpointError(
            f"LED conversion needs a BART model (BartForConditionalGeneration), got "
            f"{type(bart).__name__}."
        )
    config = led_config_from_bart(bart, max_encoder_positions, attention_window)
    with torch.device("meta"):
        led = LEDForConditionalGeneration(config)
    state = led_state_dict_from_bart(bart.state_dict(), max_encoder_positions)
    expected = set(led.state_dict())
    if set(state) != expected:
        raise CheckpointError(
            f"BART → LED weight names do not line up (transformers changed?): missing "
            f"{sorted(expected - set(state))[:5]}, unexpected {sorted(set(state) - expected)[:5]}."
        )
    led.load_state_dict(state, strict=True, assign=True)
    led.tie_weights()
    led.generation_config = GenerationConfig.from_dict(bart.generation_config.to_dict())
    led.train(bart.training)
    return led


def convert_bart_checkpoint(
    source: str | Path,
    output: str | Path,
    max_encoder_positions: int = 16_384,
    attention_window: int | list[int] = 512,
) -> Path:
    """Load a BART folder or hub id, convert it, and save LED + tokenizer (longer
    ``model_max_length``)."""
    bart, tokenizer = load_seq2seq(source)
    if not isinstance(bart, BartForConditionalGeneration):
        raise CheckpointError(
            f"{source} is a {bart.config.model_type!r} model; LED conversion needs a BART "
            "checkpoint (such as BARTO, vgaraujov/bart-base-spanish)."
        )
    led = bart_to_led(bart, max_encoder_positions, attention_window)
    tokenizer.model_max_length = max_encoder_positions
    save_seq2seq(led, tokenizer, output)
    write_json(
        Path(output) / "conversion.json",
        {
            "source": str(source),
            "max_encoder_positions": max_encoder_positions,
            "attention_window": attention_window,
            "copies_of_bart_positions": max_encoder_positions / bart.config.max_position_embeddings,
        },
    )
    return Path(output)
