"""LoRA vs full fine-tuning: what it saves (parameters, memory, step time, checkpoint) and what it
costs in quality.

``cost``: for each preset (barto-small, t5s-small and barto-base, the 140M BART-base shape),
the same randomly initialised model (seed 0; barto-base at its own 50,264-token vocabulary,
140M parameters as BART-base, reading ids of the 8,000-token bench tokenizer, which has
BART's special ids), the same tatoeba-en-es training pairs and the same batch are trained
``--steps`` steps by our loop (``training.loop.train``), once with
every weight trainable and once with LoRA at the defaults (r 8, alpha 16, dropout 0.05, the
query/value projections). Each run is its own subprocess, so its peak RSS (``ru_maxrss``)
is its own; the rise of RSS during training (gradients, Adam moments, activations) is
printed beside it. Step time: the median over the steps after the first two (timestamps at
each step's end), wall clock and this process's CPU time (the machine is shared: CPU time
is the steadier of the two when other jobs run); with ``--repeats`` the runs alternate
full, LoRA, full, … and the median over repeats is printed, with every run's in cost.json.
Checkpoint: one written at the last step by ``training/checkpoint.py``
as it stands, and the size of the model part if it held only the adapter's tensors
(``models.adapters.checkpoint_tensors``, the hook that checkpoint.py is to call).

``quality``: ``seq2seq-es finetune`` on tatoeba-en-es from one pretrained model, full vs
LoRA (at the full run's learning rate and at a LoRA-typical higher one), the same steps and
batch, the last weights decoded on the same validation examples; then ``seq2seq-es compare``
(BLEU and chrF with 95% bootstrap CIs, paired bootstrap and randomization tests, Holm).

    nice -n 10 .venv/bin/python benchmarks/bench_lora.py cost --steps 12 --base-steps 6 --repeats 3
    nice -n 10 .venv/bin/python benchmarks/bench_lora.py quality --model runs/noise-fairseq/model
    --steps 600
    .venv/bin/python benchmarks/bench_lora.py cost --smoke   # barto-tiny, 3 steps of 4: seconds

``cost --smoke`` checks that the cost part runs to its ratio lines (its numbers mean nothing);
``quality`` has no smoke: it needs a pretrained model and hundreds of steps to mean anything.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SEQ2SEQ_ES_SHARED_DATA", REPO.parent / "shared" / "data"))
PRESETS = ("barto-small", "t5s-small", "barto-base")
MODES = ("full", "lora")


def rss_bytes() -> int:
    """This process's resident set now (Linux /proc)."""
    with open("/proc/self/statm", encoding="ascii") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def bench_tokenizer(folder: Path, pairs: int) -> Path:
    """A byte-level BPE of 8,000 tokens trained on the first tatoeba pairs (both sides), made
    once."""
    if not (folder / "tokenizer.json").is_file():
        from seq2seq_es.files import iter_jsonl
        from seq2seq_es.tokenizer.bpe import train_byte_level_bpe
        from seq2seq_es.tokenizer.save import save_tokenizer

        texts: list[str] = []
        for i, row in enumerate(iter_jsonl(DATA / "translation" / "tatoeba_es_en_train.jsonl.gz")):
            if i >= pairs:
                break
            texts += [row["en"], row["es"]]
        save_tokenizer(train_byte_level_bpe(texts, vocab_size=8000), folder)
    return folder


# --------------------------------------------------------------------------------------------- cost


