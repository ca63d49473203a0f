"""Bounded work: the per-request budget, cancelled work (disconnects, decoding stopped between
steps), health under load, and a graceful SIGTERM of a real ``serve`` process."""

from __future__ import annotations

import asyncio
import signal
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest
from spanish_inputs import spanish_sentences
from test_server import GatedEngine, free_port, start_serve

from seq2seq_es.inference.config import GenerationOptions, ServeConfig
from seq2seq_es.inference.decode_control import DecodeControl
from seq2seq_es.inference.engines import Engine, load_engine
from seq2seq_es.inference.http_server import serve_in_thread
from seq2seq_es.inference.server import create_app


@pytest.fixture(scope="module")
def engine(tiny_bart_folder: Path) -> Engine:
    return load_engine(tiny_bart_folder)


def test_a_request_over_the_work_budget_is_refused(engine: Engine, tiny_bart_folder: Path) -> None:
    config = ServeConfig(model=str(tiny_bart_folder))
    assert config.limits.max_work == 16_384
    body = {"inputs": ["hola"] * 32, "options": {"num_beams": 8, "max_new_tokens": 256}}
    with serve_in_thread(create_app({"default": engine}, config)) as url:
        refused = httpx.post(url + "/v1/generate", json=body, timeout=60)
    assert refused.status_code == 422
    assert "32 inputs × 8 beams × 256 new tokens = 65,536" in refused.json()["error"]
    assert "limits.max_work = 16,384" in refused.json()["error"]


class StepCounter:
    """A DecodeControl that asks to stop after ``steps`` tokens of a one-text decoding."""

    def __init__(self, steps: int) -> None:
        self.steps, self.seen = steps, 0

    def on_token(self, token_id: int) -> None:
        self.seen += 1

    def should_stop(self) -> bool:
        return self.seen >= self.steps


def test_the_engine_stops_between_steps_when_asked(engine: Engine) -> None:
    text = spanish_sentences(1, seed=3)
    options = GenerationOptions(max_new_tokens=30, num_beams=1, do_sample=True, seed=1)
    whole = engine.generate(text, options)[0]["tokens"]
    assert whole > 6
    control = StepCounter(3)
    stopped = engine.generate(text, options, DecodeControl(control.should_stop, control.on_token))
    assert stopped[0]["tokens"] <= 4 < whole


def test_a_disconnected_client_leaves_the_queue_and_health_reports_the_load(
    engine: Engine, tiny_bart_folder: Path
) -> None:
    gated = GatedEngine(engine)
    config = ServeConfig(model=str(tiny_bart_folder), limits={"degraded_queued_inputs": 1})
    body = b'{"inputs": ["el perro", "la casa"], "options": {"max_new_tokens": 2}}'
    raw = (
        b"POST /v1/generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    with serve_in_thread(create_app({"default": gated}, config)) as url:
        port = int(url.rsplit(":", 1)[1])

        async def scenario() -> tuple[Any, ...]:
            async with httpx.AsyncClient(base_url=url, timeout=60) as client:
                busy = asyncio.ensure_future(client.post("/v1/generate", json={"inputs": ["uno"]}))
                while not gated.entered.is_set():
                    await asyncio.sleep(0.01)
                leaving = socket.create_connection(("127.0.0.1", port))
                leaving.sendall(raw)
                while (await client.get("/health")).json()["queued_texts"]["default"] < 2:
                    await asyncio.sleep(0.02)
                loaded = (await client.get("/health")).json()
                not_ready = await client.get("/health/ready")
                leaving.close()  # the client gives up while its request waits
                while (await client.get("/health")).json()["queued_texts"]["default"] > 0:
                    await asyncio.sleep(0.02)
                gated.gate.set()
                answered = await busy
                ready = await client.get("/health/ready")
                metrics = (await client.get("/metrics")).text
                return loaded, not_ready, answered, ready, metrics

        loaded, not_ready, answered, ready, metrics = asyncio.run(scenario())
    assert loaded["status"] == "degraded" and loaded["queued_texts"]["default"] == 2
    assert not_ready.status_code == 503 and "degraded" in not_ready.json()["error"]
    assert answered.status_code == 200 and ready.status_code == 200
    assert gated.calls == [["uno"]]  # the abandoned request was never decoded
    assert 'seq2seq_es_cancelled_requests_total{model="default",reason="disconnect"} 1.0' in (
        metrics
    )


def test_sigterm_answers_every_open_request_then_exits(tiny_bart_folder: Path) -> None:
    port = free_port()
    process = start_serve(
        tiny_bart_folder, port, "limits.shutdown_grace_s=0.3", "batching.max_batch_size=4"
    )
    try:
        url = f"http://127.0.0.1:{port}"
        texts = spanish_sentences(4, seed=30)
        body = {"inputs": texts, "options": {"max_new_tokens": 256, "num_beams": 4}}

        async def scenario() -> tuple[list[Any], None]:
            async with httpx.AsyncClient(base_url=url, timeout=120) as client:
                sent = [asyncio.ensure_future(client.post("/v1/generate", json=body))]
                sent += [
                    asyncio.ensure_future(client.post("/v1/generate", json=body)) for _ in range(11)
                ]
                while (await client.get("/health")).json()["queued_texts"]["default"] < 16:
                    await asyncio.sleep(0.05)
                process.send_signal(signal.SIGTERM)
                answers = await asyncio.gather(*sent, return_exceptions=True)
                return list(answers), None

        answers, _ = asyncio.run(scenario())
        out, err = process.communicate(timeout=120)  # bounded: the grace period, then 503s
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert not [a for a in answers if isinstance(a, BaseException)], answers
    statuses = sorted(a.status_code for a in answers)
    assert set(statuses) <= {200, 503} and 503 in statuses, statuses
    assert all("shutting down" in a.json()["error"] for a in answers if a.status_code == 503)
    assert process.returncode == 0, err
    assert "(stopped)" in out
