"""The peak an MFU divides by: given, read from a data sheet, or the CPU probe `bench-peak`
cached; a training run never probes.

Real GEMM probes on small matrices (size 128, a few milliseconds); the readings that
decide whether a probe was disturbed (load, other processes' CPU) are injected through
``probe_cpu_peak``'s parameters, so the verdicts do not depend on how busy the test
machine is. No assertion on timings: only on which figure is used.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from seq2seq_es.commands import bench_peak
from seq2seq_es.training.config import EngineConfig
from seq2seq_es.training.flops import (
    NO_PEAK_HINT,
    NOT_MEASURED,
    PeakFlops,
    gpu_peak,
    mfu_fields,
    model_shape,
    resolve_peak,
)
from seq2seq_es.training.peak_cache import CACHE_FILE, PeakCache
from seq2seq_es.training.peak_probe import (
    PROBE_SIZE,
    GemmProbe,
    cpu_model,
    disturbance,
    machine_key,
    probe_cpu_peak,
    usable_cores,
)

SIZE = 128


def stored(best: float, **readings: float) -> GemmProbe:
    values = {"load": 0.1, "others_cpu": 0.0, **readings}
    return GemmProbe(
        best=best,
        median=readings.get("median", best),
        size=SIZE,
        repeats=20,
        threads=2,
        cores=2,
        load=values["load"],
        others_cpu=values["others_cpu"],
        measured_at="2026-01-01T00:00:00Z",
    )


def test_disturbance_reads_spread_load_and_other_processes() -> None:
    assert disturbance(stored(200e9, median=196e9, load=0.5, others_cpu=0.05)) is None
    assert "spread 50.0%" in (disturbance(stored(200e9, median=100e9)) or "")
    assert "load 2.50 > 2 cores" in (disturbance(stored(200e9, load=2.5)) or "")
    assert "other processes used 1.00 cores" in (disturbance(stored(200e9, others_cpu=1.0)) or "")


def test_engine_peak_flops_overrides_the_cache(tmp_path: Path) -> None:
    PeakCache(tmp_path).put(machine_key(PROBE_SIZE), stored(1e6))
    peak = resolve_peak(EngineConfig(peak_flops=2.5e11), processes=2, cache_dir=tmp_path)
    assert peak == PeakFlops(5e11, "engine.peak_flops × 2 processes")
    assert PeakCache(tmp_path).get(machine_key(PROBE_SIZE)) == stored(1e6), "left as it was"
    assert resolve_peak(EngineConfig(measure_mfu=False, peak_flops=2.5e11)) == NOT_MEASURED


@pytest.mark.skipif(
    torch.cuda.is_available(), reason="the CPU path; a GPU resolves to its data sheet"
)
def test_a_run_reads_the_peak_bench_peak_cached_and_never_probes(tmp_path: Path) -> None:
    """No figure: MFU unknown, with the one-line hint (and the cache stays empty: nothing was
    probed). With the probe ``bench-peak`` stored for this machine: that figure, named."""
    unknown = resolve_peak(EngineConfig(), processes=2, cache_dir=tmp_path)
    assert unknown.value is None and unknown.describe() == NO_PEAK_HINT
    assert "seq2seq-es bench-peak" in NO_PEAK_HINT and "engine.peak_flops" in NO_PEAK_HINT
    assert mfu_fields(1e9, unknown)["mfu"] is None
    assert PeakCache(tmp_path).entries() == {}, "a run does not measure (or cache) a peak"
    result = bench_peak.run(
        bench_peak.BenchPeakConfig(size=SIZE, repeats=3, write_cache=False, cache_dir=str(tmp_path))
    )
    PeakCache(tmp_path).put(machine_key(PROBE_SIZE), result.fresh)  # as bench-peak writes it
    peak = resolve_peak(EngineConfig(), processes=2, cache_dir=tmp_path)
    assert peak.value == result.fresh.best * 2 and peak.probe == result.fresh
    assert peak.source.startswith(f"bench-peak cache {tmp_path / CACHE_FILE} (measured ")
    assert peak.source.endswith(" × 2 processes") and "GFLOP/s" in peak.describe()


def test_mfu_above_one_is_reported_as_a_measurement_error() -> None:
    peak = PeakFlops(34.1e9, "cache somewhere (measured while busy)")
    flagged = mfu_fields(190e9, peak)
    assert flagged["mfu"] is None and flagged["peak_flops"] == 34.1e9
    assert flagged["peak_source"] == peak.source
    assert "measurement error" in flagged["mfu_error"] and "5.57x the peak" in flagged["mfu_error"]
    fine = mfu_fields(95e9, PeakFlops(190e9, "engine.peak_flops"))
    assert fine == {"mfu": 0.5, "peak_flops": 190e9, "peak_source": "engine.peak_flops"}
    assert mfu_fields(95e9, NOT_MEASURED) == {
        "mfu": None,
        "peak_flops": None,
        "peak_source": "not measured",
    }
    json.dumps(flagged)  # goes into metrics.jsonl as it is


def test_the_cache_key_names_the_cpu_cores_threads_torch_and_size() -> None:
    key = machine_key(SIZE)
    for part in (
        cpu_model(),
        f"cores={usable_cores()}",
        f"threads={torch.get_num_threads()}",
        f"torch={torch.__version__}",
        f"GEMM {SIZE}",
    ):
        assert part in key
    assert machine_key(SIZE) != machine_key(2 * SIZE)


def test_entries_of_the_old_format_are_ignored_and_dropped(tmp_path: Path) -> None:
    (tmp_path / CACHE_FILE).write_text(
        json.dumps({"threads=2|torch=2.13.0": 34.1e9}), encoding="utf-8"
    )
    cache, key = PeakCache(tmp_path), machine_key(SIZE)
    assert cache.entries() == {}
    cache.put(key, stored(1e9))
    assert list(json.loads(cache.path.read_text(encoding="utf-8"))) == [key]


def test_a_probe_records_its_conditions() -> None:
    probe = probe_cpu_peak(SIZE, repeats=3)
    assert probe.best >= probe.median > 0 and probe.repeats == 3 and probe.size == SIZE
    assert (
        probe.threads == torch.get_num_threads()
        and probe.cores == usable_cores()
        and probe.load >= 0
    )
    assert GemmProbe.from_json(json.loads(json.dumps(probe.to_json()))) == probe


@pytest.mark.parametrize(
    ("name", "flops"),
    [
        ("NVIDIA A100-SXM4-80GB", 312e12),
        ("NVIDIA H100 80GB HBM3", 989e12),
        ("NVIDIA H100 PCIe", 756e12),
        ("NVIDIA H100 NVL", 835e12),
        ("NVIDIA A10", 125e12),
        ("NVIDIA L4", 121e12),
        ("NVIDIA GeForce RTX 4090", 165.2e12),
        ("NVIDIA A10G", None),
    ],
)
def test_gpu_peaks_match_the_named_part_only(name: str, flops: float | None) -> None:
    peak = gpu_peak(name, processes=2)
    assert peak.value == (flops * 2 if flops else None)
    assert (
        ("data sheet" in peak.source)
        if flops
        else ("set engine.peak_flops" in (peak.warning or ""))
    )


def test_the_probe_leaves_the_global_random_state_alone() -> None:
    """A probe may run inside a process that trains next (a benchmark): it must not change the
    dropout masks drawn after it."""
    import torch

    from seq2seq_es.training.peak_probe import probe_cpu_peak

    torch.manual_seed(7)
    expected = torch.rand(4)
    torch.manual_seed(7)
    probe_cpu_peak(size=64, repeats=1, warmup=0, load=0.0, others_cpu=0.0)
    assert torch.equal(torch.rand(4), expected)


def test_an_encoder_only_model_has_no_decoder_side_and_reads_its_tokens_once() -> None:
    """A BERT (masked LM): 0 decoder layers, the MLM head over the input positions, labels not
    counted as tokens."""
    from seq2seq_es.models.presets import build_model
    from seq2seq_es.training.loop import _batch_cost

    shape = model_shape(build_model("bert-tiny", seed=0))
    assert (shape.encoder_layers, shape.decoder_layers, shape.decoder_weights, shape.d_model) == (
        2,
        0,
        0,
        128,
    )
    batch = {
        "input_ids": torch.zeros(4, 64, dtype=torch.long),
        "labels": torch.zeros(4, 64, dtype=torch.long),
    }
    tokens, flops = _batch_cost(shape, batch)
    assert tokens == 4 * 64
    assert flops == 4 * (
        6 * (shape.encoder_weights + shape.head_weights) * 64 + 12 * 128 * 2 * 64**2
    )
    bart = model_shape(build_model("barto-tiny", seed=0))
    assert bart.decoder_layers == 2 and _batch_cost(bart, batch)[0] == 4 * (64 + 64)
