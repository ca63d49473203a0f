"""The CPU GEMM peak probe on a quiet machine and beside a busy process (issue 29).

Runs the probe that training uses (``probe_cpu_peak``: warm-up, 20 repeats of four
1024² fp32 products, best kept) ``--rounds`` times on the machine as it is ("as is": run it
when nothing else runs to see the quiet figure), then the same number of times while a
second process of this benchmark multiplies matrices on ``--busy-threads`` threads
(another job on the machine). Prints each probe's figure and
readings, whether it would be cached (``disturbance``), and the ratio of the busy best to
the quiet best. Last, what a training start reads (issue 34: it never probes): the peak from
an empty cache and from one holding the best as-is probe, with how long reading it took (in a
temporary folder: the user's cache is not touched).

    .venv/bin/python benchmarks/bench_peak_probe.py --rounds 3 --busy-threads 1

A probe of the machine, not a benchmark of our code: no ``--smoke`` (its figures are the
machine's state; the probe itself is tested in tests/training).
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
from pathlib import Path

import torch

from seq2seq_es.training.config import EngineConfig
from seq2seq_es.training.flops import resolve_peak
from seq2seq_es.training.peak_cache import PeakCache
from seq2seq_es.training.peak_probe import GemmProbe, disturbance, machine_key, probe_cpu_peak


def busy(threads: int) -> None:
    """Another job: fp32 products on ``threads`` threads until terminated."""
    torch.set_num_threads(threads)
    a = torch.randn(1024, 1024)
    while True:
        a = torch.mm(a, a).clamp_(-1, 1)


def row(condition: str, probe: GemmProbe) -> str:
    verdict = disturbance(probe)
    others = "?" if probe.others_cpu is None else f"{probe.others_cpu:.2f}"
    return (
        f"{condition:<15} {probe.best / 1e9:>8.1f} {probe.median / 1e9:>8.1f} {probe.spread:>7.1%} "
        f"{probe.load:>5.2f} {others:>6}  {'refused: ' + verdict if verdict else 'cached'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--busy-threads", type=int, default=1)
    args = parser.parse_args()
    print(f"{machine_key()}")
    print(
        f"{'condition':<15} {'best':>8} {'median':>8} {'spread':>7} {'load':>5} {'others':>6}  "
        "verdict (GFLOP/s; others = cores used by other processes during the probe)"
    )
    quiet = [probe_cpu_peak() for _ in range(args.rounds)]
    for probe in quiet:
        print(row("as is", probe))
    loaded = []
    for _ in range(args.rounds):
        competitor = multiprocessing.get_context("spawn").Process(
            target=busy, args=(args.busy_threads,)
        )
        competitor.start()
        time.sleep(2.0)  # let it start and reach its steady state
        loaded.append(probe_cpu_peak())
        competitor.terminate()
        competitor.join()
        print(row(f"+{args.busy_threads}-thread job", loaded[-1]))
    best_quiet, best_busy = max(p.best for p in quiet), max(p.best for p in loaded)
    print(
        f"best with competitor / best as is: {best_busy / best_quiet:.2f}x  "
        f"({best_busy / 1e9:.1f} vs {best_quiet / 1e9:.1f} GFLOP/s)"
    )

    with tempfile.TemporaryDirectory() as folder:
        cache = Path(folder)
        for label in ("empty cache", "cache holding the best as-is probe"):
            if label != "empty cache":
                PeakCache(cache).put(machine_key(), max(quiet, key=lambda p: p.best))
            start = time.perf_counter()
            peak = resolve_peak(EngineConfig(), cache_dir=cache)
            print(
                f"training start, {label} ({time.perf_counter() - start:.3f} s): {peak.describe()}"
            )


if __name__ == "__main__":
    main()
