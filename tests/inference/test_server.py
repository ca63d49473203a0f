"""The HTTP server over loopback (uvicorn in a thread, or ``serve`` in a subprocess) with real
models."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from spanish_inputs import spanish_sentences

from seq2seq_es.inference.batching import DynamicBatcher, QueueFull
from seq2seq_es.inference.config import GenerationOptions, ServeConfig
from seq2seq_es.inference.decode_control import NO_CONTROL, DecodeControl
from seq2seq_es.inference.engines import Engine, load_engine
from seq2seq_es.inference.http_server import serve_in_thread
from seq2seq_es.inference.server import create_app

LIMITS = {
    "max_inputs": 4,
    "max_input_chars": 2000,
    "max_input_tokens": 64,
    "max_new_tokens": 16,
    "max_num_beams": 4,
    "max_request_bytes": 262_144,
    "request_timeout_s": 120,
}


class GatedEngine:
    """A real engine whose generate calls wait for ``gate`` (to hold the model busy on purpose)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.name, self.tokenizer, self.max_source_length = (
            engine.name,
            engine.tokenizer,
            engine.max_source_length,
        )
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.calls: list[list[str]] = []

    def generate(
        self,
        texts: Sequence[str],
        options: GenerationOptions,
        control: DecodeControl = NO_CONTROL,
    ) -> list[dict[str, Any]]:
        self.calls.append(list(texts))
        self.entered.set()
        assert self.gate.wait(60), "the test never opened the gate"
        return self.engine.generate(texts, options, control)


@pytest.fixture(scope="module")
def engines(tiny_t5_folder: Path, tiny_bart_folder: Path) -> dict[str, Engine]:
    return {"default": load_engine(tiny_t5_folder), "translate": load_engine(tiny_bart_folder)}


@pytest.fixture(scope="module")
def server(engines: dict[str, Engine], tiny_t5_folder: Path) -> Iterator[str]:
    config = ServeConfig(model=str(tiny_t5_folder), limits=LIMITS)
    with serve_in_thread(create_app(engines, config)) as url:
        yield url


@pytest.fixture()
def client(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=120) as session:
        yield session


