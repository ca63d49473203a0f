"""Decoding a whole split faster: a token budget per batch, a static KV cache, compiled steps.

Today's path (the baseline of every ratio) is what ``eval``/``predict`` run:
``generate_in_length_order`` with batches of ``--batch-size`` (32) texts sorted by length, the
transformers engine with its dynamic KV cache. Against it, in the same run, on the same model
and inputs:

* ``budget``: the same order cut by a token budget (``decode_max_tokens`` /
  ``max_tokens``: ``--max-tokens`` padded source tokens a batch, at most ``--budget-batch-size``
  texts): more short texts a batch, fewer long ones;
* ``static``: transformers' ``StaticCache`` (``cache_implementation="static"``);
* ``static-compiled``: the static cache with each decoding step through ``torch.compile``.

Inputs are real Spanish of mixed length from ``../shared/data``: Tatoeba sentences and
legal-document openings of 200-2,000 characters (cut at ``--source-tokens``), shuffled with a
fixed seed. Every variant must give today's outputs (texts and token counts: asserted). The
first pass of each variant is timed apart (for the compiled one it holds the compilation);
then the variants alternate in a rotating order for ``--repeats`` passes and the medians are
reported as generated tokens/s, with the ratio to today's path.

The model is ``--model DIR`` (e.g. the barto-tiny that ``seq2seq-es demo`` pretrains:
a denoiser, so it copies its input and output lengths follow the inputs), or, without it, a
random barto-small with a tokenizer trained in the run on the same data and its output bias at
the unigram prior (so it does not stop at once).

    nice -n 10 .venv/bin/python benchmarks/bench_decode.py --model runs/demo-after/pretrain/model
    nice -n 10 .venv/bin/python benchmarks/bench_decode.py --beams 4
    .venv/bin/python benchmarks/bench_decode.py --smoke

``--smoke`` (8 inputs of <= 64 tokens, 4 new tokens, 1 thread, no compiled variant) checks that
the benchmark runs to its ratio lines; its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
import torch
from transformers.utils import logging as hf_logging

from seq2seq_es.inference.config import GenerationOptions
from seq2seq_es.inference.engines import TransformersEngine, generate_in_length_order
from seq2seq_es.models.loading import load_seq2seq
from seq2seq_es.models.output_prior import set_output_prior, unigram_log_probs
from seq2seq_es.models.presets import build_model
from seq2seq_es.tokenizer.bpe import train_byte_level_bpe

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
VARIANTS = ("today", "budget", "static", "static-compiled")
EOS_LOG_PRIOR = -8.0  # a random model's end token: rare enough that outputs run some tokens


def first_values(path: Path, key: str, count: int) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        values = []
        for line in handle:
            values.append(json.loads(line)[key])
            if len(values) == count:
                break
    return values


def spanish_inputs(count: int, data: Path = DATA, seed: int = 0) -> tuple[list[str], list[str]]:
    """``count`` inputs (three sentences to one document opening), and tokenizer text."""
    sentences = first_values(data / "translation" / "tatoeba_es_en_validation.jsonl.gz", "es", 3000)
    documents = first_values(
        data / "summarization" / "legal_ar_validation.jsonl.gz", "document", 200
    )
    rng = np.random.default_rng(seed)
    short = count * 3 // 4
    openings = [doc[: int(rng.integers(200, 2000))] for doc in documents[: count - short]]
    inputs = sentences[2000 : 2000 + short] + openings
    return [inputs[i] for i in rng.permutation(len(inputs))], sentences[:2000] + documents


def random_model(preset: str, corpus: list[str]) -> tuple[Any, Any]:
    tokenizer = train_byte_level_bpe(corpus, vocab_size=4000, min_frequency=2)
    model = build_model(preset, tokenizer, seed=0)
    ids = tokenizer(corpus[:2000], add_special_tokens=False)["input_ids"]
    prior = unigram_log_probs([np.asarray(row) for row in ids], len(tokenizer))
    prior[tokenizer.eos_token_id] = EOS_LOG_PRIOR
    set_output_prior(model, prior)
    return model, tokenizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="A model folder (default: a random barto-small).")
    parser.add_argument("--data-dir", type=Path, default=DATA, help="The shared data folder.")
    parser.add_argument("--inputs", type=int, default=128)
    parser.add_argument("--source-tokens", type=int, default=256)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--beams", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32, help="Today's texts per batch.")
    parser.add_argument("--max-tokens", type=int, default=2048, help="The budget variant's.")
    parser.add_argument("--budget-batch-size", type=int, default=128)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--smoke", action="store_true", help="Seconds: tiny sizes, no compile.")
    args = parser.parse_args()
    if args.smoke:
        args.inputs, args.source_tokens, args.new_tokens, args.repeats = 8, 64, 4, 1
        args.max_tokens, args.threads, args.variants = 128, 1, "today,budget,static"
    torch.set_num_threads(args.threads)
    hf_logging.set_verbosity_error()
    inputs, corpus = spanish_inputs(args.inputs, args.data_dir)
    preset = "barto-tiny" if args.smoke else "barto-small"
    if args.smoke:  # a smaller tokenizer corpus: seconds
        corpus = corpus[:300] + corpus[-3:]
    if args.model:
        model, tokenizer = load_seq2seq(args.model)
    else:
        model, tokenizer = random_model(preset, corpus)
    model.eval()
    options = GenerationOptions(max_new_tokens=args.new_tokens, num_beams=args.beams)

    def runner(variant: str) -> Callable[[], list[dict[str, Any]]]:
        cache = variant if variant.startswith("static") else "dynamic"
        engine = TransformersEngine(model, tokenizer, options, args.source_tokens, cache=cache)
        if variant == "budget":
            return lambda: generate_in_length_order(
                engine, inputs, options, args.budget_batch_size, max_tokens=args.max_tokens
            )
        return lambda: generate_in_length_order(engine, inputs, options, args.batch_size)

    variants = ["today"] + [v for v in args.variants.split(",") if v != "today"]
    runs = {variant: runner(variant) for variant in variants}
    first: dict[str, float] = {}
    outputs: dict[str, list[tuple[str, int]]] = {}
    for variant, run in runs.items():
        started = time.perf_counter()
        results = run()
        first[variant] = time.perf_counter() - started
        outputs[variant] = [(r["text"], r["tokens"]) for r in results]
        assert outputs[variant] == outputs["today"], f"{variant}: outputs differ from today's"
    tokens = sum(count for _, count in outputs["today"])
    times: dict[str, list[float]] = {variant: [] for variant in variants}
    for repeat in range(args.repeats):
        shift = repeat % len(variants)
        for variant in variants[shift:] + variants[:shift]:
            started = time.perf_counter()
            runs[variant]()
            times[variant].append(time.perf_counter() - started)
    shape = (
        f"{args.inputs} inputs, <= {args.source_tokens} "
        f"source tokens, <= {args.new_tokens} new tokens, beams {args.beams}, "
        f"{args.threads} threads, {tokens} tokens generated, outputs identical in every variant"
    )
    print(f"model: {args.model or f'random {preset}'}; {shape}")
    print("| variant | first pass (s) | median (s) | tokens/s | ratio to today |")
    print("|---|---|---|---|---|")
    today = statistics.median(times["today"])
    for variant in variants:
        median = statistics.median(times[variant])
        print(
            f"| {variant} | {first[variant]:.2f} | {median:.2f} | {tokens / median:.1f} "
            f"| {today / median:.2f}x |"
        )
    for variant in variants[1:]:
        print(
            f"ratio {variant} / today (tokens/s): {today / statistics.median(times[variant]):.2f}x"
        )


if __name__ == "__main__":
    main()
