"""Tokenizer training cost vs corpus size, and encoding throughput batched vs one by one.

Training: each (kind, size) trains in a fresh child process on the first SIZE million
characters of the Spanish pretraining files (streamed from the JSONL.gz files, as the
``tokenizer`` stage does), so its peak resident memory (``ru_maxrss``) is its own. The
child first streams the same sample without training: that read time (decompress, JSON,
NFC) is the baseline the training time is compared with.

Encoding: the tokenizers trained on the largest size encode held-out Spanish text
(``parlamint``, which the training prefix does not reach), as whole documents and cut into
lines, with the fast tokenizer: one text per call (the baseline, a Python loop), batched
on one thread (``TOKENIZERS_PARALLELISM=false``) and batched on all threads; tokens/s
of each and the ratio to the baseline.

    .venv/bin/python benchmarks/bench_tokenizer.py                 # 1, 10, 50 MB; BART/T5 vocab
    sizes
    .venv/bin/python benchmarks/bench_tokenizer.py --quick         # 1 MB, vocab 8000, 1 MB encoded
    .venv/bin/python benchmarks/bench_tokenizer.py --keep runs/bench-tokenizers   # keep the
    tokenizers
    .venv/bin/python benchmarks/bench_tokenizer.py --keep runs/bench-tokenizers --reuse --repeats 5
    # encode only
    .venv/bin/python benchmarks/bench_tokenizer.py --smoke         # 0.1 MB, vocab 1000: seconds

``--smoke`` checks that the benchmark runs to its ratio lines; its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "pretrain"
HELD_OUT_FILE = "parlamint.jsonl.gz"
# The training prefix: files in this order (sorted, as the tokenizer stage reads a folder);
# parlamint is held out.
TRAIN_FILES = ("caldracor.jsonl.gz", "eltec.jsonl.gz", "gutenberg.jsonl.gz", "legal.jsonl.gz")


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def _train_texts(data: Path) -> Any:
    from seq2seq_es.corpus.text_files import iter_texts

    return itertools.chain.from_iterable(iter_texts(data / name) for name in TRAIN_FILES)


def child_train(
    kind: str, chars: int, vocab_size: int, data: Path, output_dir: Path
) -> dict[str, Any]:
    """Runs in its own process: stream the sample once (baseline), then train and save."""
    from seq2seq_es.tokenizer.bpe import train_byte_level_bpe
    from seq2seq_es.tokenizer.sampling import TrainingSample
    from seq2seq_es.tokenizer.save import save_tokenizer
    from seq2seq_es.tokenizer.unigram import train_unigram

    rss_after_imports = _peak_rss_mb()
    start = time.perf_counter()
    sample = TrainingSample(_train_texts(data), chars)
    for _ in sample:
        pass
    read_seconds = time.perf_counter() - start
    rss_after_read = _peak_rss_mb()

    sample = TrainingSample(_train_texts(data), chars)
    start = time.perf_counter()
    if kind == "bpe":
        tokenizer = train_byte_level_bpe(sample, vocab_size)
    else:
        tokenizer = train_unigram(sample, vocab_size)
    train_seconds = time.perf_counter() - start
    save_tokenizer(tokenizer, output_dir)
    return {
        "kind": kind,
        "chars": sample.chars,
        "texts": sample.texts,
        "vocab_size": len(tokenizer),
        "read_seconds": read_seconds,
        "train_seconds": train_seconds,
        "rss_after_imports_mb": rss_after_imports,
        "rss_after_read_mb": rss_after_read,
        "peak_rss_mb": _peak_rss_mb(),
    }


def run_child(
    kind: str, chars: int, vocab_size: int, data: Path, output_dir: Path
) -> dict[str, Any]:
    command = [
        sys.executable,
        __file__,
        "--child",
        json.dumps(
            {
                "kind": kind,
                "chars": chars,
                "vocab_size": vocab_size,
                "data": str(data),
                "output_dir": str(output_dir),
            }
        ),
    ]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _best_seconds(works: dict[str, Any], repeats: int) -> dict[str, float]:
    """Fastest of ``repeats`` runs of each work, interleaved (a, b, c, a, b, c, …).

    The machine is shared: interleaving spreads the other jobs' load over all modes and
    the minimum is the least disturbed run.
    """
    best = dict.fromkeys(works, float("inf"))
    for _ in range(repeats):
        for name, work in works.items():
            start = time.perf_counter()
            work()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def encoding_throughput(
    folder: Path, texts: list[str], batch_size: int, repeats: int
) -> dict[str, float]:
    """tokens/s one text per call (baseline), batched on one thread, batched on all threads."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    tokens = sum(len(ids) for ids in tokenizer(texts)["input_ids"])  # also warms up

    def one_by_one() -> None:
        for text in texts:
            tokenizer(text)

    def batched() -> None:
        for begin in range(0, len(texts), batch_size):
            tokenizer(texts[begin : begin + batch_size])

    def batched_one_thread() -> None:  # tokenizers reads TOKENIZERS_PARALLELISM at every batch call
        os.environ["TOKENIZERS_PARALLELISM"] = "false"
        batched()

    def batched_parallel() -> None:
        os.environ["TOKENIZERS_PARALLELISM"] = "true"
        batched()

    seconds = _best_seconds(
        {
            "single": one_by_one,
            "batched_one_thread": batched_one_thread,
            "batched_parallel": batched_parallel,
        },
        repeats,
    )
    return {
        "tokens": tokens,
        "chars": sum(map(len, texts)),
        **{mode: tokens / s for mode, s in seconds.items()},
    }


