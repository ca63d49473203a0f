"""BART → LED conversion: same weights, tiled positions, same function on short inputs, long
inputs run."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import (
    AutoModelForSeq2SeqLM,
    BartForConditionalGeneration,
    LEDForConditionalGeneration,
)

from seq2seq_es.errors import CheckpointError, ConfigError
from seq2seq_es.models.led import (
    BART_POSITION_OFFSET,
    bart_to_led,
    convert_bart_checkpoint,
    tile_positions,
)
from seq2seq_es.models.loading import load_seq2seq
from seq2seq_es.models.presets import build_model

pytestmark = pytest.mark.filterwarnings("ignore:.*automatically padded.*")


def _bart(bart_dir: Path) -> BartForConditionalGeneration:
    return BartForConditionalGeneration.from_pretrained(bart_dir).eval()


def test_tile_positions_repeats_and_cuts() -> None:
    table = torch.arange(6.0).reshape(3, 2)
    assert tile_positions(table, 7).tolist() == [
        [0, 1],
        [2, 3],
        [4, 5],
        [0, 1],
        [2, 3],
        [4, 5],
        [0, 1],
    ]


def test_conversion_keeps_every_weight_and_tiles_positions(bart_dir: Path) -> None:
    source = _bart(bart_dir)
    led = bart_to_led(source, max_encoder_positions=16 * 64, attention_window=16)
    original = source.model.encoder.embed_positions.weight[BART_POSITION_OFFSET:]
    assert torch.equal(led.led.encoder.embed_positions.weight, original.repeat(16, 1))
    assert torch.equal(
        led.led.decoder.embed_positions.weight,
        source.model.decoder.embed_positions.weight[BART_POSITION_OFFSET:],
    )
    led_state = led.state_dict()
    renames = {
        "self_attn.q_proj": "self_attn.longformer_self_attn.query",
        "self_attn.k_proj": "self_attn.longformer_self_attn.key",
        "self_attn.v_proj": "self_attn.longformer_self_attn.value",
        "self_attn.out_proj": "self_attn.output",
    }
    checked = 0
    for name, tensor in source.state_dict().items():
        if "embed_positions" in name:
            continue
        new = name.replace("model.", "led.", 1)
        if ".encoder.layers." in new:
            for old, replacement in renames.items():
                new = new.replace(old, replacement)
        assert torch.equal(led_state[new], tensor), name
        if "longformer_self_attn." in new:  # global projections start as copies of the local ones
            for local in ("query", "key", "value"):
                new = new.replace(f".{local}.", f".{local}_global.")
            assert torch.equal(led_state[new], tensor), new
        checked += 1
    assert checked == len(source.state_dict()) - 2
    assert led.lm_head.weight is led.led.shared.weight
    assert led.config.attention_window == [16, 16]


def test_led_computes_what_bart_did_on_short_inputs(bart_dir: Path) -> None:
    source = _bart(bart_dir)
    led = bart_to_led(source, max_encoder_positions=256, attention_window=32).eval()
    inputs = torch.randint(5, source.config.vocab_size, (2, 12))
    decoder_inputs = torch.randint(5, source.config.vocab_size, (2, 5))
    with torch.no_grad():
        torch.testing.assert_close(
            led(input_ids=inputs, decoder_input_ids=decoder_inputs).logits,
            source(input_ids=inputs, decoder_input_ids=decoder_inputs).logits,
        )


def test_converted_led_runs_a_4k_token_input_and_reloads(bart_dir: Path, tmp_path: Path) -> None:
    output = convert_bart_checkpoint(
        bart_dir, tmp_path / "led", max_encoder_positions=64 * 80, attention_window=64
    )
    led = AutoModelForSeq2SeqLM.from_pretrained(output).eval()
    assert isinstance(led, LEDForConditionalGeneration)
    _, tokenizer = load_seq2seq(output)
    assert tokenizer.model_max_length == 64 * 80
    length = 4500  # > 4k tokens and far past the BART's 64 positions
    inputs = torch.randint(5, led.config.vocab_size, (1, length))
    global_attention = torch.zeros_like(inputs)
    global_attention[:, 0] = 1  # the first token attends everywhere, as LED summarisers do
    with torch.no_grad():
        encoded = led.get_encoder()(input_ids=inputs, global_attention_mask=global_attention)
        generated = led.generate(
            input_ids=inputs, global_attention_mask=global_attention, max_new_tokens=4, num_beams=1
        )
    assert encoded.last_hidden_state.shape == (1, length, led.config.d_model)
    assert torch.isfinite(encoded.last_hidden_state).all()
    assert generated.shape[0] == 1


def test_invalid_conversions_are_clear_errors(bart_dir: Path) -> None:
    source = _bart(bart_dir)
    with pytest.raises(ConfigError, match="even"):
        bart_to_led(source, max_encoder_positions=1024, attention_window=15)
    with pytest.raises(ConfigError, match="shorter"):
        bart_to_led(source, max_encoder_positions=32, attention_window=16)
    with pytest.raises(CheckpointError, match="BART"):
        bart_to_led(build_model("t5s-tiny"), max_encoder_positions=1024)  # type: ignore[arg-type]
