"""FLOPs of an encoder-decoder training step, the peak they are divided by, and MFU.

MFU (model FLOPs utilisation, PaLM / nanoGPT) = FLOPs the model needs ÷ time ÷ peak.
A matmul with a weight of ``n`` parameters costs 2n FLOPs per token forward and 4n
backward, so 6n per token; attention adds ``12 · layers · d · (query × key length)``.
Encoder weights see source tokens; decoder weights and the LM head see target tokens.

The peak (``resolve_peak``) comes, in this order, from ``engine.peak_flops`` (a user
who knows the hardware), a GPU's data sheet (dense bf16), or the CPU's measured fp32
GEMM peak (``peak_probe``), cached per machine (``peak_cache``) and checked against a
short fresh probe at every run, so one busy moment cannot set it for good. Every
record names the peak it divided by and where it came from (``mfu_fields``), and an
MFU above 1 is reported as what it is: an error in the peak, not a figure.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from seq2seq_es.training.config import EngineConfig
from seq2seq_es.training.peak_cache import PeakCache
from seq2seq_es.training.peak_probe import (
    MAX_OTHERS_CPU,
    MAX_SPREAD,
    PROBE_REPEATS,
    PROBE_SIZE,
    GemmProbe,
    disturbance,
    machine_key,
    probe_cpu_peak,
)

QUICK_REPEATS = 5  # repeats of the fresh check a cached peak must pass at every run (~0.2 s)
POISON_RATIO = 1.25  # a cached peak this far below the fresh check was measured on a busy machine


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
    """Count matmul weights per side; embeddings, positions and biases excluded.

    An encoder-only model (a BERT pretrained with masked language modelling) has no decoder
    side: 0 decoder layers, and its output head runs over the encoder's positions."""
    encoder = decoder = 0
    for name, param in model.named_parameters():
        if param.ndim < 2 or any(
            k in name for k in ("embed", "shared", "lm_head", "relative_attention_bias")
        ):
            continue
        if "encoder" in name:
            encoder += param.numel()
        elif "decoder" in name:
            decoder += param.numel()
    config = model.config
    encoder_only = not getattr(config, "is_encoder_decoder", False)
    if hasattr(config, "decoder") and hasattr(config, "encoder"):  # EncoderDecoderModel
        config = config.decoder

    def first(*names: str) -> int:
        return int(next((getattr(config, n) for n in names if getattr(config, n, None)), 0))

    d_model = first("d_model", "hidden_size")
    enc_layers = first("encoder_layers", "num_layers", "num_hidden_layers")
    dec_layers = 0 if encoder_only else first("decoder_layers", "num_decoder_layers") or enc_layers
    vocab = int(getattr(model.config, "vocab_size", None) or config.vocab_size)
    return ModelShape(encoder, decoder, d_model * vocab, d_model, enc_layers, dec_layers)


def step_flops(shape: ModelShape, batch_size: int, source_len: int, target_len: int) -> float:
    """Training FLOPs (forward + backward) for one batch of padded shape (encoder-only:
    ``target_len`` 0)."""
    head_len = target_len if shape.decoder_layers else source_len
    dense = 6 * (
        shape.encoder_weights * source_len
        + shape.decoder_weights * target_len
        + shape.head_weights * head_len
    )
    attention = (
        12
        * shape.d_model
        * (
            shape.encoder_layers * source_len**2
            + shape.decoder_layers * (target_len**2 + source_len * target_len)
        )
    )
    return float(batch_size * (dense + attention))


@dataclass(frozen=True)
class GpuPeak:
    """Dense bf16 tensor-core peak of one GPU part, as its vendor data sheet states it."""

    words: tuple[str, ...]  # words of torch.cuda.get_device_name() that name the part
    flops: float
    sheet: str