def test_generate_answers_what_the_engine_answers(
    client: httpx.Client, engines: dict[str, Engine]
) -> None:
    texts = spanish_sentences(3, seed=3)
    response = client.post(
        "/v1/generate",
        json={"inputs": texts, "options": {"max_new_tokens": 8, "output_scores": True}},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    expected = engines["default"].generate(
        texts, GenerationOptions(max_new_tokens=8, output_scores=True)
    )
    assert body["model"] == "default" and body["latency_ms"] > 0
    assert [o["text"] for o in body["outputs"]] == [e["text"] for e in expected]
    assert [o["tokens"] for o in body["outputs"]] == [e["tokens"] for e in expected]
    assert [o["score"] for o in body["outputs"]] == pytest.approx(
        [e["score"] for e in expected], abs=1e-4
    )


def test_a_request_picks_a_served_model_by_name(
    client: httpx.Client, engines: dict[str, Engine]
) -> None:
    text = spanish_sentences(1, seed=4)
    response = client.post(
        "/v1/generate",
        json={
            "inputs": text,
            "model": "translate",
            "options": {"max_new_tokens": 6, "num_beams": 2},
        },
    )
    assert response.status_code == 200, response.text
    expected = engines["translate"].generate(text, GenerationOptions(max_new_tokens=6, num_beams=2))
    assert response.json()["model"] == "translate"
    assert response.json()["outputs"][0]["text"] == expected[0]["text"] != ""


JSON = {"Content-Type": "application/json"}
BAD_REQUESTS: list[tuple[str, dict[str, Any], int, str]] = [
    ("invalid JSON", {"content": b'{"inputs": [', "headers": JSON}, 422, "not valid JSON"),
    (
        "no content type",
        {"content": b'{"inputs": ["hola"]}'},
        422,
        "Content-Type: application/json",
    ),
    ("not an object", {"json": ["hola"]}, 422, "not a JSON object"),
    (
        "bytes that are not UTF-8",
        {"content": '{"inputs": ["niño"]}'.encode("latin-1"), "headers": JSON},
        400,
        "UTF-8",
    ),
    ("no inputs", {"json": {"options": {}}}, 422, "inputs: Field required"),
    ("empty list", {"json": {"inputs": []}}, 422, "at least 1 item"),
    ("empty text", {"json": {"inputs": [""]}}, 422, "at least 1 character"),
    ("whitespace text", {"json": {"inputs": [" \n\t "]}}, 422, "only whitespace"),
    ("too many texts", {"json": {"inputs": ["hola"] * 5}}, 422, "at most 4 items"),
    ("1 MB text", {"json": {"inputs": ["a" * 1_000_000]}}, 413, "larger than 262,144 bytes"),
    (
        "text over the character limit",
        {"json": {"inputs": ["casa " * 500]}},
        422,
        "at most 2000 characters",
    ),
    (
        "text over the token limit",
        {"json": {"inputs": ["el niño come pan " * 40]}},
        422,
        "limits.max_input_tokens",
    ),
    (
        "negative max_new_tokens",
        {"json": {"inputs": ["hola"], "options": {"max_new_tokens": -1}}},
        422,
        "greater than or equal to 1",
    ),
    (
        "huge max_new_tokens",
        {"json": {"inputs": ["hola"], "options": {"max_new_tokens": 10**30}}},
        422,
        "less than or equal to 16",
    ),
    (
        "max_new_tokens over the limit",
        {"json": {"inputs": ["hola"], "options": {"max_new_tokens": 17}}},
        422,
        "less than or equal to 16",
    ),
    (
        "too many beams",
        {"json": {"inputs": ["hola"], "options": {"num_beams": 100}}},
        422,
        "less than or equal to 4",
    ),
    (
        "zero temperature",
        {"json": {"inputs": ["hola"], "options": {"do_sample": True, "temperature": 0}}},
        422,
        "options.temperature",
    ),
    (
        "NaN temperature",
        {"content": b'{"inputs": ["hola"], "options": {"temperature": NaN}}', "headers": JSON},
        422,
        "finite number",
    ),
    ("top_p of 0", {"json": {"inputs": ["hola"], "options": {"top_p": 0}}}, 422, "options.top_p"),
    ("negative seed", {"json": {"inputs": ["hola"], "options": {"seed": -3}}}, 422, "options.seed"),
    ("unknown field", {"json": {"inputs": ["hola"], "prompt": "x"}}, 422, "prompt: unknown field"),
    (
        "unknown option",
        {"json": {"inputs": ["hola"], "options": {"beams": 2}}},
        422,
        "options.beams: unknown field",
    ),
    ("text instead of a list", {"json": {"inputs": "hola"}}, 422, "valid list"),
    ("number instead of a text", {"json": {"inputs": [5]}}, 422, "valid string"),
    (
        "string instead of an integer",
        {"json": {"inputs": ["hola"], "options": {"max_new_tokens": "5"}}},
        422,
        "valid integer",
    ),
    (
        "string instead of a boolean",
        {"json": {"inputs": ["hola"], "options": {"do_sample": "yes"}}},
        422,
        "valid boolean",
    ),
    (
        "a path as the model",
        {"json": {"inputs": ["hola"], "model": "/etc/passwd"}},
        422,
        "model: Input should be",
    ),
    (
        "a relative path as the model",
        {"json": {"inputs": ["hola"], "model": "../model"}},
        422,
        "model:",
    ),
]


@pytest.mark.parametrize(
    ("case", "request_args", "status", "message"),
    BAD_REQUESTS,
    ids=[case for case, *_ in BAD_REQUESTS],
)
def test_bad_requests_get_a_4xx_that_says_what_is_wrong(
    client: httpx.Client, case: str, request_args: dict[str, Any], status: int, message: str
) -> None:
    response = client.post("/v1/generate", **request_args)
    assert response.status_code == status, response.text
    assert message in response.json()["error"]


def test_a_streamed_body_over_the_limit_is_refused_without_content_length(
    client: httpx.Client,
) -> None:
    def chunks() -> Iterator[bytes]:  # sent chunked: the size is known only while reading
        yield b'{"inputs": ["'
        for _ in range(20):
            yield b"a" * 65_536
        yield b'"]}'

    response = client.post("/v1/generate", content=chunks(), headers=JSON)
    assert response.status_code == 413 and "limits.max_request_bytes" in response.json()["error"]


def test_wrong_method_and_path_are_4xx(client: httpx.Client) -> None:
    assert client.get("/v1/generate").status_code == 405
    assert client.post("/v1/nothing", json={}).status_code == 404
    assert client.get("/static/../config.py").status_code == 404
    assert client.get("/static/server.py").status_code == 404


def test_after_every_bad_request_the_server_is_healthy_and_never_answered_5xx(
    client: httpx.Client,
) -> None:
    for _, request_args, _, _ in BAD_REQUESTS:
        client.post("/v1/generate", **request_args)
    assert client.get("/health").json()["status"] == "ok"
    assert (
        client.post(
            "/v1/generate", json={"inputs": ["hola"], "options": {"max_new_tokens": 2}}
        ).status_code
        == 200
    )
    metrics = client.get("/metrics").text
    statuses = [
        line for line in metrics.splitlines() if line.startswith("seq2seq_es_requests_total{")
    ]
    assert statuses and not [line for line in statuses if 'status="5' in line]


def test_openapi_schema_carries_the_configured_limits(client: httpx.Client) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    request, options = schemas["GenerateRequest"], schemas["GenerateOptions"]
    assert (
        request["additionalProperties"] is False
        and request["properties"]["inputs"]["maxItems"] == 4
    )
    assert request["properties"]["inputs"]["items"]["maxLength"] == 2000
    names = next(c for c in request["properties"]["model"]["anyOf"] if c.get("type") == "string")
    assert names["enum"] == ["default", "translate"]
    limit = next(
        c for c in options["properties"]["max_new_tokens"]["anyOf"] if c.get("type") == "integer"
    )
    assert limit["maximum"] == 16 and limit["minimum"] == 1


def test_models_and_metrics_endpoints(client: httpx.Client) -> None:
    models = client.get("/v1/models").json()
    assert [m["name"] for m in models["models"]] == ["default", "translate"]
    assert models["limits"]["max_new_tokens"] == 16
    client.post(
        "/v1/generate", json={"inputs": ["el perro", "la casa"], "options": {"max_new_tokens": 3}}
    )
    response = client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'seq2seq_es_requests_total{path="/v1/generate",status="200"}' in text
    assert 'seq2seq_es_batch_size_count{model="default"}' in text
    assert 'seq2seq_es_generated_tokens_total{model="default"}' in text


def test_concurrent_requests_each_get_their_own_answer(
    server: str, engines: dict[str, Engine]
) -> None:
    texts = spanish_sentences(10, seed=21)
    options = {"max_new_tokens": 6, "output_scores": True}

    async def send_all() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server, timeout=120) as session:
            return await asyncio.gather(
                *(
                    session.post("/v1/generate", json={"inputs": [text], "options": options})
                    for text in texts
                )
            )

    responses = asyncio.run(send_all())
    assert [r.status_code for r in responses] == [200] * len(texts)
    for text, response in zip(texts, responses, strict=True):
        alone = engines["default"].generate([text], GenerationOptions(**options))[0]
        answer = response.json()["outputs"][0]
        # Batched with others or not, an answer is its own text's (scores identify inputs).
        assert answer["score"] == pytest.approx(alone["score"], abs=1e-3)
        assert answer["text"] == alone["text"]


