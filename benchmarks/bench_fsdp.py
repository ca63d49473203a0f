"""FSDP vs DDP on 2 gloo processes: step time and memory per process, with the ratio.

Both sides are the real ``seq2seq-es pretrain`` under ``torchrun --standalone
--nproc_per_node 2`` on the same data and settings, differing only in
``engine.distributed`` (``ddp``: the baseline, measured in the same invocation; ``fsdp``:
torch FSDP2, ``training/sharding.py``). Rounds alternate the two, so a busy machine slows
both alike. Each process of a run reports (through a wrapper of the loop's
``train_step``, installed by this script's worker, nothing in the package):

* step wall seconds: the median over the steps after the first two (start-up);
* training state bytes: its parameters, their gradients and the optimizer's tensors as this
  process holds them (local shards under FSDP), counted from the tensors themselves;
* peak RSS during training: the most resident memory a 20 ms sampler saw between the first
  step's start and the last step's end (Python, torch and activations included).

    .venv/bin/python benchmarks/bench_fsdp.py                 # barto-small, 20 steps, 3 rounds
    .venv/bin/python benchmarks/bench_fsdp.py --smoke         # barto-tiny, 3 steps, 1 round

``--smoke`` (also a 1,000-token tokenizer on 200 texts, 16 × 64-token batches of data) checks
that the benchmark runs to its ratio lines; its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

DEFAULT_DATA = (
    Path(__file__).resolve().parents[1].parent / "shared" / "data" / "pretrain" / "sample.jsonl.gz"
)
STRATEGIES = ("ddp", "fsdp")
SKIPPED_STEPS = 2  # start-up steps left out of the median


def rss_bytes() -> int:
    with open("/proc/self/statm", encoding="utf-8") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def state_bytes(model: Any, optimizer: Any) -> int:
    """Parameters + gradients (one per trainable parameter) + optimizer tensors, local shards."""

    def local(tensor: Any) -> Any:
        return tensor.to_local() if hasattr(tensor, "to_local") else tensor

    params = [(local(p), p.requires_grad) for p in model.parameters()]
    total = sum(p.numel() * p.element_size() * (2 if trainable else 1) for p, trainable in params)
    inner = getattr(optimizer, "optimizer", optimizer)
    for values in inner.state.values():
        for value in values.values():
            if hasattr(value, "numel"):
                tensor = local(value)
                total += tensor.numel() * tensor.element_size()
    return total


def worker(report: Path, cli_args: list[str]) -> None:
    """Run the CLI in this process with ``train_step`` timed and memory sampled."""
    from seq2seq_es.training import loop

    times: list[float] = []
    peak = {"rss": 0, "state": 0, "training": False}
    inner_step = loop.train_step

    def sample() -> None:
        while True:
            if peak["training"]:
                peak["rss"] = max(int(peak["rss"]), rss_bytes())
            time.sleep(0.02)

    def timed_step(*args: Any, **kwargs: Any) -> Any:
        peak["training"] = True
        start = time.perf_counter()
        out = inner_step(*args, **kwargs)
        times.append(time.perf_counter() - start)
        peak["rss"] = max(int(peak["rss"]), rss_bytes())
        if len(times) == 1:
            peak["state"] = state_bytes(args[1], args[2])
        return out

    loop.train_step = timed_step  # type: ignore[assignment]
    threading.Thread(target=sample, daemon=True).start()
    from seq2seq_es.cli import main as cli_main

    sys.argv = ["seq2seq-es", *cli_args]
    try:
        cli_main()
    except SystemExit as exit_:
        if exit_.code:
            raise
    peak["training"] = False
    rank = int(os.environ.get("RANK", "0"))
    (report / f"rank-{rank}.json").write_text(
        json.dumps({"step_seconds": times, "peak_rss": peak["rss"], "state_bytes": peak["state"]})
    )


def run(strategy: str, settings: list[str], root: Path, index: int) -> list[dict[str, Any]]:
    """One 2-process pretraining run; each process's report."""
    report = root / f"report-{strategy}-{index}"
    report.mkdir()
    output = root / f"run-{strategy}-{index}"
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        __file__,
        "--worker",
        str(report),
        "--",
        "pretrain",
        f"output_dir={output}",
        f"engine.distributed={strategy}",
        *settings,
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode:
        raise SystemExit(f"{strategy} run failed:\n{done.stderr[-3000:]}")
    return [json.loads(p.read_text()) for p in sorted(report.glob("rank-*.json"))]