# Dense figures: data sheets list the 2:4-sparsity figure first; dense is half of it.
GPU_PEAKS_BF16 = (
    GpuPeak(("A100",), 312e12, "NVIDIA A100 Tensor Core GPU data sheet: BF16 312 TFLOPS dense"),
    GpuPeak(("H100",), 989e12, "NVIDIA H100 data sheet, SXM: BF16 1,979 TFLOPS with sparsity"),
    GpuPeak(
        ("H100", "PCIe"), 756e12, "NVIDIA H100 data sheet, PCIe: BF16 1,513 TFLOPS with sparsity"
    ),
    GpuPeak(
        ("H100", "NVL"), 835e12, "NVIDIA H100 data sheet, NVL: BF16 1,671 TFLOPS with sparsity"
    ),
    GpuPeak(("L4",), 121e12, "NVIDIA L4 data sheet: BF16 242 TFLOPS with sparsity"),
    GpuPeak(("A10",), 125e12, "NVIDIA A10 data sheet: BF16 125 TFLOPS dense"),
    GpuPeak(("L40S",), 362e12, "NVIDIA L40S data sheet: BF16 733 TFLOPS with sparsity"),
    GpuPeak(
        ("V100",),
        125e12,
        "NVIDIA V100 data sheet, SXM2: 125 TFLOPS tensor (fp16: the V100 has no bf16)",
    ),
)


@dataclass(frozen=True)
class PeakFlops:
    """The peak an MFU divides by, for the whole job, and where it came from.

    ``value`` is FLOP/s summed over the job's processes (None: no MFU). ``probe`` is the
    CPU measurement behind it (fresh or cached), ``check`` the fresh check a cached
    value passed, ``warning`` what the user should know (a disturbed probe not cached,
    a poisoned cache entry replaced, a GPU without a data-sheet figure).
    """

    value: float | None
    source: str
    probe: GemmProbe | None = None
    check: float | None = None
    warning: str | None = None

    def describe(self) -> str:
        """The line a run prints once: the peak, its source and any warning."""
        if not self.value:
            return f"MFU peak: {self.source}" + (f" ({self.warning})" if self.warning else "")
        check = f"; fresh check {self.check / 1e9:.1f} GFLOP/s" if self.check else ""
        warning = f"\nwarning: {self.warning}" if self.warning else ""
        return f"MFU peak: {self.value / 1e9:.1f} GFLOP/s from {self.source}{check}{warning}"


NOT_MEASURED = PeakFlops(None, "not measured")


def mfu_fields(achieved_flops_per_s: float, peak: PeakFlops) -> dict[str, Any]:
    """What a metrics.jsonl record or summary.json says about efficiency.

    ``mfu`` is None when there is no peak, or when it would exceed 1: a run cannot beat
    the hardware's peak, so the peak was measured wrong and ``mfu_error`` says so.
    """
    fields: dict[str, Any] = {"peak_flops": peak.value, "peak_source": peak.source}
    if not peak.value:
        return {"mfu": None, **fields}
    mfu = achieved_flops_per_s / peak.value
    if mfu > 1:
        return {
            "mfu": None,
            **fields,
            "mfu_error": (
                f"measurement error: {achieved_flops_per_s / 1e9:.1f} GFLOP/s achieved is "
                f"{mfu:.2f}x the peak of {peak.value / 1e9:.1f} GFLOP/s (peak_source), so that "
                "peak is too low, as a CPU probe taken while other work ran would be; re-measure "
                "it with `seq2seq-es bench-peak` on a quiet machine, or set engine.peak_flops"
            ),
        }
    return {"mfu": mfu, **fields}


def resolve_peak(
    engine: EngineConfig,
    *,
    processes: int = 1,
    cache_dir: Path | None = None,
    size: int = PROBE_SIZE,
    probe: Callable[..., GemmProbe] = probe_cpu_peak,
    max_spread: float = MAX_SPREAD,
    max_others_cpu: float = MAX_OTHERS_CPU,
) -> PeakFlops:
    """The peak of this job: ``engine.peak_flops``, a GPU data sheet, or the CPU probe.

    Call it once per run, on the main process while the others wait (their work would
    disturb the probe). Per-device figures are multiplied by ``processes``, as the
    achieved FLOPs are summed over processes. ``cache_dir``, ``size``, ``probe`` and
    the thresholds are for ``bench-peak`` and tests; ``probe(size=, repeats=)`` must
    return a ``GemmProbe``.
    """
    if not engine.measure_mfu:
        return NOT_MEASURED
    times = _times(processes)
    if engine.peak_flops:
        return PeakFlops(engine.peak_flops * processes, f"engine.peak_flops{times}")
    if torch.cuda.is_available():
        return gpu_peak(torch.cuda.get_device_name(), processes)
    return cpu_peak(
        PeakCache(cache_dir),
        machine_key(size),
        processes=processes,
        size=size,
        probe=probe,
        max_spread=max_spread,
        max_others_cpu=max_others_cpu,
    )