def held_out_texts(data: Path, max_chars: float) -> dict[str, list[str]]:
    """Held-out documents, and the same text cut into lines (paragraphs: many short calls)."""
    from seq2seq_es.corpus.text_files import iter_texts

    documents: list[str] = []
    chars = 0
    for text in iter_texts(data / HELD_OUT_FILE):
        if chars >= max_chars:
            break
        documents.append(text)
        chars += len(text)
    lines = [line for text in documents for line in text.split("\n") if line.strip()]
    return {"documents": documents, "lines": lines}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help="Folder with the pretrain/*.jsonl.gz files."
    )
    parser.add_argument(
        "--sizes-mb",
        type=float,
        nargs="+",
        default=[1, 10, 50],
        help="Training sample sizes in millions of characters.",
    )
    parser.add_argument(
        "--kinds", nargs="+", default=["bpe", "unigram"], choices=["bpe", "unigram"]
    )
    parser.add_argument("--bpe-vocab", type=int, default=50264)
    parser.add_argument("--unigram-vocab", type=int, default=32128)
    parser.add_argument(
        "--encode-mb", type=float, default=5.0, help="Held-out characters to encode (millions)."
    )
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", type=Path, default=None, help="Keep the trained tokenizers here.")
    parser.add_argument(
        "--reuse", action="store_true", help="Skip training: encode with the tokenizers in --keep."
    )
    parser.add_argument("--quick", action="store_true", help="1 MB, vocab 8000, 1 MB encoded.")
    parser.add_argument("--smoke", action="store_true", help="0.1 MB, vocab 1000, 0.1 MB encoded.")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        spec = json.loads(args.child)
        print(
            json.dumps(
                child_train(
                    spec["kind"],
                    spec["chars"],
                    spec["vocab_size"],
                    Path(spec["data"]),
                    Path(spec["output_dir"]),
                )
            )
        )
        return
    if args.reuse and args.keep is None:
        parser.error("--reuse needs --keep DIR (a folder filled by an earlier run with --keep)")
    if args.quick:
        args.sizes_mb, args.bpe_vocab, args.unigram_vocab, args.encode_mb = [1], 8000, 8000, 1.0
    if args.smoke:
        args.sizes_mb, args.bpe_vocab, args.unigram_vocab, args.encode_mb = [0.1], 1000, 1000, 0.1
        args.repeats, args.batch_size = 1, 100
    if not (args.data / HELD_OUT_FILE).is_file():
        sys.exit(f"needs the Spanish pretraining files in {args.data} (pass --data)")
    print(f"cpus: {os.cpu_count()}  data: {args.data}  python: {sys.version.split()[0]}")

    vocab = {"bpe": args.bpe_vocab, "unigram": args.unigram_vocab}
    with tempfile.TemporaryDirectory(prefix="bench-tokenizer-") as tmp:
        keep = args.keep or Path(tmp)
        largest = max(args.sizes_mb)
        if not args.reuse:
            print(
                "\ntraining (fresh process each; read = streaming the same sample without training)"
            )
            print(
                f"{'kind':8} {'MB':>5} {'vocab':>6} {'read s':>7} {'train s':>8} "
                f"{'train/read':>10} {'MB/s':>6} {'peak MB':>8} {'+MB over read':>13}"
            )
        for kind in [] if args.reuse else args.kinds:
            for size in sorted(args.sizes_mb):
                folder = keep / f"{kind}-{size:g}mb"
                row = run_child(kind, int(size * 1e6), vocab[kind], args.data, folder)
                print(
                    f"{kind:8} {row['chars'] / 1e6:5.1f} {row['vocab_size']:6d} "
                    f"{row['read_seconds']:7.1f} {row['train_seconds']:8.1f} "
                    f"{row['train_seconds'] / row['read_seconds']:10.1f} "
                    f"{row['chars'] / 1e6 / row['train_seconds']:6.2f} {row['peak_rss_mb']:8.0f} "
                    f"{row['peak_rss_mb'] - row['rss_after_read_mb']:13.0f}",
                    flush=True,
                )

        print(
            f"\nencoding held-out Spanish ({HELD_OUT_FILE}, not in the training prefix); fast "
            f"tokenizer, batches of {args.batch_size}; best of {args.repeats} interleaved; ratio = "
            "tok/s over one-by-one"
        )
        print(
            f"{'kind':8} {'texts':10} {'n':>6} {'tokens':>9} {'one-by-one':>11} "
            f"{'batched 1 thr':>14} {'ratio':>6} {'batched all':>12} {'ratio':>6}"
        )
        ratios = []
        for name, texts in held_out_texts(args.data, args.encode_mb * 1e6).items():
            for kind in args.kinds:
                r = encoding_throughput(
                    keep / f"{kind}-{largest:g}mb", texts, args.batch_size, args.repeats
                )
                print(
                    f"{kind:8} {name:10} {len(texts):6d} {r['tokens']:9d} {r['single']:11,.0f} "
                    f"{r['batched_one_thread']:14,.0f} "
                    f"{r['batched_one_thread'] / r['single']:6.2f} {r['batched_parallel']:12,.0f} "
                    f"{r['batched_parallel'] / r['single']:6.2f}",
                    flush=True,
                )
                ratios.append(
                    f"ratio batched / one-by-one ({kind}, {name}, tokens/s): "
                    f"{r['batched_one_thread'] / r['single']:.2f}x on 1 thread, "
                    f"{r['batched_parallel'] / r['single']:.2f}x on all"
                )
        print("\n".join(ratios))


if __name__ == "__main__":
    main()
