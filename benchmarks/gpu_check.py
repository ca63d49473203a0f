"""One command that says how fast the project trains and decodes on this GPU, and how close to
its peak.

Why: every figure in RESULTS.md before this was CPU fp32; users pretrain on GPUs in bf16 with
``torch.compile``. This check trains barto-base and t5s-base (the paper's presets) with their
pretraining configs (``configs/pretrain/*-base.yaml``: objective, optimizer, bf16, workers) for
a few hundred steps, eager and with ``engine.compile=true``, through the same pieces
``seq2seq-es pretrain`` runs: its collator, token blocks, model builder and attention setting
(``pretraining/pretrain.py``) and the shared training loop (``training/loop.py``), whose own
throughput meter gives tokens/s, TFLOP/s and MFU (FLOPs counted by ``training/flops.py``, the
peak from its data-sheet table or ``--peak-tflops``). So the check measures what users run.

Per run it prints: the first step (compilation, for the compiled run), the median step of the
second half, tokens/s (padded source + target tokens) and MFU over the second half (the loop's
last log window), and the peak memory (``torch.cuda.max_memory_allocated``). Then it decodes a
batch of texts with the trained model through the engine ``eval`` and ``predict`` use
(``inference/engines.py``: greedy, a fixed number of new tokens) and prints tokens/s.

The micro-batch per GPU is the configs' (barto-base: 256 over 8 GPUs = 32 × 1,024 tokens;
t5s-base: 160 over 4 = 40 × 512 → 114), one micro-batch per step. The text is the shared Spanish
sample tokenized with a small tokenizer trained here (only its special ids must match the
preset's); the models have the presets' full vocabularies, so the FLOPs are the paper models'.

    python benchmarks/gpu_check.py                     # on a GPU machine
    python benchmarks/gpu_check.py --steps 100 --batch 16 --data my_text.jsonl.gz
    python benchmarks/gpu_check.py --device cpu --smoke   # the same code at tiny sizes (CI)
    python benchmarks/gpu_check.py --project 0.34         # what each GPU would do at 34% MFU

Without a GPU it says so and exits 0. A GPU without bf16 tensor cores (compute capability below
8.0: V100, T4) is reported and not run: the configs train in bf16.
``--smoke`` trains barto-tiny and t5s-tiny for a few steps in fp32 (bf16 autocast runs 0.09x
fp32 on this CPU), eager only
(torch.compile costs ~80 s on this CPU, RESULTS.md), and decodes a few tokens: it checks that
the code runs end to end; its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers.utils import logging as hf_logging

from seq2seq_es.config import load_config
from seq2seq_es.corpus.text_files import iter_texts
from seq2seq_es.errors import ConfigError, Seq2SeqEsError
from seq2seq_es.files import write_jsonl
from seq2seq_es.inference.config import GenerationOptions
from seq2seq_es.inference.engines import TransformersEngine
from seq2seq_es.models.attention import use_attention
from seq2seq_es.models.presets import (
    build_empty_model,
    build_model,
    count_parameters,
    get_preset,
    special_ids,
)
from seq2seq_es.pretraining.config import PretrainConfig
from seq2seq_es.pretraining.pretrain import check_positions, make_collator, split_blocks
from seq2seq_es.tokenizer.bpe import train_byte_level_bpe
from seq2seq_es.tokenizer.unigram import train_unigram
from seq2seq_es.training.batches import EpochBatches
from seq2seq_es.training.flops import gpu_peak, model_shape, step_flops
from seq2seq_es.training.loop import train
from seq2seq_es.training.runtime import prepare_runtime

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs" / "pretrain"
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "pretrain" / "sample.jsonl.gz"


@dataclass(frozen=True)
class Plan:
    """Sizes of one check: the presets (config file → per-device micro-batch), steps, decoding."""

    presets: dict[str, int]
    steps: int
    seq_len: dict[str, int] | None  # None: the config's
    modes: tuple[str, ...]
    precision: str  # engine.mixed_precision
    vocab: int  # of the tokenizer trained for the text (the models keep the presets' vocabulary)
    texts: int  # texts read: the tokenizer trains on them, the blocks are cut from them
    chars: int  # characters kept of each text
    max_tokens: int  # corpus tokens tokenized into blocks
    decode_texts: int
    decode_tokens: int


GPU = Plan(
    presets={"barto-base": 32, "t5s-base": 40},
    steps=300,
    seq_len=None,
    modes=("eager", "compiled"),
    precision="bf16",
    vocab=8000,
    texts=20_000,
    chars=100_000,
    max_tokens=20_000_000,
    decode_texts=64,
    decode_tokens=128,
)
SMOKE = Plan(
    presets={"barto-tiny": 2, "t5s-tiny": 2},
    steps=4,
    seq_len={"barto-tiny": 64, "t5s-tiny": 32},
    modes=("eager",),
    precision="no",  # bf16 autocast runs 0.09x fp32 on this CPU (RESULTS.md): seconds, not ms
    vocab=500,
    texts=40,
    chars=1_000,
    max_tokens=20_000,
    decode_texts=4,
    decode_tokens=8,
)
TOKENIZERS: dict[str, Callable[..., Any]] = {"bart": train_byte_level_bpe, "t5": train_unigram}


def gpu_problem() -> str | None:
    """Why this machine cannot run the check, or None. V100 and T4 (compute capability 7.x)
    have fp16 tensor cores only: bf16 there is emulated, and a figure of it would mislead."""
    if not torch.cuda.is_available():
        return (
            "no CUDA GPU found: nothing to check on this machine (exit 0). The same code at tiny "
            "sizes on CPU: python benchmarks/gpu_check.py --device cpu --smoke"
        )
    major, minor = torch.cuda.get_device_capability()
    if major < 8:
        return (
            f"{torch.cuda.get_device_name()} (compute capability {major}.{minor}) has no bf16 "
            "tensor cores (a V100's 125 TFLOP/s are fp16), and the pretraining configs train in "
            "bf16: not run (exit 0)"
        )
    return None


def pretrain_config(preset: str, plan: Plan, args: argparse.Namespace, folder: Path) -> Any:
    """The preset's pretraining config with this check's sizes, as CLI overrides would set it."""
    batch = args.batch or plan.presets[preset]
    overrides = [
        f"data={args.data}",
        f"output_dir={folder}",
        f"max_tokens={plan.max_tokens}",
        "validation_blocks=8",  # not used here: more of a small corpus stays for training
        f"optim.steps={args.steps or plan.steps}",
        f"optim.batch_size={batch}",
        "optim.grad_accum_steps=1",
        f"optim.warmup_steps={max(1, (args.steps or plan.steps) // 10)}",
        f"engine.mixed_precision='{plan.precision}'",  # quoted: YAML reads a bare no as false
        "engine.tensorboard=false",
        "engine.checkpoint_every=null",
    ]
    if plan.seq_len:
        overrides.append(f"seq_len={plan.seq_len[preset]}")
    if args.peak_tflops:
        overrides.append(f"engine.peak_flops={args.peak_tflops * 1e12}")
    return load_config(PretrainConfig, CONFIGS / f"{preset}.yaml", overrides)


def text_sample(data: Path, plan: Plan, folder: Path) -> Path:
    """The texts this check reads (the first ``plan.texts``, cut at ``plan.chars``), as a JSONL
    file the pretraining pipeline tokenizes: a smoke run then tokenizes kilobytes, not the
    whole sample."""
    texts = itertools.islice(iter_texts(data), plan.texts)
    path = folder / "texts.jsonl"
    write_jsonl(path, ({"text": text[: plan.chars]} for text in texts))
    return path


def text_tokenizer(preset: str, plan: Plan, data: Path) -> Any:
    """A small tokenizer of the preset's kind whose special ids are the preset's defaults, so the
    model can keep the paper's vocabulary size while the text uses the tokenizer's first ids."""
    row = get_preset(preset)
    tokenizer = TOKENIZERS[row.family](list(iter_texts(data)), plan.vocab)
    if special_ids(row, tokenizer) != special_ids(row, None):
        raise ConfigError(f"{preset}: the trained tokenizer's special ids differ from the preset's")
    return tokenizer


def run_leg(config: Any, tokenizer: Any, mode: str, folder: Path) -> dict[str, Any]:
    """Train once with the loop; the step clock, the loop's last log window and peak memory."""
    check_positions(config)
    collator, body = make_collator(config, tokenizer)
    training, _ = split_blocks(config, tokenizer, body)
    model = build_model(config.model, None, seed=config.seed, dropout=config.dropout)
    use_attention(model, config.engine.attn_implementation)
    steps = config.optim.steps
    engine = config.engine.model_copy(
        update={"compile": mode == "compiled", "log_every": max(1, steps // 2), "eval_every": 1}
    )
    batches = EpochBatches(
        training, collator, config.optim.batch_size, config.seed, engine.num_workers
    )
    clock = [time.perf_counter()]

    def tick(_model: Any, _step: int) -> dict[str, float]:
        clock.append(time.perf_counter())  # the loss was read: the step's GPU work is done
        return {}

    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    folder.mkdir(parents=True, exist_ok=True)  # split_blocks made it for its token stream
    clock[0] = time.perf_counter()
    result = train(model, batches, config.optim, engine, folder, config.seed, mode, evaluate=tick)
    seconds = [later - earlier for earlier, later in itertools.pairwise(clock)]
    records = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    window = [r for r in records if "tokens_per_s" in r][-1]
    return {
        "model": result.model,
        "parameters": count_parameters(result.model),
        "first_step": seconds[0],
        "step": statistics.median(seconds[steps // 2 :]),
        "window": window,
        "memory": torch.cuda.max_memory_allocated() if torch.cuda.is_available() else None,
    }


def decode_batch(model: Any, tokenizer: Any, config: Any, plan: Plan, data: Path) -> str:
    """Greedy decoding of one batch through the project's engine; its line of the report."""
    texts = list(itertools.islice(iter_texts(data), plan.decode_texts))
    tokens = plan.decode_tokens
    engine = TransformersEngine(
        model,
        tokenizer,
        GenerationOptions(max_new_tokens=tokens, min_new_tokens=tokens, num_beams=1),
        config.seq_len,
    )
    start = time.perf_counter()
    results = engine.generate(texts, GenerationOptions())
    seconds = time.perf_counter() - start
    made = sum(r["tokens"] for r in results)
    return (
        f"decode {config.model}: {len(texts)} texts (source cut at {config.seq_len} tokens), "
        f"{tokens} new tokens each, greedy: {made / seconds:.0f} tokens/s ({seconds:.2f} s)"
    )


# nanoT5's T5-base on one A100 80GB, bf16 + compile: 0.56 s a step of 256 × 512 → 114 (its
# README's efficiency table; without compile 1.30 s at 2 accumulation steps, 2.3x slower).
NANOT5_BATCH = (256, 512, 114)  # examples, source and target tokens
NANOT5_STEP_S, A100_PEAK = 0.56, 312e12
PROJECTED_GPUS = ("A100", "H100", "H100 PCIe", "L4", "A10", "RTX 4090")


def project(plan: Plan, args: argparse.Namespace, folder: Path, mfu: float) -> None:
    """Print the step time and tokens/s each preset would reach at ``mfu`` on each GPU of the
    peak table: the loop's FLOPs of a median batch (``flops.step_flops`` over the collator's
    real shapes) ÷ (peak × mfu). A projection, not a measurement."""
    shapes = {}
    for preset in plan.presets:
        config = pretrain_config(preset, plan, args, folder / preset)
        tokenizer = text_tokenizer(preset, plan, args.data)
        collator, body = make_collator(config, tokenizer)
        blocks, _ = split_blocks(config, tokenizer, body)
        batch, rows = config.optim.batch_size, []
        for k in range(min(8, len(blocks) // batch)):
            made = collator([(i, blocks[i]) for i in range(k * batch, (k + 1) * batch)])
            rows.append((made["input_ids"].shape[1], made["labels"].shape[1]))
        source = int(statistics.median(r[0] for r in rows))
        target = int(statistics.median(r[1] for r in rows))
        shape = model_shape(build_empty_model(preset))
        flops = step_flops(shape, batch, source, target)
        shapes[preset] = (flops, batch * (source + target))
        print(
            f"{preset}: batch {batch} x source {source} (median of {len(rows)} batches) / target "
            f"{target}: {flops / 1e12:.2f} TFLOP a step, {batch * (source + target)} tokens, "
            f"{flops / (batch * (source + target)) / 1e9:.3f} GFLOP a token"
        )
    t5 = model_shape(build_empty_model("t5s-base"))
    nano = step_flops(t5, *NANOT5_BATCH)
    print(
        f"nanoT5 (T5-base, A100, bf16 + compile): {nano / 1e12:.1f} TFLOP a step (this counter) / "
        f"{NANOT5_STEP_S} s / {A100_PEAK / 1e12:.0f} TFLOP/s = "
        f"{nano / NANOT5_STEP_S / A100_PEAK:.0%} MFU"
    )
    print(f"\nprojection at MFU {mfu:.0%}, not measured: step ms / tokens/s")
    for name in PROJECTED_GPUS:
        peak = gpu_peak(f"NVIDIA {name}").value
        assert peak is not None, name
        cells = [
            f"{flops / (peak * mfu) * 1e3:.0f} ms / {tokens * peak * mfu / flops:,.0f}"
            for flops, tokens in shapes.values()
        ]
        print(f"{name:<12}{peak / 1e12:>7.1f}  " + "  ".join(f"{c:>22}" for c in cells))


def table_row(preset: str, mode: str, config: Any, leg: dict[str, Any]) -> str:
    window = leg["window"]
    memory = "n/a" if leg["memory"] is None else f"{leg['memory'] / 2**30:.1f}"
    mfu = "n/a" if window.get("mfu") is None else f"{window['mfu']:.1%}"
    shape = f"{config.optim.batch_size} x {config.seq_len}"
    return (
        f"{preset:<12}{mode:<10}{shape:>11}{leg['first_step']:>12.2f}{leg['step'] * 1e3:>10.1f}"
        f"{window['tokens_per_s']:>12.0f}{window['tflops']:>9.2f}{mfu:>8}{memory:>10}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", choices=("auto", "cpu"), default="auto")
    parser.add_argument("--smoke", action="store_true", help="Tiny presets, a few steps.")
    parser.add_argument("--steps", type=int, default=None, help="Training steps per run.")
    parser.add_argument("--batch", type=int, default=None, help="Micro-batch per device.")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="JSONL(.gz) of text.")
    parser.add_argument(
        "--project",
        type=float,
        default=None,
        metavar="MFU",
        help="Print the step time each GPU of the peak table would take at this MFU "
        "(e.g. 0.34), from the FLOP count of real batches; no training, no GPU needed.",
    )
    parser.add_argument(
        "--peak-tflops", type=float, default=None, help="Dense bf16 peak of a GPU not in the table."
    )
    args = parser.parse_args()
    if args.device == "cpu" or args.project:
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # before torch first looks for a GPU
    elif problem := gpu_problem():
        print(problem)
        return 0
    if not args.data.is_file():
        print(f"{args.data} not found: pass --data with a JSONL(.gz) file of Spanish text")
        return 2
    hf_logging.set_verbosity_error()
    plan = SMOKE if args.smoke else GPU
    if args.project:
        with tempfile.TemporaryDirectory() as tmp:
            args.data = text_sample(args.data, plan, Path(tmp))
            project(plan, args, Path(tmp), args.project)
        return 0
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU"
    precision = "bf16 autocast" if plan.precision == "bf16" else "fp32"
    print(f"device {device}, torch {torch.__version__}, {precision}, {plan.steps} steps a run")
    if "compiled" not in plan.modes:
        print("compiled runs: not in --smoke (torch.compile takes ~80 s on CPU, RESULTS.md)")
    header = (
        f"{'preset':<12}{'mode':<10}{'batch x len':>11}{'first s':>12}{'step ms':>10}"
        f"{'tokens/s':>12}{'TFLOP/s':>9}{'MFU':>8}{'mem GiB':>10}"
    )
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        args.data = text_sample(args.data, plan, Path(tmp))
        for preset in plan.presets:
            tokenizer = text_tokenizer(preset, plan, args.data)
            lines, model, config, about = [], None, None, "every run failed"
            for mode in plan.modes:
                config = pretrain_config(preset, plan, args, Path(tmp) / preset / mode)
                prepare_runtime(config.engine)
                try:
                    leg = run_leg(config, tokenizer, mode, Path(config.output_dir))
                except torch.cuda.OutOfMemoryError:
                    lines.append(f"{preset:<12}{mode:<10}out of memory: lower --batch")
                    failed = True
                    continue
                model = leg.pop("model")
                lines.append(table_row(preset, mode, config, leg))
                about = f"{leg['parameters'] / 1e6:.1f}M parameters, MFU peak: "
                about += str(leg["window"]["peak_source"])
            print(f"\n{preset} ({about})")
            print(header)
            print("\n".join(lines))
            if model is not None and config is not None:
                try:
                    print(decode_batch(model, tokenizer, config, plan, args.data))
                except RuntimeError as exc:  # the project's decoding failing here is a finding
                    print(f"decode {preset} failed: {str(exc).splitlines()[0]}")
                    failed = True
            del model
            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
    print("\ngpu check: done" + (" (with failures above)" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Seq2SeqEsError as exc:  # a config or data error: the message says what to change
        print(exc, file=sys.stderr)
        sys.exit(2)
