"""FLOPs of an encoder-decoder training step, the peak they are divided by, and MFU.

MFU (model FLOPs utilisation, PaLM / nanoGPT's ``estimate_mfu``) = FLOPs the model needs ÷
time ÷ peak. A matmul with a weight of ``n`` parameters costs 2n FLOPs per token forward and
4n backward, so 6n per token; attention adds ``12 · layers · d · (query × key length)``.
Encoder weights see source tokens; decoder weights and the LM head see target tokens.

The peak (``resolve_peak``) is a number the run is given, never one it measures: in this
order ``engine.peak_flops`` (a user who knows the hardware), a GPU's data sheet (dense bf16),
or this CPU's fp32 GEMM peak as ``seq2seq-es bench-peak`` measured and cached it
(``peak_probe``, ``peak_cache``); else MFU is unknown, and the run says in one line how to get
one. Why no probe at the start of a run: a probe beside other work measures that work (issue
29), so it was refused for the cache and repeated at every start (16-17 s each on the shared
2-core machine, benchmarks/RESULTS.md); measuring is ``bench-peak``'s job, on a quiet machine.
Every record names the peak it divided by and where it came from (``mfu_fields``), and an MFU
above 1 is reported as what it is: an error in the peak, not a figure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from seq2seq_es.training.config import EngineConfig
from seq2seq_es.training.peak_cache import PeakCache
from seq2seq_es.training.peak_probe import PROBE_SIZE, GemmProbe, machine_key

NO_PEAK_HINT = (
    "MFU unknown: no peak for this CPU; measure it once with `seq2seq-es bench-peak` (cached "
    "per machine), or set engine.peak_flops"
)


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


# Dense figures: data sheets list the 2:4-sparsity figure first; dense is half of it. Sources
# (checked 2026-12 through reproductions of the vendor tables; the PDFs themselves were not
# reachable from here):
# - A100: NVIDIA A100 data sheet, BF16 Tensor Core 312 | 624* TFLOPS, SXM and PCIe alike,
#   https://www.nvidia.com/content/dam/en-zz/Solutions/Data-Center/a100/pdf/nvidia-a100-datasheet-us-nvidia-1758950-r4-web.pdf
#   (table as quoted at https://glennklockwood.com/garden/processors/A100).
# - H100: NVIDIA H100 data sheet, BFLOAT16 Tensor Core 1,979* (SXM) / 1,513* (PCIe) TFLOPS,
#   "* shown with sparsity, 1/2 lower without" (table as reproduced by an NVIDIA partner,
#   https://archive-lib.hpctech.co.jp/gpuproduct/nvidia-h100.html); NVL 1,671*.
# - L4: NVIDIA L4 data sheet, BF16 Tensor Core 242* TFLOPS (https://www.nvidia.com/en-us/data-center/l4/;
#   "242 TFLOPS ... with sparsity" as quoted at https://grokipedia.com/page/NVIDIA_L4_vs_L40S).
# - A10: NVIDIA A10 data sheet, BF16 Tensor Core 125 | 250* TFLOPS. The A10G (AWS G5) is not an
#   A10: NVIDIA publishes no data sheet for it and its tensor rate is lower
#   (https://www.baseten.co/blog/nvidia-a10-vs-a10g-for-ml-model-inference/), so it has no row
#   here (its name does not match "A10"): pass its peak as engine.peak_flops.
# - RTX 4090: NVIDIA Ada GPU architecture whitepaper (v2.01, appendix table): peak BF16 Tensor
#   TFLOPS with FP32 accumulate 165.2 | 330.4* (https://www.scribd.com/document/656196379/004,
#   a copy of images.nvidia.com/aem-dam/Solutions/geforce/ada/nvidia-ada-gpu-architecture.pdf;
#   165.15 also at https://waredb.com/processor/nvidia-geforce-rtx-4090). GeForce cards halve
#   the FP32-accumulate rate, which is what bf16 training uses.
# - V100: "up to 125 Tensor TFLOPS" of FP16 with FP32 accumulate
#   (https://developer.nvidia.com/programming-tensor-cores-cuda-9-0); Volta has no bf16
#   (https://www.nvidia.com/de-de/data-center/tensorcore: FP16 and FP32 only).
# - L40S: the row predates this check and was not re-checked.
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
        ("RTX", "4090"),
        165.2e12,
        "NVIDIA Ada architecture whitepaper, RTX 4090: BF16 165.2 TFLOPS dense (FP32 accumulate)",
    ),
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
    cached ``bench-peak`` measurement behind it, ``warning`` what the user should know (no
    peak known, a GPU without a data-sheet figure).
    """

    value: float | None
    source: str
    probe: GemmProbe | None = None
    warning: str | None = None

    def describe(self) -> str:
        """The line a run prints once: the peak and its source, or why there is none."""
        if not self.value:
            return self.warning or f"MFU peak: {self.source}"
        return f"MFU peak: {self.value / 1e9:.1f} GFLOP/s from {self.source}"


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
    engine: EngineConfig, *, processes: int = 1, cache_dir: Path | None = None
) -> PeakFlops:
    """The peak of this job, read, not measured: ``engine.peak_flops``, a GPU data sheet, or
    the CPU peak ``bench-peak`` cached for this machine (``cache_dir``: for tests).

    Per-device figures are multiplied by ``processes``, as the achieved FLOPs are summed over
    processes.
    """
    if not engine.measure_mfu:
        return NOT_MEASURED
    times = _times(processes)
    if engine.peak_flops:
        return PeakFlops(engine.peak_flops * processes, f"engine.peak_flops{times}")
    if torch.cuda.is_available():
        return gpu_peak(torch.cuda.get_device_name(), processes)
    cache = PeakCache(cache_dir)
    cached = cache.get(machine_key(PROBE_SIZE))
    if cached is None:
        return PeakFlops(None, "unknown (no bench-peak figure for this CPU)", warning=NO_PEAK_HINT)
    source = f"bench-peak cache {cache.path} ({cached.conditions()}){times}"
    return PeakFlops(cached.best * processes, source, probe=cached)


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