def one_run(
    preset: str, mode: str, steps: int, batch: int, tokenizer_dir: Path, work: Path, threads: int
) -> dict[str, Any]:
    """Train ``preset`` for ``steps`` steps in ``mode`` (full | lora) and measure it (runs in a
    child process)."""
    import torch
    from safetensors.torch import save_file
    from transformers import DataCollatorForSeq2Seq

    from seq2seq_es.models.adapters import apply_adapter, checkpoint_tensors, parameter_counts
    from seq2seq_es.models.config import AdapterConfig
    from seq2seq_es.models.presets import build_model
    from seq2seq_es.tasks.examples import encode_examples, load_examples, pair_lengths
    from seq2seq_es.tasks.registry import get_task
    from seq2seq_es.tokenizer.save import load_tokenizer_folder
    from seq2seq_es.training.batches import EpochBatches, WithoutIndex
    from seq2seq_es.training.config import EngineConfig, OptimConfig
    from seq2seq_es.training.loop import train

    torch.set_num_threads(threads)
    tokenizer = load_tokenizer_folder(tokenizer_dir)
    task = get_task("tatoeba-en-es")
    features = encode_examples(
        load_examples(task, str(DATA), "train", batch * steps), tokenizer, task
    )
    full_vocabulary = preset == "barto-base"
    if full_vocabulary:
        assert (tokenizer.bos_token_id, tokenizer.pad_token_id, tokenizer.eos_token_id) == (
            0,
            1,
            2,
        ), "BART's ids"
    model = build_model(preset, None if full_vocabulary else tokenizer, seed=0)
    collator = WithoutIndex(DataCollatorForSeq2Seq(tokenizer, model=model, label_pad_token_id=-100))
    model = apply_adapter(model, AdapterConfig(kind="lora" if mode == "lora" else "none"), seed=0)
    counts = parameter_counts(model)
    batches = EpochBatches(features, collator, batch, seed=0, lengths=pair_lengths(features))
    optim = OptimConfig(steps=steps, batch_size=batch, lr=5e-4, warmup_steps=1)
    engine = EngineConfig(
        log_every=steps,
        eval_every=1,
        checkpoint_every=steps,
        keep_checkpoints=1,
        tensorboard=False,
        measure_mfu=False,
    )
    stamps: list[tuple[float, float]] = []

    def stamp(current: Any, step: int) -> dict[str, float]:
        stamps.append((time.perf_counter(), time.process_time()))
        return {}

    output = work / f"{preset}-{mode}"
    output.mkdir(parents=True, exist_ok=True)
    before = rss_bytes()
    start = (time.perf_counter(), time.process_time())
    result = train(
        model,
        batches,
        optim,
        engine,
        output,
        seed=0,
        description=f"{preset} {mode}",
        evaluate=stamp,
    )
    wall = [b[0] - a[0] for a, b in zip([start, *stamps], stamps, strict=False)][2:]
    cpu = [b[1] - a[1] for a, b in zip([start, *stamps], stamps, strict=False)][2:]
    checkpoint = next((output / "checkpoints").iterdir())
    adapter = checkpoint_tensors(result.model)
    model_file = checkpoint / "model.safetensors"
    if adapter is not None:  # what the model part would be with the hook
        save_file(
            {k: v.contiguous() for k, v in adapter.items()}, str(work / "adapter-only.safetensors")
        )
        hooked = (work / "adapter-only.safetensors").stat().st_size
    else:
        hooked = model_file.stat().st_size
    return {
        "preset": preset,
        "mode": mode,
        "trainable": counts["trainable"],
        "total": counts["total"],
        "step_seconds": statistics.median(wall),
        "step_cpu_seconds": statistics.median(cpu),
        "steps_timed": len(wall),
        "peak_rss": peak_rss_bytes(),
        "rss_rise": peak_rss_bytes() - before,
        "checkpoint_bytes": folder_bytes(checkpoint),
        "checkpoint_model_bytes": model_file.stat().st_size,
        "checkpoint_optimizer_bytes": (checkpoint / "optimizer.safetensors").stat().st_size,
        "checkpoint_bytes_with_hook": folder_bytes(checkpoint) - model_file.stat().st_size + hooked,
        "losses": result.losses,
    }


