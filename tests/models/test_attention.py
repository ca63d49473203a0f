"""engine.attn_implementation: SDPA and eager attention compute the same model, and the value set
is the kernel that runs (seen in torch's profiler, not assumed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from torch.profiler import ProfilerActivity, profile
from transformers import LEDConfig, LEDForConditionalGeneration

from seq2seq_es.models.attention import use_attention
from seq2seq_es.models.bert2bert import warm_start_bert2bert
from seq2seq_es.models.loading import load_seq2seq, save_seq2seq
from seq2seq_es.models.presets import build_model

# Float32, as training runs: the two kernels sum the same products in another order (SDPA's CPU
# kernel blocks its softmax), so they differ by rounding. Measured: 3e-5 on T5S-tiny's logits of
# up to 56 (its untied head is initialised with std 1), 5e-7 of the largest; in float64 the gap
# is 7e-14, so it is rounding, not another computation. Allowed: 1e-5 of the largest logit, far
# below what a real difference does (a pad position left unmasked moves logits by percents).
RELATIVE_TOLERANCE = 1e-5


def padded_batch(pad: int, eos: int) -> dict[str, torch.Tensor]:
    """Two examples of different lengths: the second is padded in the encoder and in the labels,
    so the masks are exercised by both kernels."""
    input_ids = torch.tensor([[5, 6, 7, 8, 9, 10, eos], [11, 12, 13, eos, pad, pad, pad]])
    labels = torch.tensor([[14, 15, 16, eos], [17, eos, -100, -100]])
    return {"input_ids": input_ids, "attention_mask": (input_ids != pad).long(), "labels": labels}


def logits_and_ops(model: Any, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, set[str]]:
    """The model's logits on ``batch`` and the names of the torch operators it ran."""
    with profile(activities=[ProfilerActivity.CPU]) as prof, torch.no_grad():
        logits = model(**batch).logits
    return logits, {event.key for event in prof.key_averages()}


def assert_same_model_either_kernel(model: Any, batch: dict[str, torch.Tensor]) -> None:
    model.eval()
    assert use_attention(model, "sdpa") == "sdpa"
    fused, fused_ops = logits_and_ops(model, batch)
    assert use_attention(model, "eager") == "eager"
    plain, plain_ops = logits_and_ops(model, batch)
    assert "aten::scaled_dot_product_attention" in fused_ops
    assert "aten::scaled_dot_product_attention" not in plain_ops
    scale = float(plain.abs().max())
    torch.testing.assert_close(fused, plain, atol=RELATIVE_TOLERANCE * scale, rtol=0)


@pytest.mark.parametrize("preset", ["barto-tiny", "t5s-tiny"])
def test_sdpa_and_eager_give_the_same_logits(preset: str) -> None:
    model = build_model(preset, seed=0)
    batch = padded_batch(model.config.pad_token_id, model.config.eos_token_id)
    assert_same_model_either_kernel(model, batch)


def test_bert2bert_switches_encoder_and_decoder(bert_dir: Path, tmp_path: Path) -> None:
    """Loaded from its folder, as fine-tuning loads it. (Straight from ``warm_start_bert2bert``,
    transformers' ``EncoderDecoderModel`` leaves the layers of its halves holding their own
    copies of the config, which ``set_attn_implementation`` does not reach.)"""
    warm, warm_tokenizer = warm_start_bert2bert(bert_dir, seed=0)
    save_seq2seq(warm, warm_tokenizer, tmp_path / "b2b")
    model, tokenizer = load_seq2seq(tmp_path / "b2b")
    batch = padded_batch(tokenizer.pad_token_id, tokenizer.sep_token_id)
    assert_same_model_either_kernel(model, batch)
    assert model.encoder.config._attn_implementation == "eager"
    assert model.decoder.config._attn_implementation == "eager"


def test_an_architecture_without_sdpa_runs_eager_and_says_so() -> None:
    """LED has no SDPA in transformers 5: the run goes on, and records eager."""
    led = LEDForConditionalGeneration(
        LEDConfig(
            vocab_size=64,
            d_model=16,
            encoder_layers=1,
            decoder_layers=1,
            encoder_attention_heads=2,
            decoder_attention_heads=2,
            encoder_ffn_dim=16,
            decoder_ffn_dim=16,
            attention_window=4,
            max_encoder_position_embeddings=32,
            max_decoder_position_embeddings=32,
        )
    )
    assert use_attention(led, "sdpa") == "eager"
