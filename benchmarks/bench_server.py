"""Load test of ``seq2seq-es serve`` over loopback: dynamic batching vs batch-1 serving.

A bounded run: ``--requests`` requests (default 1,000), ``--concurrency`` in flight (16),
``--malformed`` of them bad (10%: invalid JSON, empty text, huge or negative
max_new_tokens, unknown field, wrong type, NaN, a 1 MB body), against the real server
(``commands.serve.run`` in its own process, uvicorn, the transformers engine). The same
request plan is sent to the server twice (more with ``--rounds``, alternating): once with
dynamic batching (``batching.max_batch_size`` = the concurrency) and once with
``batching.max_batch_size=1`` (batch-1 serving: the baseline, same run).

Reported per mode: p50/p99 latency of the valid and of the malformed requests, valid
requests/s, generated tokens/s, the mean texts per generate call (from ``/metrics``), the
status counts (5xx must be 0) and the server's RSS after warm-up and at the end; then the
ratio of requests/s, dynamic over batch-1. First, in this process, the most batching can
give: tokens/s of one generate call of 1 text vs of ``--concurrency`` texts.

The model: ``--model DIR``, or by default a random ``--preset`` (barto-small) with a
byte-level BPE trained in the run on the Spanish inputs, its output bias at their unigram
prior and no end token in that prior, so every valid request generates exactly
``--max-new-tokens`` tokens (a fixed amount of work per request). Inputs: Spanish
sentences of Tatoeba (``../shared/data``), else generated ones.

    .venv/bin/python benchmarks/bench_server.py
    .venv/bin/python benchmarks/bench_server.py --requests 200 --rounds 2 --output
    /tmp/bench_server.json
    .venv/bin/python benchmarks/bench_server.py --smoke   # barto-tiny, 40 requests, 4 in flight

``--smoke`` (4 new tokens a request) checks that the benchmark runs to its ratio lines; its
numbers mean nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

DATA = (
    Path(__file__).resolve().parents[1].parent
    / "shared"
    / "data"
    / "translation"
    / "tatoeba_es_en_validation.jsonl.gz"
)
JSON = {"Content-Type": "application/json"}


def spanish_inputs(count: int) -> list[str]:
    """Tatoeba's Spanish sentences, or generated Spanish-like ones when the data is absent."""
    if DATA.is_file():
        with gzip.open(DATA, "rt", encoding="utf-8") as handle:
            texts = [json.loads(line)["es"] for line in handle if line.strip()]
        return texts[:count]
    words = [
        "el",
        "la",
        "niño",
        "niña",
        "come",
        "pan",
        "casa",
        "perro",
        "gato",
        "grande",
        "pequeño",
        "con",
        "en",
        "y",
        "de",
        "por",
        "qué",
        "dónde",
    ]
    rng = random.Random(0)
    return [" ".join(rng.choice(words) for _ in range(rng.randint(3, 14))) for _ in range(count)]


def build_model(preset: str, texts: list[str], folder: Path) -> Path:
    """A random preset whose outputs never end early (see the module docstring)."""
    from seq2seq_es.models.loading import save_seq2seq
    from seq2seq_es.models.output_prior import set_output_prior, unigram_log_probs
    from seq2seq_es.models.presets import build_model as build_preset
    from seq2seq_es.tokenizer.bpe import train_byte_level_bpe

    tokenizer = train_byte_level_bpe(texts, vocab_size=2000, min_frequency=2)
    model = build_preset(preset, tokenizer, seed=0)
    set_output_prior(
        model,
        unigram_log_probs(tokenizer(texts, add_special_tokens=False)["input_ids"], len(tokenizer)),
    )
    return save_seq2seq(model, tokenizer, folder)


def request_plan(
    texts: list[str], count: int, malformed: float, max_new_tokens: int, seed: int
) -> list[tuple[str, bytes]]:
    """``(kind, body)`` of every request: "valid" or the kind of malformation."""
    bad = [
        ("invalid-json", b'{"inputs": ["hola"'),
        ("empty-text", json.dumps({"inputs": [""]}).encode()),
        (
            "huge-max-new-tokens",
            json.dumps({"inputs": ["hola"], "options": {"max_new_tokens": 10**12}}).encode(),
        ),
        (
            "negative-max-new-tokens",
            json.dumps({"inputs": ["hola"], "options": {"max_new_tokens": -5}}).encode(),
        ),
        ("unknown-field", json.dumps({"inputs": ["hola"], "prompt": "x"}).encode()),
        ("wrong-type", json.dumps({"inputs": "hola"}).encode()),
        ("nan", b'{"inputs": ["hola"], "options": {"temperature": NaN}}'),
        ("1MB-text", json.dumps({"inputs": ["a" * 1_000_000]}).encode()),
    ]
    rng = random.Random(seed)
    plan = []
    for i in range(count):
        if rng.random() < malformed:
            plan.append(bad[rng.randrange(len(bad))])
        else:
            body = {
                "inputs": [texts[i % len(texts)]],
                "options": {"max_new_tokens": max_new_tokens},
            }
            plan.append(("valid", json.dumps(body, ensure_ascii=False).encode()))
    return plan