def cost(args: argparse.Namespace) -> None:
    work = Path(args.work or tempfile.mkdtemp(prefix="bench_lora_"))
    tokenizer_dir = bench_tokenizer(work / "tokenizer", args.tokenizer_pairs)
    rows: list[dict[str, Any]] = []
    for preset in args.presets:
        steps = args.base_steps if preset == "barto-base" else args.steps
        for repeat in range(
            args.repeats
        ):  # full, lora, full, lora, …: drifts in the machine's load hit both
            for mode in MODES:
                command = [
                    sys.executable,
                    __file__,
                    "one",
                    preset,
                    mode,
                    "--steps",
                    str(steps),
                    "--batch",
                    str(args.batch),
                    "--tokenizer",
                    str(tokenizer_dir),
                    "--work",
                    str(work / "runs"),
                    "--threads",
                    str(args.threads),
                ]
                done = subprocess.run(command, capture_output=True, text=True, check=False)
                if done.returncode:
                    raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
                rows.append({**json.loads(done.stdout.strip().splitlines()[-1]), "repeat": repeat})
                shutil.rmtree(work / "runs" / f"{preset}-{mode}")
                print(json.dumps({k: v for k, v in rows[-1].items() if k != "losses"}), flush=True)
    print_cost(rows, args.batch, args.threads)
    (work / "cost.json").write_text(json.dumps(rows, indent=1), encoding="utf-8")
    print(f"\nraw numbers: {work / 'cost.json'}")


