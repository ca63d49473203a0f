"""The CPU's fp32 GEMM peak, measured, with the conditions it was measured in.

Why a probe and not a number: a CPU's reachable matmul speed depends on its vector
units, cores, memory and the BLAS torch ships, so the only honest MFU denominator is
one measured on the machine. Why the conditions: a probe run while another job holds
the cores measures the other job (issue 29: 34 GFLOP/s cached on a machine that
reaches ~190 made every later MFU 5x too high). So the probe keeps the best of several
timed repeats after a warm-up, and records the spread of the repeats, the 1-minute
load average and the CPU time other processes used while it ran; ``disturbance``
turns those readings into a reason not to trust (and not to cache) the figure.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

PROBE_SIZE = (
    1024  # square fp32 matrices: 2.1 GFLOP a product, big enough for the BLAS's best blocking
)
PROBE_REPEATS = 20  # timed repeats of a full probe (about 1 s at 190 GFLOP/s)
MATMULS_PER_REPEAT = 4  # products per timed repeat, so one timing covers ~45 ms, not one call
MAX_SPREAD = 0.10  # 1 - median/best above this: the repeats disagree, something else ran
MAX_OTHERS_CPU = 0.25  # cores' worth of CPU that other processes may use during the probe


@dataclass(frozen=True)
class GemmProbe:
    """One GEMM peak measurement and the conditions it ran in (FLOP/s, cores, ISO date)."""

    best: float  # FLOP/s of the fastest repeat: the figure kept
    median: float  # FLOP/s of the median repeat
    size: int
    repeats: int
    threads: int  # torch threads the probe ran on
    cores: int  # CPUs this process may run on
    load: float  # 1-minute load average when the probe started
    others_cpu: float | None  # cores used by other processes during the probe (None: unknown)
    measured_at: str  # UTC, ISO 8601

    @property
    def spread(self) -> float:
        """How much slower the median repeat was than the best (0 = all repeats equal)."""
        return 1.0 - self.median / self.best if self.best > 0 else 1.0

    def conditions(self) -> str:
        """One line a user can read: when, spread, load, other processes."""
        others = "" if self.others_cpu is None else f", others {self.others_cpu:.2f} cores"
        return (
            f"measured {self.measured_at}, {self.repeats} × fp32 GEMM {self.size}², "
            f"{self.threads} threads, spread {self.spread:.1%}, "
            f"load {self.load:.2f} on {self.cores} cores{others}"
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GemmProbe:
        """Rebuild a probe from ``to_json``; raises KeyError/TypeError/ValueError if malformed."""
        others = data["others_cpu"]
        return cls(
            best=float(data["best"]),
            median=float(data["median"]),
            size=int(data["size"]),
            repeats=int(data["repeats"]),
            threads=int(data["threads"]),
            cores=int(data["cores"]),
            load=float(data["load"]),
            others_cpu=None if others is None else float(others),
            measured_at=str(data["measured_at"]),
        )


def usable_cores() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo, else what ``platform`` knows."""
    try:
        for line in (
            Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines()
        ):
            name, _, value = line.partition(":")
            if name.strip() in ("model name", "Hardware", "Processor") and value.strip():
                return " ".join(value.split())
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def machine_key(size: int = PROBE_SIZE) -> str:
    """Cache key of a probe: the same CPU, cores, threads, instruction set, torch and size."""
    isa = torch.backends.cpu.get_cpu_capability()
    return (
        f"{cpu_model()} | {isa} | cores={usable_cores()} | threads={torch.get_num_threads()} "
        f"| torch={torch.__version__} | fp32 GEMM {size}"
    )


def _busy_cpu_seconds() -> float | None:
    """CPU seconds the whole machine has spent busy since boot (/proc/stat), None elsewhere."""
    try:
        with open("/proc/stat", encoding="ascii") as handle:
            fields = handle.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (
        [int(v) for v in fields[1:9]] + [0] * 8
    )[:8]
    # steal: time the hypervisor gave our virtual CPUs to someone else, a disturbance too
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def probe_cpu_peak(
    size: int = PROBE_SIZE,
    repeats: int = PROBE_REPEATS,
    warmup: int = 2,
    *,
    load: float | None = None,
    others_cpu: float | None = None,
) -> GemmProbe:
    """Time ``repeats`` × ``MATMULS_PER_REPEAT`` fp32 products of ``size``² matrices.

    ``warmup`` products first (thread pool start-up, page faults, the BLAS's packing
    buffers). ``load`` and ``others_cpu`` are read from the machine unless given: pass
    them to replay a reading (tests, or a caller that measured them itself).
    """
    load = os.getloadavg()[0] if load is None else load
    # Its own generator: a probe inside a training run must not move the run's random
    # streams (dropout masks would then depend on whether the peak was cached).
    generator = torch.Generator().manual_seed(0)
    a, b = (
        torch.randn(size, size, generator=generator),
        torch.randn(size, size, generator=generator),
    )
    out = torch.empty(size, size)
    for _ in range(warmup):
        torch.mm(a, b, out=out)
    busy_before, own_before, wall_before = (
        _busy_cpu_seconds(),
        _own_cpu_seconds(),
        time.perf_counter(),
    )
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(MATMULS_PER_REPEAT):
            torch.mm(a, b, out=out)
        rates.append(MATMULS_PER_REPEAT * 2 * size**3 / max(time.perf_counter() - start, 1e-9))
    wall = time.perf_counter() - wall_before
    busy_after, own_after = _busy_cpu_seconds(), _own_cpu_seconds()
    if others_cpu is None and busy_before is not None and busy_after is not None:
        others_cpu = max(0.0, (busy_after - busy_before) - (own_after - own_before)) / max(
            wall, 1e-9
        )
    return GemmProbe(
        best=max(rates),
        median=statistics.median(rates),
        size=size,
        repeats=repeats,
        threads=torch.get_num_threads(),
        cores=usable_cores(),
        load=load,
        others_cpu=others_cpu,
        measured_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


def disturbance(
    probe: GemmProbe, max_spread: float = MAX_SPREAD, max_others_cpu: float = MAX_OTHERS_CPU
) -> str | None:
    """Why ``probe`` looks disturbed by other work (None: it looks clean).

    Three readings, any one is enough: repeats that disagree (``spread``), a load
    average above the core count, and other processes' CPU time during the probe
    (the load average lags by a minute and counts our own earlier work, so a job that
    started just before the probe shows only in the third).
    """
    reasons = []
    if probe.spread > max_spread:
        reasons.append(f"spread {probe.spread:.1%} > {max_spread:.0%}")
    if probe.load > probe.cores:
        reasons.append(f"load {probe.load:.2f} > {probe.cores} cores")
    if probe.others_cpu is not None and probe.others_cpu > max_others_cpu:
        reasons.append(
            f"other processes used {probe.others_cpu:.2f} cores during the probe "
            f"(> {max_others_cpu})"
        )
    return "; ".join(reasons) or None
