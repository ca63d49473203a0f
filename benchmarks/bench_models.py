"""Model cost on CPU: forward+backward time and memory per preset, and LED vs full attention by
length.

Part 1 (presets): one training step (forward + backward, no optimizer) of each preset at a
512-token source on random token ids; targets follow each family's pretraining objective:
512 tokens for BART text infilling (it reconstructs the whole input), 114 for T5 span
corruption (t5x ``compute_input_and_target_lengths(512, 0.15, 3)``). Base presets use batch 1.

Part 2 (long inputs): the tiny LED (``barto-tiny`` converted with ``bart_to_led``) against
the same tiny BART with full self-attention (eager, i.e. materialised attention matrices,
and PyTorch SDPA), at growing source lengths with a 128-token target. This is the in-run
baseline: step memory should grow linearly with length for the LED (sliding window) and
quadratically for eager full attention.

Every measurement runs in a fresh process, so its peak resident memory is its own:
"step memory" = peak RSS during the first forward+backward − RSS just before it
(activations kept for backward + gradient buffers + allocator slack).

    .venv/bin/python benchmarks/bench_models.py              # everything (several minutes on 2
    cores)
    .venv/bin/python benchmarks/bench_models.py --quick      # tiny presets, lengths up to 4k
    .venv/bin/python benchmarks/bench_models.py --smoke      # part 2 at 256 tokens: seconds

``--smoke`` checks that the benchmark runs to its ratio line (part 2's; part 1 has none and runs
the same ``measure``): 256 tokens, LED window 64, eager full attention only, 2 steps, 1 thread,
the plot in a temporary folder. Its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 2**20


def _rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * PAGE_MB


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _patch_led_mask_to_one_row() -> None:
    """Diagnostic only, in this benchmark's child process: transformers' LED encoder expands its
    [batch, L] padding mask to a [batch, 1, L, L] float tensor and keeps only row 0
    (``_prepare_4d_attention_mask_inverted(...)[:, 0, 0, :]``), a transient O(L²) allocation.
    This stand-in returns the same values as a broadcast view of one row, so the row shows
    what the sliding-window model itself costs."""
    import torch
    from transformers.models.led import modeling_led

    def one_row(mask: torch.Tensor, dtype: torch.dtype, tgt_len: int | None = None) -> torch.Tensor:
        bsz, src_len = mask.size()
        inverted = 1.0 - mask[:, None, None, :].to(dtype)
        row = inverted.masked_fill(inverted.bool(), torch.finfo(dtype).min) * inverted
        return row.expand(bsz, 1, tgt_len if tgt_len is not None else src_len, src_len)

    modeling_led._prepare_4d_attention_mask_inverted = one_row  # type: ignore[assignment]


def _build(spec: dict[str, Any]) -> Any:
    import torch
    from transformers import BartForConditionalGeneration

    from seq2seq_es.models.led import bart_to_led
    from seq2seq_es.models.presets import build_config, build_model

    if spec["kind"] == "preset":
        return build_model(spec["name"], seed=0)
    if spec["kind"] == "led-row-mask":
        _patch_led_mask_to_one_row()
    if spec["kind"] in ("led", "led-row-mask"):
        return bart_to_led(
            build_model("barto-tiny", seed=0),
            max_encoder_positions=spec["max_positions"],
            attention_window=spec["window"],
        )
    config = build_config("barto-tiny")
    config.max_position_embeddings = spec["max_positions"]
    torch.manual_seed(0)
    model = BartForConditionalGeneration(config)
    model.set_attn_implementation(spec["attention"])
    return model


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    """One configuration, in its own process: step time (fastest timed step) and step memory."""
    import torch
    from transformers.utils import logging as hf_logging

    from seq2seq_es.models.presets import count_parameters

    hf_logging.set_verbosity_error()
    torch.set_num_threads(spec["threads"])
    model = _build(spec)
    model.train()
    vocab = model.config.vocab_size
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randint(5, vocab, (spec["batch"], spec["source"]), generator=generator)
    labels = torch.randint(5, vocab, (spec["batch"], spec["target"]), generator=generator)
    before = _rss_mb()
    times = []
    for _ in range(spec["steps"]):
        start = time.perf_counter()
        model(input_ids=inputs, labels=labels).loss.backward()
        times.append(time.perf_counter() - start)
        if len(times) == 1:
            step_memory = _peak_rss_mb() - before
    best = min(
        times[1:] if len(times) > 1 else times
    )  # least disturbed by other jobs on shared cores
    return {
        **spec,
        "parameters": count_parameters(model),
        "seconds": best,
        "tokens_per_s": spec["batch"] * spec["source"] / best,
        "step_memory_mb": step_memory,
        "rss_before_mb": before,
    }


def _run(spec: dict[str, Any]) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        return pool.apply(measure, (spec,))


def preset_specs(args: argparse.Namespace) -> list[dict[str, Any]]:
    from seq2seq_es.models.presets import PRESETS, preset_names

    specs = []
    for name in preset_names():
        base = name.endswith("-base")
        if args.quick and base:
            continue
        specs.append(
            {
                "kind": "preset",
                "name": name,
                "batch": args.base_batch if base else args.batch,
                "source": 512,
                "target": 512 if PRESETS[name].family == "bart" else 114,
                "steps": args.base_steps if base else args.steps,
                "threads": args.threads,
            }
        )
    return specs


def length_specs(args: argparse.Namespace) -> list[dict[str, Any]]:
    specs = []
    top = max(args.lengths)
    for length in args.lengths:
        common = {
            "batch": 1,
            "source": length,
            "target": 128,
            "steps": args.steps,
            "threads": args.threads,
            "max_positions": max(top, 1024),
        }
        specs.append(
            {
                **common,
                "kind": "led",
                "name": f"led-tiny w{args.attention_window}",
                "window": args.attention_window,
            }
        )
        if args.diagnose_mask:
            specs.append(
                {
                    **common,
                    "kind": "led-row-mask",
                    "window": args.attention_window,
                    "name": f"led-tiny w{args.attention_window} (1-row mask, diagnostic)",
                }
            )
        for attention in args.full_attentions:
            if length <= args.full_attention_max:
                specs.append(
                    {
                        **common,
                        "kind": "bart",
                        "name": f"bart-tiny full ({attention})",
                        "attention": attention,
                    }
                )
    return specs


def print_presets(rows: list[dict[str, Any]]) -> None:
    print("\n## forward+backward at 512 source tokens (fresh process per row)")
    print(
        f"{'preset':12} {'params':>12} {'batch':>5} {'src→tgt':>9} {'s/step':>8} {'src tok/s':>9} "
        f"{'step MB':>8}"
    )
    for r in rows:
        print(
            f"{r['name']:12} {r['parameters']:>12,} {r['batch']:>5} "
            f"{r['source']:>4}→{r['target']:<4} {r['seconds']:>8.3f} {r['tokens_per_s']:>9.0f} "
            f"{r['step_memory_mb']:>8.0f}"
        )


def print_lengths(rows: list[dict[str, Any]]) -> None:
    print("\n## long inputs: step memory and time by source length (batch 1, target 128)")
    first: dict[str, dict[str, Any]] = {}
    print(
        f"{'model':28} {'length':>7} {'s/step':>8} {'step MB':>8} {'MB / MB@first':>13} "
        f"{'length ratio':>12}"
    )
    for r in rows:
        ref = first.setdefault(r["name"], r)
        print(
            f"{r['name']:28} {r['source']:>7} {r['seconds']:>8.3f} {r['step_memory_mb']:>8.0f} "
            f"{r['step_memory_mb'] / ref['step_memory_mb']:>13.2f} "
            f"{r['source'] / ref['source']:>12.1f}"
        )
    led = {r["source"]: r for r in rows if r["kind"] == "led"}
    eager = {r["source"]: r for r in rows if r.get("attention") == "eager"}
    shared = sorted(set(led) & set(eager))
    if shared:
        n = shared[-1]
        print(
            f"\nratio full-attention (eager) BART / LED at {n} tokens: step memory "
            f"{eager[n]['step_memory_mb'] / led[n]['step_memory_mb']:.2f}x, step time "
            f"{eager[n]['seconds'] / led[n]['seconds']:.2f}x"
        )


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (memory, seconds) = plt.subplots(1, 2, figsize=(11, 4.2))
    for name in dict.fromkeys(r["name"] for r in rows):
        series = [r for r in rows if r["name"] == name]
        lengths = [r["source"] for r in series]
        memory.plot(lengths, [r["step_memory_mb"] for r in series], marker="o", label=name)
        seconds.plot(lengths, [r["seconds"] for r in series], marker="o", label=name)
    for axis, label in (
        (memory, "step memory (MB, peak RSS − before)"),
        (seconds, "forward+backward (s)"),
    ):
        axis.set_xscale("log", base=2)
        axis.set_yscale("log")
        axis.set_xlabel("source tokens (batch 1, target 128)")
        axis.set_ylabel(label)
        axis.grid(True, which="both", alpha=0.3)
    memory.legend(fontsize=8)
    fig.suptitle("LED (sliding window) vs full-attention BART, tiny models, CPU")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"\nplot: {path}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="Skip base presets; lengths up to 4k.")
    parser.add_argument("--batch", type=int, default=4, help="Batch of tiny/small presets.")
    parser.add_argument("--base-batch", type=int, default=1)
    parser.add_argument(
        "--steps", type=int, default=3, help="Steps per measurement (first is warm-up)."
    )
    parser.add_argument("--base-steps", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--lengths", type=int, nargs="+", default=[1024, 2048, 4096, 8192, 16384])
    parser.add_argument(
        "--full-attention-max",
        type=int,
        default=4096,
        help="Longest input for full-attention BART (eager memory grows with length²).",
    )
    parser.add_argument("--attention-window", type=int, default=512)
    parser.add_argument(
        "--full-attentions", nargs="+", default=["eager", "sdpa"], choices=["eager", "sdpa"]
    )
    parser.add_argument(
        "--diagnose-mask",
        action="store_true",
        help="Add LED rows without transformers' transient L×L encoder mask (see "
        "_patch_led_mask...).",
    )
    parser.add_argument("--skip-presets", action="store_true")
    parser.add_argument("--skip-lengths", action="store_true")
    parser.add_argument("--json", type=Path, default=None, help="Also write all rows here.")
    parser.add_argument("--plot", type=Path, default=HERE / "bench_models.png")
    parser.add_argument("--smoke", action="store_true", help="Tiny sizes, seconds.")
    args = parser.parse_args()
    if args.quick:
        args.lengths = [n for n in args.lengths if n <= 4096]
    if args.smoke:
        args.skip_presets, args.steps, args.threads = True, 2, 1
        args.lengths, args.attention_window, args.full_attentions = [256], 64, ["eager"]
        args.plot = Path(tempfile.mkdtemp(prefix="bench_models_")) / "bench_models.png"

    print(f"torch threads: {args.threads}; cores visible: {os.cpu_count()}")
    preset_rows = [] if args.skip_presets else [_run(spec) for spec in preset_specs(args)]
    if preset_rows:
        print_presets(preset_rows)
    length_rows = [] if args.skip_lengths else [_run(spec) for spec in length_specs(args)]
    if length_rows:
        print_lengths(length_rows)
        plot(length_rows, args.plot)
    if args.json:
        args.json.write_text(json.dumps({"presets": preset_rows, "lengths": length_rows}, indent=1))


if __name__ == "__main__":
    main()