def merge_repeats(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One row per preset and mode: step times are the median over repeats, the rest the first run's
    (parameters and checkpoint sizes do not vary; peak RSS varies by a few MiB)."""
    return {
        **runs[0],
        **{
            key: statistics.median(r[key] for r in runs)
            for key in ("step_seconds", "step_cpu_seconds")
        },
    }


def per_repeat(rows: list[dict[str, Any]], preset: str) -> str:
    """LoRA / full step CPU time of each repeat: how much the ratio moves on this machine."""
    cpu = {(r["mode"], r["repeat"]): r["step_cpu_seconds"] for r in rows if r["preset"] == preset}
    repeats = sorted({repeat for _, repeat in cpu})
    return ", ".join(f"{cpu[('lora', k)] / cpu[('full', k)]:.2f}" for k in repeats)


def mib(n: float) -> str:
    return f"{n / 2**20:,.1f}"


def print_cost(rows: list[dict[str, Any]], batch: int, threads: int) -> None:
    print(
        f"\nLoRA vs full fine-tuning, same model/data/batch ({batch} pairs), fp32 CPU, "
        f"{threads} threads"
    )
    print(
        "| model | params | trainable full / LoRA (ratio) | peak RSS MiB full / LoRA (ratio) | RSS "
        "rise in training MiB full / LoRA (ratio) | step wall s full / LoRA (ratio) | step CPU s "
        "full / LoRA (ratio) | step CPU ratio per repeat | checkpoint MiB full / LoRA now (ratio) "
        "| LoRA checkpoint with the hook MiB (ratio to full) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    ratios = []
    for preset in dict.fromkeys(r["preset"] for r in rows):
        full, lora = (
            merge_repeats([r for r in rows if (r["preset"], r["mode"]) == (preset, mode)])
            for mode in MODES
        )

        def pair(
            key: str, fmt: Any = mib, full: dict[str, Any] = full, lora: dict[str, Any] = lora
        ) -> str:
            return f"{fmt(full[key])} / {fmt(lora[key])} ({lora[key] / full[key]:.3g})"

        print(
            f"| {preset} | {full['total'] / 1e6:.1f}M | {pair('trainable', lambda n: f'{n:,}')} | "
            f"{pair('peak_rss')} | {pair('rss_rise')} | "
            f"{pair('step_seconds', lambda s: f'{s:.3f}')} | "
            f"{pair('step_cpu_seconds', lambda s: f'{s:.3f}')} | {per_repeat(rows, preset)} | "
            f"{pair('checkpoint_bytes')} | {mib(lora['checkpoint_bytes_with_hook'])} "
            f"({lora['checkpoint_bytes_with_hook'] / full['checkpoint_bytes']:.3g}) |"
        )
        ratios.append(
            f"ratio LoRA / full ({preset}): trainable parameters "
            f"{lora['trainable'] / full['trainable']:.4f}x, step CPU "
            f"{lora['step_cpu_seconds'] / full['step_cpu_seconds']:.2f}x, peak RSS "
            f"{lora['peak_rss'] / full['peak_rss']:.2f}x"
        )
    print("\n".join(ratios))


# ------------------------------------------------------------------------------------------ quality


def cli(*args: str) -> None:
    command = [sys.executable, "-m", "seq2seq_es.cli", *args]
    print("$ seq2seq-es " + " ".join(args), flush=True)
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")


def quality(args: argparse.Namespace) -> None:
    work = Path(args.work or tempfile.mkdtemp(prefix="bench_lora_quality_"))
    common = [
        "task=tatoeba-en-es",
        f"data_dir={DATA}",
        f"model={args.model}",
        f"optim.steps={args.steps}",
        f"optim.batch_size={args.batch}",
        f"optim.warmup_steps={max(1, args.steps // 10)}",
        f"max_eval_examples={args.eval_examples}",
        "bootstrap_samples=1000",
        "engine.measure_mfu=false",
        "engine.tensorboard=false",
        "engine.threads=2",
    ]
    runs = {
        "full": [f"optim.lr={args.lr}"],
        "lora": [f"optim.lr={args.lr}", "adapter.kind=lora"],
        "lora-high-lr": [f"optim.lr={args.lora_lr}", "adapter.kind=lora"],
    }
    for name, extra in runs.items():
        if not (work / name / "scores.json").is_file():
            cli("finetune", *common, *extra, f"output_dir={work / name}")
    cli(
        "compare",
        *(str(work / name / "predictions.jsonl") for name in runs),
        "metrics=[bleu,chrf]",
        f"output_dir={work / 'compare'}",
    )
    for name in runs:
        scores = json.loads((work / name / "scores.json").read_text(encoding="utf-8"))
        print(
            name,
            {k: scores[k]["score"] for k in ("bleu", "chrf")},
            {k: scores[k]["ci"] for k in ("bleu", "chrf")},
            "final train loss",
            round(scores["training"]["final_train_loss"], 3),
        )
    print((work / "compare" / "report.md").read_text(encoding="utf-8"))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="part", required=True)
    one = sub.add_parser("one", help="(internal) one preset and mode, in its own process")
    one.add_argument("preset")
    one.add_argument("mode", choices=MODES)
    for p in (one, sub.add_parser("cost"), sub.add_parser("quality")):
        p.add_argument("--steps", type=int, default=12)
        p.add_argument("--batch", type=int, default=16)
        p.add_argument("--work", default=None, help="working folder (default: a new temporary one)")
    for p in (one, sub.choices["cost"]):
        p.add_argument("--threads", type=int, default=2, help="torch threads of each run")
    one.add_argument("--tokenizer", required=True)
    cost_parser = sub.choices["cost"]
    cost_parser.add_argument(
        "--base-steps", type=int, default=6, help="steps for barto-base (slow on CPU)"
    )
    cost_parser.add_argument("--presets", nargs="+", default=list(PRESETS))
    cost_parser.add_argument(
        "--repeats", type=int, default=1, help="runs of each preset and mode, interleaved"
    )
    cost_parser.add_argument(
        "--tokenizer-pairs", type=int, default=20_000, help="tatoeba pairs the tokenizer learns"
    )
    cost_parser.add_argument(
        "--smoke", action="store_true", help="barto-tiny, 3 steps of 4, 1 thread: seconds"
    )
    quality_parser = sub.choices["quality"]
    quality_parser.add_argument(
        "--model", required=True, help="the pretrained model folder both runs start from"
    )
    quality_parser.add_argument(
        "--lr", type=float, default=5e-4, help="full fine-tuning's (finetune's default)"
    )
    quality_parser.add_argument("--lora-lr", type=float, default=2e-3, help="the second LoRA run's")
    quality_parser.add_argument("--eval-examples", type=int, default=1000)
    args = parser.parse_args()
    if args.part == "cost" and args.smoke:
        args.presets, args.steps, args.batch, args.threads = ["barto-tiny"], 3, 4, 1
        args.tokenizer_pairs = 500
    if args.part == "one":
        print(
            json.dumps(
                one_run(
                    args.preset,
                    args.mode,
                    args.steps,
                    args.batch,
                    Path(args.tokenizer),
                    Path(args.work),
                    args.threads,
                )
            )
        )
    elif args.part == "cost":
        cost(args)
    else:
        quality(args)


if __name__ == "__main__":
    main()