def run_batcher(
    engine: GatedEngine,
    submissions: list[tuple[list[str], GenerationOptions]],
    max_batch_size: int = 32,
) -> list[list[dict[str, Any]]]:
    """Hold the model busy with the first submission, queue the others, then let it run."""

    async def scenario() -> list[list[dict[str, Any]]]:
        batcher = DynamicBatcher(engine.generate, max_batch_size, max_wait_ms=0, max_queued=100)
        batcher.start()
        first = asyncio.ensure_future(batcher.submit(*submissions[0]))
        while not engine.entered.is_set():
            await asyncio.sleep(0.01)
        rest = [asyncio.ensure_future(batcher.submit(*item)) for item in submissions[1:]]
        while batcher.queued_texts < sum(len(texts) for texts, _ in submissions[1:]):
            await asyncio.sleep(0.01)
        engine.gate.set()
        results = await asyncio.gather(first, *rest)
        await batcher.stop()
        return list(results)

    return asyncio.run(scenario())


def test_batcher_merges_queued_requests_with_the_same_options(engines: dict[str, Engine]) -> None:
    engine = GatedEngine(engines["default"])
    greedy, beams = (
        GenerationOptions(max_new_tokens=5),
        GenerationOptions(max_new_tokens=5, num_beams=2),
    )
    sampled = GenerationOptions(max_new_tokens=5, do_sample=True, seed=1)
    texts = spanish_sentences(9, seed=8)
    plan = [
        ([texts[0]], greedy),
        ([texts[1]], greedy),
        ([texts[2]], beams),
        ([texts[3], texts[4]], greedy),
        ([texts[5]], sampled),
        ([texts[6]], beams),
        ([texts[7]], greedy),
        ([texts[8]], sampled),
    ]
    results = run_batcher(engine, plan)
    # The first alone (it kept the model busy); then the oldest queued request and all queued
    # requests with its options in one call; seeded requests always alone.
    assert engine.calls == [
        [texts[0]],
        [texts[1], texts[3], texts[4], texts[7]],
        [texts[2], texts[6]],
        [texts[5]],
        [texts[8]],
    ]
    for (request_texts, options), result in zip(plan, results, strict=True):
        assert [r["text"] for r in result] == [
            r["text"] for r in engines["default"].generate(request_texts, options)
        ]


