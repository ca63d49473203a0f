"""Benchmark the corpus pipeline: MB/s through the full datatrove chain, scaling, time per step.

    .venv/bin/python benchmarks/bench_corpus.py            # the 5 files of ../shared/data/pretrain
    (100 MB)
    .venv/bin/python benchmarks/bench_corpus.py --quick    # sample.jsonl.gz only (6 MB)
    .venv/bin/python benchmarks/bench_corpus.py --smoke    # its first 100 documents, 1 run each

``--smoke`` checks that the benchmark runs to its ratio line; its numbers mean nothing.

Prints (1) wall-clock MB/s of ``run_corpus`` with 1 and 2 workers (best and median of
``--repeat`` runs: the machines here are shared and vary by ±20%) and the scaling ratio,
(2) each step's MB/s and time share, measured in-process in CPU seconds (process time: other
jobs on the machine change it less than wall time) over the same documents, and (3) the baseline of
the same run: datatrove's stock Gopher filters and
MinHash shingling with their Spanish word tokenizer (spaCy), on a subset (spaCy is slow),
against ours on that subset. Ends with the kept/dropped table (markdown) of the 2-worker run.
MB = megabytes of UTF-8 text in the input documents.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from datatrove.data import Document
from datatrove.pipeline.dedup import MinhashConfig, MinhashDedupSignature
from datatrove.pipeline.filters import GopherQualityFilter, GopherRepetitionFilter

from seq2seq_es.corpus.config import CorpusConfig, LinesConfig, QualityConfig, RepetitionConfig
from seq2seq_es.corpus.language import LanguageIdFilter
from seq2seq_es.corpus.minhash import CompiledMinhashSignature
from seq2seq_es.corpus.pipeline import run_corpus
from seq2seq_es.corpus.quality import (
    LineCleaningFilter,
    SpanishGopherQuality,
    SpanishGopherRepetition,
)
from seq2seq_es.corpus.spanish import STOP_WORDS
from seq2seq_es.corpus.steps import LengthFilter, normalize_text

ROOT = Path(__file__).resolve().parents[1]


def load_texts(files: list[Path]) -> tuple[list[str], float]:
    texts: list[str] = []
    for path in files:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            texts += [json.loads(line)["text"] for line in handle]
    return texts, sum(len(t.encode("utf-8")) for t in texts) / 1e6


def smoke_input(source: Path, folder: Path, count: int) -> Path:
    """A folder holding ``source``'s first ``count`` lines under its name (``--smoke``)."""
    folder.mkdir(parents=True, exist_ok=True)
    with gzip.open(source, "rt", encoding="utf-8") as read:
        lines = [line for _, line in zip(range(count), read, strict=False)]
    with gzip.open(folder / source.name, "wt", encoding="utf-8") as write:
        write.writelines(lines)
    return folder


def mb(texts: list[str]) -> float:
    return sum(len(t.encode("utf-8")) for t in texts) / 1e6


def time_filter(step: Callable[[Document], object], texts: list[str]) -> tuple[float, list[str]]:
    """CPU seconds to run ``step`` over ``texts`` and the texts it keeps (with its edits)."""
    docs = [Document(text=t, id=str(i)) for i, t in enumerate(texts)]
    start = time.process_time()
    kept = [doc.text for doc in docs if step(doc) is True]
    return time.process_time() - start, kept


def step_times(texts: list[str]) -> list[tuple[str, float, float]]:
    """(step, input MB, CPU seconds) for each step in chain order, each fed what the previous
    kept."""
    rows = []
    start = time.process_time()
    texts = [normalize_text(t) for t in texts]
    rows.append(("normalize", mb(texts), time.process_time() - start))
    for name, step in (
        ("length", LengthFilter(200, 1_000_000)),
        ("language", LanguageIdFilter()),
        ("lines", LineCleaningFilter(LinesConfig())),
        ("repetition", SpanishGopherRepetition(RepetitionConfig())),
        ("quality", SpanishGopherQuality(QualityConfig())),
    ):
        step.filter(
            Document(text="hola " * 60, id="warm-up")
        )  # model and numba cache loads: one-offs per task
        size = mb(texts)
        seconds, texts = time_filter(step.filter, texts)
        rows.append((name, size, seconds))
    signer = CompiledMinhashSignature(tempfile.mkdtemp(), config=MinhashConfig())
    signer.get_signature(
        signer.get_shingles("uno dos tres cuatro cinco")
    )  # numba's cache load is a one-off per task
    rows.append(("minhash signatures", mb(texts), time_signatures(signer, texts)))
    return rows


