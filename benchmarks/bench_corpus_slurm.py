"""Benchmark the corpus pipeline on a real Slurm: cluster start time, MB/s with 1 and 2 tasks.

    .venv/bin/python benchmarks/bench_corpus_slurm.py           # sample.jsonl.gz (6 MB), as root
    .venv/bin/python benchmarks/bench_corpus_slurm.py --smoke   # 20 documents, 2 MinHash buckets

Starts a private one-node cluster with ``scripts/local-slurm.sh`` (installing Slurm when
missing), times ``start`` until the node is idle, then runs ``seq2seq-es corpus
executor=slurm`` on the same input with ``tasks=1`` and ``tasks=2``: wall time from
submission until the last job ends (every stage is a job array chained by dependencies,
so job starts count, as they do on a cluster). Prints MB/s and the 2-task / 1-task ratio,
then stops the cluster. MB = megabytes of UTF-8 text in the documents read.

With ``SLURM_CONF`` set (a cluster already up, as the tests' session cluster) it runs on that
one and neither starts nor stops a cluster. ``--smoke`` checks that the benchmark runs to its
ratio line; its numbers mean nothing (the job starts dominate). It hashes into 2 MinHash buckets
instead of the default 14: every bucket is a task, so a job of its own (2.6–4.6 s each here,
from slurmctld's log, most of it the Python start), and without those 24 jobs the smoke's test
took 63 s instead of 151 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "local-slurm.sh"


def queue_empty() -> bool:
    done = subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True, check=True)
    return not done.stdout.strip()


def corpus_on_slurm(
    source: Path, output_dir: Path, tasks: int, overrides: list[str]
) -> tuple[float, float]:
    """(seconds from submission to the last job's end, MB of text read)."""
    command = [
        sys.executable,
        "-m",
        "seq2seq_es.cli",
        "corpus",
        f"input={source}",
        f"tasks={tasks}",
        f"output_dir={output_dir}",
        "executor=slurm",
        "slurm.partition=debug",
        "slurm.mem_per_cpu_gb=1",
        *overrides,
    ]
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    while not queue_empty():
        time.sleep(0.2)
    seconds = time.perf_counter() - start
    stats_path = output_dir / "stats.json"
    if not stats_path.is_file():
        raise SystemExit(f"no {stats_path}: the jobs failed; logs in {output_dir / 'logs'}")
    stats = json.loads(stats_path.read_text(encoding="utf-8"))
    return seconds, stats["input"]["chars"] / 1e6  # chars ≈ bytes for Spanish text (±2%)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="20 documents, 2 MinHash buckets")
    parser.add_argument(
        "--input", type=Path, default=ROOT.parent / "shared/data/pretrain/sample.jsonl.gz"
    )
    args = parser.parse_args()
    overrides = ["limit=20", "dedup.num_buckets=2"] if args.smoke else []
    state = Path(tempfile.mkdtemp(prefix="bench-slurm-"))
    env = {**os.environ, "LOCAL_SLURM_DIR": str(state)}
    running = "SLURM_CONF" in os.environ  # a cluster that is up already: use it, leave it up
    try:
        if running:
            print(f"cluster already up: SLURM_CONF={os.environ['SLURM_CONF']}")
        else:
            start = time.perf_counter()
            subprocess.run([str(SCRIPT), "start"], env=env, check=True)
            print(f"local cluster start (packages installed): {time.perf_counter() - start:.2f} s")
            os.environ["SLURM_CONF"] = str(state / "slurm.conf")
        rates = {}
        for tasks in (1, 2):
            seconds, megabytes = corpus_on_slurm(
                args.input, state / f"corpus-{tasks}", tasks, overrides
            )
            rates[tasks] = megabytes / seconds
            print(f"{tasks} Slurm task(s): {megabytes:.2f} MB in {seconds:.1f} s", end=" ")
            print(f"= {rates[tasks]:.3f} MB/s")
        print(f"ratio 2 tasks / 1 task (MB/s): {rates[2] / rates[1]:.2f}x")
    finally:
        if not running:
            subprocess.run([str(SCRIPT), "stop"], env=env, check=False)
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