def _times(processes: int) -> str:
    """How a per-device figure became the job's: " × 2 processes" (nothing for one)."""
    return f" × {processes} processes" if processes > 1 else ""


def gpu_peak(name: str, processes: int = 1) -> PeakFlops:
    """The data-sheet peak of the GPU called ``name`` (the most specific part that matches)."""
    words = set(re.split(r"[^A-Za-z0-9]+", name))
    known = [gpu for gpu in GPU_PEAKS_BF16 if set(gpu.words) <= words]
    if not known:
        return PeakFlops(
            None,
            f"no data-sheet peak for {name}",
            warning="set engine.peak_flops to the GPU's dense peak FLOP/s to log MFU",
        )
    gpu = max(known, key=lambda g: len(g.words))
    times = _times(processes)
    return PeakFlops(gpu.flops * processes, f"GPU data sheet {name}: {gpu.sheet}{times}")


def cpu_peak(
    cache: PeakCache,
    key: str,
    *,
    processes: int = 1,
    size: int = PROBE_SIZE,
    probe: Callable[..., GemmProbe] = probe_cpu_peak,
    max_spread: float = MAX_SPREAD,
    max_others_cpu: float = MAX_OTHERS_CPU,
) -> PeakFlops:
    """The cached CPU peak if a fresh check agrees with it, else a new probe (cached if clean).

    A cached peak far below the fresh check (``POISON_RATIO``) was measured while
    something else ran: it is dropped and replaced. A check below the cached peak is
    expected on a busy machine and keeps the cached figure (the best is the peak).
    """
    times = _times(processes)
    cached = cache.get(key)
    replaced = None
    check = None
    if cached is not None:
        check = probe(size=size, repeats=QUICK_REPEATS).best
        if check <= cached.best * POISON_RATIO:
            return PeakFlops(
                cached.best * processes,
                f"cache {cache.path} ({cached.conditions()}){times}",
                probe=cached,
                check=check,
            )
        cache.drop(key)
        replaced = (
            f"the cached peak {cached.best / 1e9:.1f} GFLOP/s ({cached.conditions()}) was far "
            f"below a fresh check ({check / 1e9:.1f} GFLOP/s): dropped"
        )
    fresh = probe(size=size, repeats=PROBE_REPEATS)
    disturbed = disturbance(fresh, max_spread, max_others_cpu)
    if disturbed:
        note = (
            f"the probe looks disturbed ({disturbed}): used for this run only, not cached; "
            "re-measure on a quiet machine with `seq2seq-es bench-peak`"
        )
    elif cache.put(key, fresh):
        note = None
    else:
        note = f"could not write {cache.path}: the peak will be probed again next run"
    warning = "; ".join(n for n in (replaced, note) if n) or None
    stored = "" if disturbed or note else f"; cached in {cache.path}"
    return PeakFlops(
        fresh.best * processes,
        f"probe now ({fresh.conditions()}{stored}){times}",
        probe=fresh,
        check=check,
        warning=warning,
    )


def measure_cpu_peak(size: int = PROBE_SIZE, seconds: float = 1.0) -> float:
    """Best fp32 GEMM FLOP/s of a probe of ~``seconds`` on this project's 2-core machines.

    Kept for ``benchmarks/bench_train.py`` (an in-run peak, never cached); new code
    calls ``probe_cpu_peak`` and reads its conditions too.
    """
    return probe_cpu_peak(size, repeats=max(3, round(PROBE_REPEATS * seconds))).best
