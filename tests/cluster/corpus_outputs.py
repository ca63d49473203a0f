"""Run ``seq2seq-es corpus`` as a user does, and compare two runs' outputs whatever task wrote
what."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any


def corpus(
    shared_data: Path, output_dir: Path, tasks: int, *overrides: str
) -> subprocess.CompletedProcess[str]:
    """Real Spanish documents through every default step, with 2 MinHash buckets (the default 14
    would be 12 more task starts on a cluster)."""
    command = [
        sys.executable,
        "-m",
        "seq2seq_es.cli",
        "corpus",
        f"input={shared_data / 'pretrain' / 'sample.jsonl.gz'}",
        "limit=40",
        f"tasks={tasks}",
        "dedup.num_buckets=2",
        f"output_dir={output_dir}",
        *overrides,
    ]
    # Ray's usage statistics would be sent over the network: tests run offline
    env = os.environ | {"RAY_USAGE_STATS_ENABLED": "0"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}\n{done.stderr}"
    return done


def documents(folder: Path) -> list[str]:
    """Every record under ``folder`` (shards or rejects), sorted: which task wrote it is not
    compared."""
    records = []
    for path in folder.rglob("*.jsonl.gz"):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            records += [json.dumps(json.loads(line), sort_keys=True) for line in handle]
    return sorted(records)


def counts(stats: Any) -> Any:
    """``stats.json`` without its timings."""
    if isinstance(stats, dict):
        return {k: counts(v) for k, v in stats.items() if k != "seconds"}
    return stats


def assert_same_corpus(run: Path, reference: Path) -> None:
    """Same ``stats.json`` counts, shards and rejects (as sets of documents)."""
    ours, theirs = (json.loads((f / "stats.json").read_text()) for f in (run, reference))
    assert counts(ours) == counts(theirs)
    assert theirs["output"]["docs"] > 0 and theirs["input"]["docs"] > theirs["output"]["docs"]
    assert documents(run / "shards") == documents(reference / "shards")
    assert documents(run / "rejects") == documents(reference / "rejects")
