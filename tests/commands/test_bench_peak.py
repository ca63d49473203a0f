"""``seq2seq-es bench-peak``: a fresh probe shown beside the cached one (small matrices)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from seq2seq_es.commands.bench_peak import COMMANDS, BenchPeakConfig, run, show
from seq2seq_es.training.peak_cache import PeakCache
from seq2seq_es.training.peak_probe import GemmProbe, disturbance, machine_key

CACHED = GemmProbe(
    best=1e15,
    median=1e15,
    size=128,
    repeats=20,
    threads=2,
    cores=2,
    load=0.2,
    others_cpu=0.0,
    measured_at="2026-01-01T00:00:00Z",
)


def test_bench_peak_shows_the_cached_probe_and_a_fresh_one(tmp_path: Path) -> None:
    PeakCache(tmp_path).put(machine_key(128), CACHED)
    result = run(BenchPeakConfig(size=128, repeats=3, write_cache=False, cache_dir=str(tmp_path)))
    assert result.cached == CACHED and result.fresh.best > 0 and not result.written
    assert result.disturbed == disturbance(result.fresh)
    assert PeakCache(tmp_path).get(machine_key(128)) == CACHED  # write_cache=false leaves it
    console = Console(record=True, width=120)
    show(result, console)
    text = console.export_text()
    assert "1000000.0" in text and "2026-01-01 00:00" in text and machine_key(128) in text


def test_bench_peak_caches_only_an_undisturbed_probe(tmp_path: Path) -> None:
    result = run(BenchPeakConfig(size=128, repeats=3, cache_dir=str(tmp_path)))
    cached = PeakCache(tmp_path).get(machine_key(128))
    assert result.written == (result.disturbed is None) == (cached == result.fresh)


def test_bench_peak_is_a_command_without_a_run_folder() -> None:
    (command,) = COMMANDS
    assert command.name == "bench-peak" and command.schema is BenchPeakConfig
    assert command.output_dir(BenchPeakConfig()) is None
