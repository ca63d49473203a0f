"""Open-loop load test of ``seq2seq-es serve``: latency percentiles vs offered load, per engine.

Open loop: requests are sent at a constant arrival rate whatever the server does (a closed
loop, ``bench_server.py``, slows its clients down with the server and so never shows the
queueing that real traffic meets). For each engine (transformers fp32 and the CTranslate2
int8 export of the same model) and each rate of ``--rates``, ``--duration`` seconds of
one-text requests are sent; reported: offered and achieved requests/s, p50/p90/p99 latency,
the status counts (5xx must be 0 below the knee), and the knee: the first rate whose p99 is
more than 3× the p99 of the lowest rate or whose achieved rate falls below 90% of the
offered one. Then, on the transformers engine:

* dynamic batching vs batch-1 serving: completed requests/s when offered ``--overload``
  times the fastest rate, with ``batching.max_batch_size`` at its default (32) and 1 (same
  run);
* streaming: time to the first token event of ``/generate_stream`` vs the time to the
  whole answer of ``/generate``, one request at a time;
* the server's RSS after each of ``--rss-rounds`` (3) rounds at the middle rate.

The model is ``bench_server.py``'s: a random ``--preset`` whose outputs never end early, so
every request generates exactly ``--max-new-tokens`` tokens. ``--smoke`` runs a bounded
check on the tiny preset (one rate for 1 s, one RSS round, 2 streamed requests, 4 new tokens):
it checks that the benchmark runs to its ratio line, its numbers mean nothing.

    nice -n 10 .venv/bin/python benchmarks/bench_serve_load.py --output /tmp/load.json
    .venv/bin/python benchmarks/bench_serve_load.py --smoke
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_server import build_model, percentile, spanish_inputs, start_server

from seq2seq_es.inference.config import BatchingConfig

DEFAULT_BATCH = BatchingConfig().max_batch_size  # what `serve` batches by default


async def open_loop(url: str, texts: list[str], rate: float, duration: float, new: int) -> dict:
    """Send ``rate`` requests/s for ``duration`` s (a request every 1/rate s, not waiting)."""
    count = max(1, round(rate * duration))
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    last_ok = 0.0
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as client:

        async def one(i: int, at: float) -> None:
            await asyncio.sleep(max(0.0, at - time.perf_counter()))
            body = {"inputs": [texts[i % len(texts)]], "options": {"max_new_tokens": new}}
            sent = time.perf_counter()
            try:
                response = await client.post("/v1/generate", json=body)
                key = str(response.status_code)
            except httpx.HTTPError as exc:
                key = type(exc).__name__
            statuses[key] = statuses.get(key, 0) + 1
            if key == "200":
                nonlocal last_ok
                last_ok = time.perf_counter()
                latencies.append(last_ok - sent)

        start = time.perf_counter() + 0.2
        await asyncio.gather(*(one(i, start + i / rate) for i in range(count)))
    # answered requests/s, to the last answer (requests that timed out do not stretch it)
    elapsed = max(last_ok - start, count / rate)
    return {
        "offered_rps": rate,
        "achieved_rps": round(len(latencies) / elapsed, 2),
        "p50_ms": round(percentile(latencies, 0.5) * 1000, 1),
        "p90_ms": round(percentile(latencies, 0.9) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "statuses": statuses,
        "server_5xx": sum(n for k, n in statuses.items() if k.startswith("5")),
    }


def knee(rows: list[dict]) -> float | None:
    """The first offered rate where the server stops keeping up (see the module docstring)."""
    base = rows[0]["p99_ms"]
    for row in rows:
        if row["p99_ms"] > 3 * base or row["achieved_rps"] < 0.9 * row["offered_rps"]:
            return float(row["offered_rps"])
    return None


async def streaming_times(url: str, texts: list[str], count: int, new: int) -> dict:
    """Time to the first SSE token event vs time to the whole (non-streamed) answer."""
    first, whole = [], []
    async with httpx.AsyncClient(base_url=url, timeout=300) as client:
        for i in range(count):
            body = {"inputs": texts[i % len(texts)], "parameters": {"max_new_tokens": new}}
            sent = time.perf_counter()
            seen = None
            async with client.stream("POST", "/generate_stream", json=body) as response:
                async for line in response.aiter_lines():
                    if seen is None and line.startswith("data:"):
                        seen = time.perf_counter() - sent
            assert seen is not None, "the stream sent no event"
            first.append(seen)
            sent = time.perf_counter()
            assert (await client.post("/generate", json=body)).status_code == 200
            whole.append(time.perf_counter() - sent)
    return {
        "requests": count,
        "first_token_p50_ms": round(percentile(first, 0.5) * 1000, 1),
        "whole_answer_p50_ms": round(percentile(whole, 0.5) * 1000, 1),
    }


def stop(process: Any) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=120)


def served(model: Path, args: argparse.Namespace, batch: int, engine: str) -> Any:
    return start_server(model, batch, args.threads, args.timeout, engine=engine)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--preset", default="barto-small")
    parser.add_argument("--rates", default="2,4,8,16,32", help="Offered requests/s, ascending.")
    parser.add_argument("--duration", type=float, default=20.0, help="Seconds per rate.")
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--engines", default="transformers,ct2")
    parser.add_argument("--overload", type=float, default=2.0)
    parser.add_argument("--stream-requests", type=int, default=20)
    parser.add_argument("--rss-rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--smoke", action="store_true", help="A bounded check, not a measure.")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    if args.smoke:
        args.preset, args.rates, args.duration, args.stream_requests = "barto-tiny", "4", 1, 2
        args.rss_rounds, args.max_new_tokens = 1, 4
    rates = [float(rate) for rate in args.rates.split(",")]
    texts = spanish_inputs(2000)
    results: dict[str, Any] = {"settings": vars(args) | {"output": str(args.output)}}
    with tempfile.TemporaryDirectory() as tmp:
        folder = build_model(args.preset, texts, Path(tmp) / "model")
        models = {"transformers": folder}
        if "ct2" in args.engines:
            from seq2seq_es.inference.ct2_export import export_ct2

            export_ct2(folder, Path(tmp) / "ct2", quantization="int8")
            models["ct2"] = Path(tmp) / "ct2"
        for engine in args.engines.split(","):
            process, url = served(models[engine], args, DEFAULT_BATCH, engine)
            try:
                asyncio.run(open_loop(url, texts, rates[0], 1.0, args.max_new_tokens))  # warm-up
                rows = []
                for rate in rates:
                    rows.append(
                        asyncio.run(open_loop(url, texts, rate, args.duration, args.max_new_tokens))
                    )
                    print(engine, json.dumps(rows[-1]), flush=True)
                results[engine] = {"rows": rows, "knee_rps": knee(rows)}
                if engine == "transformers":
                    middle = rates[len(rates) // 2]
                    rss = []
                    for _ in range(args.rss_rounds):
                        asyncio.run(
                            open_loop(url, texts, middle, args.duration, args.max_new_tokens)
                        )
                        rss.append(round(psutil.Process(process.pid).memory_info().rss / 2**20, 1))
                    results["rss_mb_after_rounds"] = rss
                    results["streaming"] = asyncio.run(
                        streaming_times(url, texts, args.stream_requests, args.max_new_tokens)
                    )
                    print("rss", rss, "streaming", results["streaming"], flush=True)
            finally:
                stop(process)
        overload = rates[-1] * args.overload
        for mode, batch in (("dynamic", DEFAULT_BATCH), ("batch-1", 1)):
            process, url = served(folder, args, batch, "transformers")
            try:
                row = asyncio.run(
                    open_loop(url, texts, overload, args.duration, args.max_new_tokens)
                )
            finally:
                stop(process)
            results[f"overload_{mode}"] = row
            print(mode, json.dumps(row), flush=True)
    dynamic, single = results["overload_dynamic"], results["overload_batch-1"]
    results["dynamic_over_batch1"] = round(
        dynamic["achieved_rps"] / max(single["achieved_rps"], 1e-9), 2
    )
    print(json.dumps(results, indent=2))
    print(f"ratio dynamic / batch-1 (achieved requests/s): {results['dynamic_over_batch1']:.2f}x")
    if args.output:
        args.output.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