def summary(reports: list[list[dict[str, Any]]]) -> dict[str, float]:
    """Median step seconds over rounds and processes; the largest per-process memory figures."""
    steps = [
        seconds
        for processes in reports
        for process in processes
        for seconds in process["step_seconds"][SKIPPED_STEPS:]
    ]
    return {
        "step_seconds": statistics.median(steps),
        "state_mb": max(p["state_bytes"] for r in reports for p in r) / 1e6,
        "peak_rss_mb": max(p["peak_rss"] for r in reports for p in r) / 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="barto-small")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--vocab-size", type=int, default=8000)
    parser.add_argument("--texts", type=int, default=3000, help="Corpus texts for the tokenizer.")
    parser.add_argument("--max-tokens", type=int, default=400_000, help="Pretraining tokens read.")
    parser.add_argument("--smoke", action="store_true", help="barto-tiny, 3 steps, 1 round")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args()
    if args.worker:
        worker(args.worker, rest[1:] if rest[:1] == ["--"] else rest)
        return
    if args.smoke:
        args.preset, args.steps, args.rounds = "barto-tiny", SKIPPED_STEPS + 1, 1
        args.seq_len, args.vocab_size, args.texts = 64, 1000, 200
        args.max_tokens = 16 * args.batch_size * args.seq_len
    from seq2seq_es.corpus.text_files import iter_texts
    from seq2seq_es.tokenizer.bpe import train_byte_level_bpe
    from seq2seq_es.tokenizer.save import save_tokenizer

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        texts = itertools.islice(iter_texts(args.data), args.texts)
        save_tokenizer(train_byte_level_bpe(texts, vocab_size=args.vocab_size), root / "tokenizer")
        settings = [
            f"model={args.preset}",
            f"data={args.data}",
            f"tokenizer={root / 'tokenizer'}",
            f"seq_len={args.seq_len}",
            f"max_tokens={args.max_tokens}",
            "validation_blocks=8",
            f"optim.steps={args.steps}",
            f"optim.batch_size={args.batch_size}",
            "engine.log_every=5",
            "engine.tensorboard=false",
            "engine.measure_mfu=false",
        ]
        reports: dict[str, list[list[dict[str, Any]]]] = {name: [] for name in STRATEGIES}
        for index in range(args.rounds):
            for strategy in STRATEGIES:
                reports[strategy].append(run(strategy, settings, root, index))
    results = {name: summary(found) for name, found in reports.items()}
    print(
        f"{args.preset}, 2 gloo processes, {args.steps} steps × {args.rounds} rounds, batch "
        f"{args.batch_size} × {args.seq_len} tokens"
    )
    print(f"  {'':6s} {'step s (median)':>16s} {'state MB/process':>17s} {'peak RSS MB':>12s}")
    for name, numbers in results.items():
        print(
            f"  {name:6s} {numbers['step_seconds']:16.3f} {numbers['state_mb']:17.1f} "
            f"{numbers['peak_rss_mb']:12.1f}"
        )
    ddp, fsdp = results["ddp"], results["fsdp"]
    ratios = {key: fsdp[key] / ddp[key] for key in ddp}
    print(
        f"ratio fsdp / ddp: step time {ratios['step_seconds']:.2f}x, training state "
        f"{ratios['state_mb']:.2f}x, peak RSS {ratios['peak_rss_mb']:.2f}x"
    )


if __name__ == "__main__":
    main()