def test_batcher_interleaves_chunks_of_large_requests_with_small_ones(
    engines: dict[str, Engine],
) -> None:
    engine = GatedEngine(engines["default"])
    options = GenerationOptions(max_new_tokens=3)
    texts = spanish_sentences(16, seed=9)
    big, other_big, small = texts[1:9], texts[9:15], texts[15:]
    plan = [([texts[0]], options), (big, options), (other_big, options), (small, options)]

    async def scenario() -> list[list[dict[str, Any]]]:
        batcher = DynamicBatcher(engine.generate, 4, max_wait_ms=0, max_queued=100, chunk_size=2)
        batcher.start()
        tasks = [asyncio.ensure_future(batcher.submit(*plan[0]))]
        while not engine.entered.is_set():
            await asyncio.sleep(0.01)
        tasks += [asyncio.ensure_future(batcher.submit(*item)) for item in plan[1:]]
        while batcher.queued_texts < 15:
            await asyncio.sleep(0.01)
        engine.gate.set()
        results = await asyncio.gather(*tasks)
        await batcher.stop()
        return list(results)

    results = asyncio.run(scenario())
    # Round-robin over requests in chunks of 2: every request's first chunk before any second.
    assert engine.calls == [
        [texts[0]],
        big[0:2] + other_big[0:2],
        small + big[2:4],
        other_big[2:4] + big[4:6],
        other_big[4:6] + big[6:8],
    ]
    for (request_texts, request_options), result in zip(plan, results, strict=True):
        assert [r["text"] for r in result] == [
            r["text"] for r in engines["default"].generate(request_texts, request_options)
        ]


