"""FLOPs of an encoder-decoder training step, and the machine's peak, for MFU.

MFU (model FLOPs utilisation, PaLM / nanoGPT) = FLOPs the model needs ÷ time ÷ peak.
A matmul with a weight of ``n`` parameters costs 2n FLOPs per token forward and 4n
backward, so 6n per token; attention adds ``12 · layers · d · (query × key length)``.
Encoder weights see source tokens; decoder weights and the LM head see target tokens.
The CPU peak is measured, not assumed: a fp32 GEMM probe, cached per thread count.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

# Dense bf16 peaks (FLOP/s) of common accelerators, from vendor data sheets.
GPU_PEAK_BF16 = {"A100": 312e12, "H100": 989e12, "L4": 121e12, "A10": 125e12, "V100": 125e12}


@dataclass(frozen=True)
class ModelShape:
    """What the FLOP count needs to know about a model, read once from its weights and config."""

    encoder_weights: int
    decoder_weights: int
    head_weights: int
    d_model: int
    encoder_layers: int
    decoder_layers: int


def model_shape(model: Any) -> ModelShape:
    """Count matmul weights per side; embeddings, positions and biases excluded."""
    encoder = decoder = 0
    for name, param in model.named_parameters():
        if param.ndim < 2 or any(k in name for k in ("embed", "shared", "lm_head", "relative_attention_bias")):
            continue
        if "encoder" in name:
            encoder += param.numel()
        elif "decoder" in name:
            decoder += param.numel()
    config = model.config
    if hasattr(config, "decoder") and hasattr(config, "encoder"):  # EncoderDecoderModel
        config = config.decoder
    def first(*names: str) -> int:
        return int(next((getattr(config, n) for n in names if getattr(config, n, None)), 0))

    d_model = first("d_model", "hidden_size")
    enc_layers = first("encoder_layers", "num_layers", "num_hidden_layers")
    dec_layers = first("decoder_layers", "num_decoder_layers") or enc_layers
    vocab = int(getattr(model.config, "vocab_size", None) or config.vocab_size)
    return ModelShape(encoder, decoder, d_model * vocab, d_model, enc_layers, dec_layers)


def step_flops(shape: ModelShape, batch_size: int, source_len: int, target_len: int) -> float:
    """Training FLOPs (forward + backward) for one batch of padded shape."""
    dense = 6 * (shape.encoder_weights * source_len + (shape.decoder_weights + shape.head_weights) * target_len)
    attention = 12 * shape.d_model * (shape.encoder_layers * source_len**2
                                      + shape.decoder_layers * (target_len**2 + source_len * target_len))
    return float(batch_size * (dense + attention))


def measure_cpu_peak(size: int = 1024, seconds: float = 1.0) -> float:
    """Best fp32 matmul FLOP/s of this process's threads over ~``seconds``."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.matmul(a, b)
    best, deadline = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        for _ in range(4):
            torch.matmul(a, b)
        elapsed = time.perf_counter() - start
        best = max(best, 4 * 2 * size**3 / elapsed)
    return best


def peak_flops(cache_dir: Path | None = None) -> tuple[float, str]:
    """(peak FLOP/s, how it was obtained); CPU peaks are measured once and cached."""
    if torch.cuda.is_available():
        name = torch.cuda.get_device_name()
        for key, value in GPU_PEAK_BF16.items():
            if key in name:
                return value, f"data sheet bf16 peak of {name}"
        return 0.0, f"unknown peak for {name}"
    threads = torch.get_num_threads()
    cache = (cache_dir or Path.home() / ".cache" / "seq2seq-es") / "cpu_gemm_peak.json"
    key = f"threads={threads}|torch={torch.__version__}"
    try:
        known = json.loads(cache.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = {}
    if key not in known:
        known[key] = measure_cpu_peak()
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps(known, indent=2), encoding="utf-8")
        except OSError:
            pass
    return float(known[key]), f"fp32 GEMM probe, {threads} threads"
