"""Existing clients against the real server on loopback: ``huggingface_hub.InferenceClient``
(text_generation, streamed or not, translation, summarization) and a raw SSE reader of
TGI's ``/generate_stream``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from seq2seq_es.inference.config import GenerationOptions, ServeConfig
from seq2seq_es.inference.engines import Engine, load_engine
from seq2seq_es.inference.http_server import serve_in_thread
from seq2seq_es.inference.server import create_app

TEXT = "el niño come pan en la casa"
GREEDY = GenerationOptions(max_new_tokens=12, num_beams=1)


@pytest.fixture(scope="module")
def engines(tiny_bart_folder: Path, tiny_t5_folder: Path) -> dict[str, Engine]:
    return {"default": load_engine(tiny_bart_folder), "translate": load_engine(tiny_t5_folder)}


@pytest.fixture(scope="module")
def url(engines: dict[str, Engine], tiny_bart_folder: Path) -> Iterator[str]:
    config = ServeConfig(model=str(tiny_bart_folder), limits={"max_new_tokens": 32})
    with serve_in_thread(create_app(engines, config)) as base:
        yield base


def sse_events(url: str, path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """Every ``data:`` event of a server-sent-event response, read line by line as sent."""
    events = []
    with httpx.stream("POST", url + path, json=body, timeout=120) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data:"):
                events.append(json.loads(line.removeprefix("data:")))
            else:
                assert line == ""
    return events


def test_tgi_generate_and_generate_stream_agree_with_the_engine(
    url: str, engines: dict[str, Engine]
) -> None:
    expected = engines["default"].generate([TEXT], GREEDY)[0]
    body = {"inputs": TEXT, "parameters": {"max_new_tokens": 12, "details": True}}
    answer = httpx.post(url + "/generate", json=body, timeout=120)
    assert answer.status_code == 200, answer.text
    assert answer.json()["generated_text"] == expected["text"] != ""
    assert answer.json()["details"]["generated_tokens"] == expected["tokens"]

    events = sse_events(url, "/generate_stream", body)
    assert [event["index"] for event in events] == list(range(1, len(events) + 1))
    assert len(events) == expected["tokens"]  # one event per generated token
    assert all(event["generated_text"] is None for event in events[:-1])
    last = events[-1]
    assert last["generated_text"] == expected["text"]
    assert last["details"]["generated_tokens"] == expected["tokens"]
    streamed = "".join(e["token"]["text"] for e in events if not e["token"]["special"])
    assert streamed.strip() == expected["text"]
    assert {"id", "text", "logprob", "special"} == set(events[0]["token"])


def test_info_describes_the_model(url: str) -> None:
    info = httpx.get(url + "/info", timeout=60).json()
    assert info["model_id"] == "default" and info["model_pipeline_tag"] == "text2text-generation"
    assert info["max_total_tokens"] == info["max_input_tokens"] + 32


def test_inference_client_text_generation_translation_and_summarization(
    url: str, engines: dict[str, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import InferenceClient, constants

    # Offline mode (set for the whole suite) blocks every request of the client, loopback
    # included; this test talks only to the local server.
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)

    client = InferenceClient(base_url=url)
    expected = engines["default"].generate([TEXT], GREEDY)[0]["text"]
    assert client.text_generation(TEXT, max_new_tokens=12) == expected
    detailed = client.text_generation(TEXT, max_new_tokens=12, details=True)
    assert detailed.generated_text == expected and detailed.details.generated_tokens > 0
    tokens = list(client.text_generation(TEXT, max_new_tokens=12, stream=True))
    assert len(tokens) > 1 and "".join(tokens).strip() == expected
    assert client.summarization(TEXT, generate_parameters={"max_new_tokens": 12}).summary_text == (
        expected
    )
    translator = InferenceClient(base_url=url + "/models/translate")
    translated = engines["translate"].generate([TEXT], GREEDY)[0]["text"]
    answer = translator.translation(TEXT, generate_parameters={"max_new_tokens": 12})
    assert answer.translation_text == translated


def test_unimplemented_parameters_get_tgis_message_and_a_beam_stream_is_one_event(
    url: str, engines: dict[str, Engine]
) -> None:
    body = {"inputs": TEXT, "parameters": {"stop": ["."], "repetition_penalty": 1.3}}
    refused = httpx.post(url + "/generate", json=body, timeout=60)
    assert refused.status_code == 400
    assert (
        "The following `model_kwargs` are not used by the model: ['stop', 'repetition_penalty']"
        in (refused.json()["error"])
    )
    beams = {"inputs": TEXT, "parameters": {"num_beams": 2, "max_new_tokens": 12}}
    (event,) = sse_events(url, "/generate_stream", beams)
    expected = engines["default"].generate([TEXT], GREEDY.model_copy(update={"num_beams": 2}))
    assert event["generated_text"] == event["token"]["text"] == expected[0]["text"]
    assert httpx.post(url + "/models/nothing", json={"inputs": TEXT}, timeout=60).status_code == 404
