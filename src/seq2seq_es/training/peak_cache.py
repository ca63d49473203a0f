"""The user's cache of measured CPU peaks: one JSON file, one probe per machine key.

Why a cache: ``seq2seq-es bench-peak`` measures the peak (on a quiet machine) and writes
it here; training runs only read it (``flops.resolve_peak``), so every run on the machine
divides by the same figure and none spends its start on a probe. Why it keeps the whole
probe and not a number: a cached figure must say when and in what conditions it was
measured, so a user (and each run's record, which names it) can tell a quiet measurement
from a poisoned one.
Entries of another format (the bare floats of earlier versions) are ignored and dropped
at the next write: they carry no conditions to judge them by.
"""

from __future__ import annotations

import json
from pathlib import Path

from seq2seq_es.files import write_json
from seq2seq_es.training.peak_probe import GemmProbe

CACHE_FILE = "cpu_gemm_peak.json"


def default_cache_dir() -> Path:
    """The user cache folder the peak has always lived in."""
    return Path.home() / ".cache" / "seq2seq-es"


class PeakCache:
    """Read and write the probes in ``<cache_dir>/cpu_gemm_peak.json`` (atomic writes)."""

    def __init__(self, cache_dir: Path | None = None) -> None:
        self.path = (cache_dir or default_cache_dir()) / CACHE_FILE

    def entries(self) -> dict[str, GemmProbe]:
        """Every readable probe by machine key; an unreadable file is an empty cache."""
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        found: dict[str, GemmProbe] = {}
        for key, value in raw.items() if isinstance(raw, dict) else ():
            try:
                found[key] = GemmProbe.from_json(value)
            except (KeyError, TypeError, ValueError, AttributeError):
                continue
        return found

    def get(self, key: str) -> GemmProbe | None:
        return self.entries().get(key)

    def put(self, key: str, probe: GemmProbe) -> bool:
        """Store ``probe`` under ``key``; False when the folder is not writable (no cache then)."""
        return self._write({**self.entries(), key: probe})

    def drop(self, key: str) -> bool:
        entries = self.entries()
        entries.pop(key, None)
        return self._write(entries)

    def _write(self, entries: dict[str, GemmProbe]) -> bool:
        try:
            write_json(self.path, {key: probe.to_json() for key, probe in entries.items()})
        except OSError:
            return False
        return True