def time_signatures(signer: MinhashDedupSignature, texts: list[str]) -> float:
    start = time.process_time()
    for text in texts:
        signer.get_signature(signer.get_shingles(text))
    return time.process_time() - start


def baseline(texts: list[str]) -> list[tuple[str, float, float]]:
    """(what, ours s, stock datatrove with spaCy s) on the same texts."""
    pairs = [
        (
            "Gopher repetition",
            SpanishGopherRepetition(RepetitionConfig()).filter,
            GopherRepetitionFilter(language="es").filter,
        ),
        (
            "Gopher quality",
            SpanishGopherQuality(QualityConfig()).filter,
            GopherQualityFilter(language="es", stop_words=list(STOP_WORDS)).filter,
        ),
    ]
    rows = []
    for name, ours, stock in pairs:
        stock(Document(text="hola mundo", id="warm-up"))  # spaCy pipeline construction
        rows.append((name, time_filter(ours, texts)[0], time_filter(stock, texts)[0]))
    folder = tempfile.mkdtemp()
    ours_sig = CompiledMinhashSignature(folder, config=MinhashConfig())
    ours_sig.get_signature(ours_sig.get_shingles("uno dos tres cuatro cinco"))  # numba's cache load
    stock_sig = MinhashDedupSignature(folder, config=MinhashConfig(), language="es")
    rows.append(
        (
            "MinHash shingles+signature",
            time_signatures(ours_sig, texts),
            time_signatures(stock_sig, texts),
        )
    )
    return rows