async def run_load(
    url: str, plan: list[tuple[str, bytes]], concurrency: int
) -> tuple[list[dict[str, Any]], float]:
    """Send every request of ``plan`` with ``concurrency`` in flight; per-request results and
    wall time."""
    results: list[dict[str, Any]] = [{} for _ in plan]
    next_index = iter(range(len(plan)))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as client:

        async def worker() -> None:
            for index in next_index:
                kind, body = plan[index]
                started = time.perf_counter()
                try:
                    response = await client.post("/v1/generate", content=body, headers=JSON)
                except httpx.TransportError as exc:  # counted apart: neither an answer nor a 5xx
                    results[index] = {
                        "kind": kind,
                        "status": type(exc).__name__,
                        "seconds": 0.0,
                        "tokens": 0,
                    }
                    continue
                seconds = time.perf_counter() - started
                tokens = (
                    sum(o["tokens"] for o in response.json()["outputs"])
                    if response.status_code == 200
                    else 0
                )
                results[index] = {
                    "kind": kind,
                    "status": response.status_code,
                    "seconds": seconds,
                    "tokens": tokens,
                }

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return results, time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    model: Path, max_batch_size: int, threads: int, timeout: float, engine: str = "transformers"
) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    config = {
        "model": str(model),
        "engine": engine,
        "port": port,
        "threads": threads,
        "log_level": "warning",
        "batching": {"max_batch_size": max_batch_size},
        "limits": {"request_timeout_s": timeout},
    }
    script = (
        "import json, sys\nfrom seq2seq_es.commands.serve import run\n"
        "from seq2seq_es.inference.config import ServeConfig\n"
        "run(ServeConfig.model_validate(json.loads(sys.argv[1])))\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script, json.dumps(config)],
        text=True,
        env=os.environ | {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            if httpx.get(url + "/health", timeout=5).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("the server did not start in 300 s")
        time.sleep(0.2)


def mean_batch_size(url: str) -> float:
    """Texts per generate call, from the server's Prometheus histogram."""
    values = {}
    for line in httpx.get(url + "/metrics", timeout=30).text.splitlines():
        for name in ("seq2seq_es_batch_size_sum", "seq2seq_es_batch_size_count"):
            if line.startswith(name + "{"):
                values[name] = float(line.rsplit(" ", 1)[1])
    return values["seq2seq_es_batch_size_sum"] / max(values["seq2seq_es_batch_size_count"], 1.0)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(
    model: Path,
    mode: str,
    max_batch_size: int,
    plan: list[tuple[str, bytes]],
    warmup: list[tuple[str, bytes]],
    args: argparse.Namespace,
) -> dict[str, Any]:
    process, url = start_server(model, max_batch_size, args.threads, args.timeout)
    try:
        server = psutil.Process(process.pid)
        asyncio.run(run_load(url, warmup, args.concurrency))
        rss_start = server.memory_info().rss
        results, wall = asyncio.run(run_load(url, plan, args.concurrency))
        rss_end = server.memory_info().rss
        batch = mean_batch_size(url)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    valid = [r for r in results if r["kind"] == "valid" and r["status"] == 200]
    bad = [r for r in results if r["kind"] != "valid"]
    statuses: dict[str, int] = {}
    for result in results:
        statuses[str(result["status"])] = statuses.get(str(result["status"]), 0) + 1
    return {
        "mode": mode,
        "max_batch_size": max_batch_size,
        "requests": len(results),
        "wall_s": round(wall, 2),
        "valid": sum(r["kind"] == "valid" for r in results),
        "malformed": len(bad),
        "valid_ok": len(valid),
        "malformed_4xx": sum(
            isinstance(r["status"], int) and 400 <= r["status"] < 500 for r in bad
        ),
        "status_5xx": sum(isinstance(r["status"], int) and r["status"] >= 500 for r in results),
        "transport_errors": sum(isinstance(r["status"], str) for r in results),
        "statuses": statuses,
        "requests_per_s": round(len(results) / wall, 2),
        "valid_requests_per_s": round(len(valid) / wall, 2),
        "tokens_per_s": round(sum(r["tokens"] for r in valid) / wall, 1),
        "p50_ms": round(1000 * percentile([r["seconds"] for r in valid], 0.5), 1),
        "p99_ms": round(1000 * percentile([r["seconds"] for r in valid], 0.99), 1),
        "malformed_p50_ms": round(1000 * percentile([r["seconds"] for r in bad], 0.5), 1),
        "mean_batch_size": round(batch, 2),
        "rss_start_mb": round(rss_start / 2**20, 1),
        "rss_end_mb": round(rss_end / 2**20, 1),
    }


def batching_headroom(
    model: Path, texts: list[str], batch: int, threads: int, max_new_tokens: int, repeats: int = 3
) -> dict[str, Any]:
    """What batching can give at most: tokens/s of one generate call of 1 text vs of ``batch``
    texts,
    in this process with the server's thread count (no HTTP, no queue)."""
    import torch

    from seq2seq_es.inference.config import GenerationOptions
    from seq2seq_es.inference.engines import load_engine

    torch.set_num_threads(threads)
    engine = load_engine(model)
    options = GenerationOptions(max_new_tokens=max_new_tokens, num_beams=1)
    result: dict[str, Any] = {}
    for size in (1, batch):
        engine.generate(texts[:size], options)  # warm-up
        started, tokens = time.perf_counter(), 0
        for i in range(repeats):
            tokens += sum(
                o["tokens"] for o in engine.generate(texts[i * size : (i + 1) * size], options)
            )
        seconds = (time.perf_counter() - started) / repeats
        result[f"batch_{size}"] = {
            "ms_per_call": round(1000 * seconds, 1),
            "tokens_per_s": round(tokens / repeats / seconds, 1),
        }
    result["ratio_tokens_per_s"] = round(
        result[f"batch_{batch}"]["tokens_per_s"] / result["batch_1"]["tokens_per_s"], 2
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model", type=Path, help="A model folder (default: a random --preset built here)."
    )
    parser.add_argument("--preset", default="barto-small")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--malformed", type=float, default=0.1)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads of the server (1: on a shared machine, 2 threads spinning on "
        "busy cores were 10x slower)",
    )
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="the server's limits.request_timeout_s"
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="pairs of runs (dynamic, batch-1), alternating"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, help="Write the results as JSON here.")
    parser.add_argument("--smoke", action="store_true", help="Tiny sizes, seconds.")
    args = parser.parse_args()
    if args.smoke:
        args.preset, args.requests, args.concurrency, args.max_new_tokens = "barto-tiny", 40, 4, 4

    texts = spanish_inputs(5000)
    load_start = round(os.getloadavg()[0], 2)
    with tempfile.TemporaryDirectory(prefix="bench-server-") as tmp:
        model = args.model or build_model(args.preset, texts, Path(tmp) / "model")
        headroom = batching_headroom(
            model, texts, args.concurrency, args.threads, args.max_new_tokens
        )
        print(json.dumps({"in_process_headroom": headroom}), flush=True)
        plan = request_plan(texts, args.requests, args.malformed, args.max_new_tokens, args.seed)
        warmup = request_plan(
            texts[::-1], 2 * args.concurrency, 0.0, args.max_new_tokens, args.seed + 1
        )
        runs = []
        for round_index in range(args.rounds):
            for mode, size in (("dynamic", args.concurrency), ("batch-1", 1)):
                result = measure(model, mode, size, plan, warmup, args) | {"round": round_index}
                print(json.dumps(result), flush=True)
                runs.append(result)
    dynamic = [r["valid_requests_per_s"] for r in runs if r["mode"] == "dynamic"]
    single = [r["valid_requests_per_s"] for r in runs if r["mode"] == "batch-1"]
    summary = {
        "model": str(args.model or f"random {args.preset}"),
        "requests": args.requests,
        "concurrency": args.concurrency,
        "malformed": args.malformed,
        "max_new_tokens": args.max_new_tokens,
        "server_threads": args.threads,
        "request_timeout_s": args.timeout,
        "load_average_1m_start": load_start,
        "load_average_1m_end": round(os.getloadavg()[0], 2),
        "ratio_valid_requests_per_s": round(
            statistics.median(dynamic) / statistics.median(single), 2
        ),
        "status_5xx_total": sum(r["status_5xx"] for r in runs),
        "in_process_headroom": headroom,
        "runs": runs,
    }
    print(json.dumps({k: v for k, v in summary.items() if k != "runs"}, indent=2))
    print(
        f"ratio batch {args.concurrency} / batch 1 (in-process tokens/s): "
        f"{headroom['ratio_tokens_per_s']:.2f}x"
    )
    print(
        f"ratio dynamic / batch-1 (valid requests/s): {summary['ratio_valid_requests_per_s']:.2f}x"
    )
    if args.output:
        args.output.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