def test_batcher_queue_limit_and_cancelled_requests(engines: dict[str, Engine]) -> None:
    engine = GatedEngine(engines["default"])
    options = GenerationOptions(max_new_tokens=3)

    async def scenario() -> None:
        batcher = DynamicBatcher(engine.generate, 8, max_wait_ms=0, max_queued=2)
        batcher.start()
        first = asyncio.ensure_future(batcher.submit(["uno"], options))
        while not engine.entered.is_set():
            await asyncio.sleep(0.01)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(batcher.submit(["dos", "tres"], options), 0.2)
        assert batcher.queued_texts == 0  # the timed-out request left the queue
        waiting = asyncio.ensure_future(batcher.submit(["dos", "tres"], options))
        await asyncio.sleep(0.05)
        with pytest.raises(QueueFull):
            await batcher.submit(["cuatro"], options)
        engine.gate.set()
        await asyncio.gather(first, waiting)
        await batcher.stop()

    asyncio.run(scenario())
    assert engine.calls == [["uno"], ["dos", "tres"]]


def test_a_saturated_server_answers_503_and_429_not_5xx_crashes(
    engines: dict[str, Engine], tiny_t5_folder: Path
) -> None:
    engine = GatedEngine(engines["default"])
    config = ServeConfig(
        model=str(tiny_t5_folder),
        limits=LIMITS | {"request_timeout_s": 0.5, "max_queued_inputs": 1},
    )
    with (
        serve_in_thread(create_app({"default": engine}, config)) as url,
        httpx.Client(base_url=url, timeout=60) as session,
    ):
        body = {"inputs": ["el niño come"], "options": {"max_new_tokens": 2}}
        busy = session.post("/v1/generate", json=body)  # holds the model until the gate opens
        assert busy.status_code == 503 and "request_timeout_s" in busy.json()["error"]
        assert busy.headers["retry-after"]

        async def overload() -> list[httpx.Response]:
            async with httpx.AsyncClient(base_url=url, timeout=60) as client:
                return await asyncio.gather(
                    *(client.post("/v1/generate", json=body) for _ in range(3))
                )

        statuses = sorted(r.status_code for r in asyncio.run(overload()))
        assert 429 in statuses and all(status in (429, 503) for status in statuses)
        engine.gate.set()
        assert session.post("/v1/generate", json=body).status_code == 200
        assert session.get("/health").status_code == 200


class SlowEngine(GatedEngine):
    """A real engine that takes at least ``seconds`` per generate call (a slow model)."""

    def __init__(self, engine: Engine, seconds: float) -> None:
        super().__init__(engine)
        self.seconds = seconds
        self.gate.set()

    def generate(
        self,
        texts: Sequence[str],
        options: GenerationOptions,
        control: DecodeControl = NO_CONTROL,
    ) -> list[dict[str, Any]]:
        time.sleep(self.seconds)
        return super().generate(texts, options, control)