def spread_subset(texts: list[str], max_mb: float) -> tuple[list[str], float]:
    """Normalized documents spread over the input (about 2,000 strides) until ``max_mb``."""
    subset, size = [], 0.0
    for text in texts[:: max(1, len(texts) // 2000)]:
        if size >= max_mb:
            break
        subset.append(normalize_text(text))
        size += len(subset[-1].encode("utf-8")) / 1e6
    return subset, size


def full_run(input_dir: Path, glob: str, workers: int, tasks: int, out: Path) -> tuple[float, dict]:
    shutil.rmtree(out, ignore_errors=True)
    config = CorpusConfig.model_validate(
        {
            "sources": [{"path": str(input_dir), "glob": glob}],
            "output_dir": str(out),
            "tasks": tasks,
            "workers": workers,
        }
    )
    start = time.perf_counter()
    stats = run_corpus(config)
    return time.perf_counter() - start, stats


def markdown_table(stats: dict) -> str:
    lines = [
        "| step | docs in | docs out | dropped | MB chars out | reasons (docs) |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for step, row in stats["steps"].items():
        if "docs_in" not in row:
            continue
        reasons = ", ".join(
            f"{r} {e['docs']}"
            for r, e in sorted(row["dropped"].items(), key=lambda x: -x[1]["docs"])
        )
        dropped = row["docs_in"] - row["docs_out"]
        lines.append(
            f"| {step} | {row['docs_in']:,} | {row['docs_out']:,} | {dropped:,} "
            f"({dropped / max(1, row['docs_in']):.1%}) | {row['chars_out'] / 1e6:.2f} | {reasons} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--input", type=Path, default=ROOT.parent / "shared" / "data" / "pretrain")
    parser.add_argument(
        "--glob", default="[!s]*.jsonl.gz", help="files to read (default: all but sample.jsonl.gz)"
    )
    parser.add_argument("--quick", action="store_true", help="only sample.jsonl.gz (6 MB)")
    parser.add_argument(
        "--smoke", action="store_true", help="sample.jsonl.gz's first 100 documents, 2 tasks"
    )
    parser.add_argument(
        "--tasks", type=int, default=8, help="tasks (JSONL files are split into pieces across them)"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="full-chain runs per worker count (min and median)"
    )
    parser.add_argument(
        "--baseline-mb", type=float, default=3.0, help="MB of text for the spaCy baseline"
    )
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "bench_corpus")
    parser.add_argument(
        "--skip-full",
        action="store_true",
        help="skip the full-chain runs (steps and baselines only)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the 2-worker run's output (rejects/) under --out"
    )
    args = parser.parse_args()
    glob = "sample.jsonl.gz" if args.quick or args.smoke else args.glob
    if args.smoke:
        args.input = smoke_input(args.input / glob, args.out / "smoke-input", 100)
        args.tasks, args.repeat, args.baseline_mb = 2, 1, 0.05
    files = sorted(args.input.glob(glob))
    texts, total_mb = load_texts(files)
    tasks = args.tasks
    print(f"input: {len(files)} files, {len(texts):,} documents, {total_mb:.1f} MB of text")

    if not args.skip_full:
        print(
            "\n== full chain (run_corpus, LocalPipelineExecutor, wall clock incl. process "
            "start-up) =="
        )
        walls: dict[int, float] = {}
        for workers in (1, 2):
            runs = sorted(
                (
                    full_run(args.input, glob, workers, tasks, args.out / f"w{workers}")
                    for _ in range(args.repeat)
                ),
                key=lambda run: run[0],
            )
            walls[workers], stats = runs[0]
            median = runs[len(runs) // 2][0]
            print(
                f"workers={workers} tasks={tasks}: best of {len(runs)} {walls[workers]:.1f} s = "
                f"{total_mb / walls[workers]:.2f} MB/s (median {median:.1f} s = "
                f"{total_mb / median:.2f} MB/s), kept {stats['output']['docs']:,} docs"
            )
        print(f"ratio 2 workers / 1 worker (MB/s, best runs): {walls[1] / walls[2]:.2f}x")

    print("\n== per step, in-process, CPU seconds (each step fed what the previous kept) ==")
    rows = step_times(texts)
    total = sum(seconds for _, _, seconds in rows)
    for name, size, seconds in rows:
        print(
            f"{name:20s} {size:8.1f} MB in {seconds:7.2f} s  {size / seconds:8.1f} MB/s  "
            f"{seconds / total:6.1%}"
        )
    print(
        f"{'sum of steps':20s} {total_mb:8.1f} MB in {total:7.2f} s  {total_mb / total:8.1f} MB/s"
    )

    subset, size = spread_subset(texts, args.baseline_mb)
    if importlib.util.find_spec("spacy") is None:
        print(
            "\n== baseline skipped: datatrove's Spanish word tokenizer needs spaCy (pip install "
            "spacy) =="
        )
    else:
        print_baseline(subset, size)
    if args.skip_full:
        return
    print_kept_dropped(args.out, args.keep)


def print_baseline(subset: list[str], size: float) -> None:
    print(
        f"\n== baseline: datatrove stock steps with spaCy word tokenizer, on a {size:.1f} MB "
        f"subset ({len(subset)} docs spread over the input) =="
    )
    for name, ours, stock in baseline(subset):
        print(
            f"{name:28s} ours {size / ours:7.1f} MB/s   stock+spaCy {size / stock:6.2f} MB/s   "
            f"speed-up {stock / ours:6.1f}x"
        )


def print_kept_dropped(out: Path, keep: bool) -> None:
    stats = json.loads((out / "w2" / "stats.json").read_text(encoding="utf-8"))
    print("\n== kept / dropped (2-worker run) ==")
    print(markdown_table(stats))
    print(
        f"\nkept {stats['output']['docs']:,} of {stats['input']['docs']:,} documents, "
        f"{stats['output'].get('kept_chars_fraction', 0):.1%} of the characters"
    )
    if not keep:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
