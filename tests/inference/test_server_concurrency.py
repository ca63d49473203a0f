"""Counting and generation at once: no 5xx and exact token counts (the shared-tokenizer race).

The race this guards against: the server counted tokens and the batch worker decoded with
one fast tokenizer from two threads; each call writes its padding/truncation settings
into the shared Rust tokenizer, so the worker got unpadded batches (500s) and counts ran
truncated (a long text counted short, past the limit).
"""

from __future__ import annotations

import asyncio
import copy
import random
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from spanish_inputs import spanish_sentences

from seq2seq_es.inference.config import ServeConfig
from seq2seq_es.inference.engines import Engine, load_engine
from seq2seq_es.inference.http_server import serve_in_thread
from seq2seq_es.inference.server import create_app

TOKEN_LIMIT = 96


@pytest.fixture(scope="module")
def engine(tiny_bart_folder: Path) -> Engine:
    return load_engine(tiny_bart_folder)


def reference_counts(engine: Engine, texts: list[str]) -> list[int]:
    """Counts from a private copy of the tokenizer, computed before any concurrency starts."""
    tokenizer = copy.deepcopy(engine.tokenizer)
    return [len(ids) for ids in tokenizer(texts, padding=False, truncation=False)["input_ids"]]


def mixed_texts(count: int, seed: int) -> list[str]:
    """Short sentences and long ones (many sentences joined), shuffled."""
    rng = random.Random(seed)
    short = spanish_sentences(count, seed=seed)
    return [
        " ".join(spanish_sentences(rng.randint(8, 30), seed=seed + i)) if i % 3 == 0 else text
        for i, text in enumerate(short)
    ]


@pytest.fixture(scope="module")
def server(engine: Engine, tiny_bart_folder: Path) -> Iterator[str]:
    config = ServeConfig(
        model=str(tiny_bart_folder),
        limits={"max_inputs": 4, "max_input_tokens": TOKEN_LIMIT, "max_new_tokens": 4},
        batching={"max_batch_size": 16},
    )
    with serve_in_thread(create_app({"default": engine}, config)) as url:
        yield url


def test_hundreds_of_concurrent_requests_get_no_5xx_and_exact_counts(
    server: str, engine: Engine
) -> None:
    rng = random.Random(7)
    texts = mixed_texts(240, seed=50)
    counts = dict(zip(texts, reference_counts(engine, texts), strict=True))
    requests = [
        (texts[i : i + rng.randint(1, 4)], rng.randint(1, 4)) for i in range(0, len(texts), 2)
    ]

    async def send_all() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=48)
        async with httpx.AsyncClient(base_url=server, timeout=300, limits=limits) as session:
            return await asyncio.gather(
                *(
                    session.post(
                        "/v1/generate",
                        json={"inputs": inputs, "options": {"max_new_tokens": new, "num_beams": 1}},
                    )
                    for inputs, new in requests
                )
            )

    responses = asyncio.run(send_all())
    statuses = [response.status_code for response in responses]
    assert not [status for status in statuses if status >= 500]
    assert 200 in statuses and 422 in statuses  # both paths were exercised
    for (inputs, _), response in zip(requests, responses, strict=True):
        too_long = [text for text in inputs if counts[text] > TOKEN_LIMIT]
        if too_long:
            assert response.status_code == 422, response.text
            first = next(i for i, text in enumerate(inputs) if counts[text] > TOKEN_LIMIT)
            assert f"inputs.{first}: {counts[inputs[first]]:,} tokens" in response.json()["error"]
        else:
            assert response.status_code == 200, response.text
            outputs = response.json()["outputs"]
            assert [o["input_tokens"] for o in outputs] == [counts[text] for text in inputs]
    metrics = httpx.get(server + "/metrics").text
    assert 'status="5' not in metrics


class BrokenEngine:
    """A real engine whose decoding fails (a bug in an engine, out of memory, ...)."""

    def __init__(self, engine: Engine) -> None:
        self.name, self.tokenizer, self.max_source_length = (
            engine.name,
            engine.tokenizer,
            engine.max_source_length,
        )

    def generate(
        self, texts: object, options: object, control: object = None
    ) -> list[dict[str, object]]:
        raise RuntimeError("the engine broke")


def test_an_engine_failure_is_a_json_500_counted_in_metrics(
    engine: Engine, tiny_bart_folder: Path
) -> None:
    config = ServeConfig(model=str(tiny_bart_folder))
    with serve_in_thread(create_app({"default": BrokenEngine(engine)}, config)) as url:
        response = httpx.post(url + "/v1/generate", json={"inputs": ["hola"]}, timeout=60)
        metrics = httpx.get(url + "/metrics", timeout=60).text
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert "Internal server error" in response.json()["error"]
    assert 'seq2seq_es_requests_total{path="/v1/generate",status="500"} 1.0' in metrics