def test_work_that_cannot_be_answered_in_time_is_refused_429_at_once(
    engines: dict[str, Engine], tiny_t5_folder: Path
) -> None:
    """Batch-1 serving, 0.2 s a text, a 2 s deadline: of 30 requests at once about 10 can be
    answered in time; the rest get a 429 with Retry-After instead of a 503 after waiting 2 s."""
    engine = SlowEngine(engines["default"], 0.2)
    config = ServeConfig(
        model=str(tiny_t5_folder),
        limits=LIMITS | {"request_timeout_s": 2.0},
        batching={"max_batch_size": 1},
    )
    body = {"inputs": ["el niño come"], "options": {"max_new_tokens": 2}}
    with serve_in_thread(create_app({"default": engine}, config)) as url:
        warm = [httpx.post(url + "/v1/generate", json=body, timeout=60) for _ in range(3)]

        async def flood() -> list[httpx.Response]:
            async with httpx.AsyncClient(base_url=url, timeout=60) as client:
                return await asyncio.gather(
                    *(client.post("/v1/generate", json=body) for _ in range(30))
                )

        answers = asyncio.run(flood())
    assert [r.status_code for r in warm] == [200, 200, 200]  # a cold server refuses nothing
    statuses = [r.status_code for r in answers]
    assert set(statuses) <= {200, 429, 503} and statuses.count(200) >= 3, statuses
    refused = [r for r in answers if r.status_code == 429]
    assert len(refused) >= 10, statuses
    assert all("limits.request_timeout_s" in r.json()["error"] for r in refused)
    assert all(int(r.headers["retry-after"]) >= 1 for r in refused)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_serve(folder: Path, port: int, *overrides: str) -> subprocess.Popen[str]:
    """``seq2seq-es serve`` on ``folder`` in a subprocess; returns once ``/health`` answers."""
    command = [
        sys.executable,
        "-m",
        "seq2seq_es.cli",
        "serve",
        f"model={folder}",
        f"port={port}",
        "threads=1",
        "log_level=warning",
        *overrides,
    ]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ | {"HF_HUB_OFFLINE": "1", "COLUMNS": "200"},
    )
    deadline = time.monotonic() + 300
    while True:
        assert process.poll() is None, process.communicate()[1]
        try:
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)
            return process
        except httpx.TransportError:
            assert time.monotonic() < deadline, "serve did not start"
            time.sleep(0.2)


def test_serve_command_runs_uvicorn_in_its_own_process(tiny_bart_folder: Path) -> None:
    port = free_port()
    process = start_serve(tiny_bart_folder, port)
    try:
        health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)
        assert health.json()["models"] == ["default"]
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
        assert page.status_code == 200 and "Responder una pregunta" in page.text
        assert "question: {question} context: {context}" in page.text  # the registry's QA template
        answer = httpx.post(
            f"http://127.0.0.1:{port}/v1/generate", json={"inputs": ["hola"]}, timeout=60
        )
        assert answer.status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert f"served default at http://127.0.0.1:{port}/ (stopped)" in out


def test_a_busy_port_is_refused_before_the_model_is_loaded(tmp_path: Path) -> None:
    """A port another socket listens on: exit 2 naming host:port and what to do. The model
    folder does not exist, so an answer about the port proves the port came first (before:
    the model was loaded, then uvicorn's raw line, exit 3)."""
    from typer.testing import CliRunner

    from seq2seq_es.cli import app

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(app, ["serve", f"model={tmp_path / 'nowhere'}", f"port={port}"])
    text = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert f"cannot listen on 127.0.0.1:{port}" in text and "port=0" in text, text
    assert "nowhere" not in text and "Traceback" not in text


def test_a_ctranslate2_export_is_served_with_engine_ct2(
    tiny_bart_folder: Path, tmp_path: Path, engines: dict[str, Engine]
) -> None:
    from seq2seq_es.commands.serve import open_engines
    from seq2seq_es.inference.ct2_export import export_ct2

    export_ct2(tiny_bart_folder, tmp_path / "ct2", quantization="float32")
    config = ServeConfig(model=str(tmp_path / "ct2"), engine="ct2", limits=LIMITS)
    served = open_engines(config)
    assert served["default"].name == "ct2"
    texts = spanish_sentences(4, seed=12)
    with serve_in_thread(create_app(served, config)) as url:
        response = httpx.post(
            url + "/v1/generate",
            json={"inputs": texts, "options": {"max_new_tokens": 6}},
            timeout=120,
        )
    assert response.status_code == 200, response.text
    answers = [o["text"] for o in response.json()["outputs"]]
    assert answers == [
        o["text"] for o in served["default"].generate(texts, GenerationOptions(max_new_tokens=6))
    ]
    # greedy on the fp32 export says what transformers says (the parity tests check this at scale)
    assert answers == [
        o["text"]
        for o in engines["translate"].generate(
            texts, GenerationOptions(max_new_tokens=6, num_beams=1)
        )
    ]
