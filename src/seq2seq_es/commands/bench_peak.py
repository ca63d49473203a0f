"""``seq2seq-es bench-peak``: measure the CPU's GEMM peak, cache it, and show the cached one.

Why a command: the CPU peak every MFU divides by is measured here and only here; training
runs read the figure this command cached for the machine (``training/flops.py``), and report
MFU as unknown until there is one (a probe at every training start measured whatever else ran,
issues 29 and 34). So a user needs one way to measure it on a quiet machine, to see which
figure is cached, when and in what conditions it was measured, and to replace it. A probe that
looks disturbed (repeats that disagree, load above the core count, other processes busy) is
shown but never cached. The probe and the cache: ``training/peak_probe.py``, ``peak_cache.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import Field
from rich.console import Console
from rich.table import Table
from rich.text import Text

from seq2seq_es.commands.base import Command, no_output_dir
from seq2seq_es.config import StrictModel

if TYPE_CHECKING:
    from seq2seq_es.training.peak_probe import GemmProbe


class BenchPeakConfig(StrictModel):
    repeats: int = Field(
        20, ge=3, description="Timed repeats (4 products each), after a warm-up; the best is kept."
    )
    size: int = Field(
        1024, ge=64, description="Side of the square fp32 matrices (training runs use 1024)."
    )
    threads: int | None = Field(
        None, ge=1, description="torch CPU threads (None: torch default, as training)."
    )
    write_cache: bool = Field(
        True, description="Store the fresh probe in the cache when it looks undisturbed."
    )
    cache_dir: str | None = Field(None, description="Cache folder (None: ~/.cache/seq2seq-es).")


@dataclass(frozen=True)
class BenchPeakResult:
    key: str
    cache: str
    cached: GemmProbe | None
    fresh: GemmProbe
    disturbed: str | None
    written: bool


def run(config: BenchPeakConfig) -> BenchPeakResult:
    from pathlib import Path

    import torch

    from seq2seq_es.training.peak_cache import PeakCache
    from seq2seq_es.training.peak_probe import disturbance, machine_key, probe_cpu_peak

    if config.threads:
        torch.set_num_threads(config.threads)
    cache = PeakCache(Path(config.cache_dir) if config.cache_dir else None)
    key = machine_key(config.size)
    cached = cache.get(key)
    fresh = probe_cpu_peak(config.size, config.repeats)
    disturbed = disturbance(fresh)
    written = config.write_cache and not disturbed and cache.put(key, fresh)
    return BenchPeakResult(key, str(cache.path), cached, fresh, disturbed, written)


def show(result: BenchPeakResult, console: Console) -> None:
    table = Table(title="fp32 GEMM peak (best repeat, GFLOP/s)")
    for column in ("probe", "best", "median", "spread", "load/cores", "others", "measured (UTC)"):
        table.add_column(
            column,
            justify="left" if column in ("probe", "measured (UTC)") else "right",
            no_wrap=True,
        )
    for name, probe in (("cached", result.cached), ("fresh", result.fresh)):
        if probe is None:
            table.add_row(name, "—", "", "", "", "", "none cached")
            continue
        others = "?" if probe.others_cpu is None else f"{probe.others_cpu:.2f}"
        table.add_row(
            name,
            f"{probe.best / 1e9:.1f}",
            f"{probe.median / 1e9:.1f}",
            f"{probe.spread:.1%}",
            f"{probe.load:.2f}/{probe.cores}",
            others,
            probe.measured_at[:16].replace("T", " "),
        )
    console.print(table)
    console.print(
        f"others: cores used by other processes during the probe\nmachine: {result.key}",
        highlight=False,
    )
    if result.disturbed:
        console.print(
            Text.assemble(
                (f"fresh probe looks disturbed ({result.disturbed}): not cached.", "yellow"),
                " Run again when the machine is quiet.",
            )
        )
    elif result.written:
        console.print(f"fresh probe cached in {result.cache}")
    else:
        console.print(f"cache unchanged: {result.cache}")


COMMANDS = [
    Command(
        "bench-peak",
        "Re-measure this CPU's fp32 GEMM peak (the MFU denominator) and show the "
        "cached one, its date and conditions.",
        BenchPeakConfig,
        run,
        show,
        output_dir=no_output_dir,
    )
]
