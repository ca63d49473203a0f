"""Limits a client can run into: long inputs (refused or visibly truncated), slow or too many
connections (closed), over real sockets on loopback."""

from __future__ import annotations

import json
import shutil
import socket
import time
from pathlib import Path

import httpx
import pytest

from seq2seq_es.inference.config import ServeConfig
from seq2seq_es.inference.engines import Engine, load_engine
from seq2seq_es.inference.http_server import serve_in_thread
from seq2seq_es.inference.server import create_app

SOURCE_LENGTH = 12


@pytest.fixture(scope="module")
def short_engine(tiny_bart_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """The tiny BART with a source length of 12 tokens (as a model trained on short inputs)."""
    folder = tmp_path_factory.mktemp("short") / "model"
    shutil.copytree(tiny_bart_folder, folder)
    config_file = folder / "tokenizer_config.json"
    tokenizer_config = json.loads(config_file.read_text(encoding="utf-8"))
    config_file.write_text(json.dumps(tokenizer_config | {"model_max_length": SOURCE_LENGTH}))
    engine = load_engine(folder)
    assert engine.max_source_length == SOURCE_LENGTH
    return engine


LONG = "el niño come pan en la casa con el perro y la niña bebe agua por la tarde"
SHORT = "el niño come"
FEW = {"max_new_tokens": 4}  # the tests check limits, not decoding: keep the work small


def test_an_input_longer_than_the_source_length_is_refused_by_default(
    short_engine: Engine, tiny_bart_folder: Path
) -> None:
    config = ServeConfig(model=str(tiny_bart_folder))
    assert config.limits.long_inputs == "refuse"
    length = len(short_engine.tokenizer(LONG)["input_ids"])
    assert length > SOURCE_LENGTH
    with serve_in_thread(create_app({"default": short_engine}, config)) as url:
        refused = httpx.post(
            url + "/v1/generate", json={"inputs": [SHORT, LONG], "options": FEW}, timeout=60
        )
        accepted = httpx.post(
            url + "/v1/generate", json={"inputs": [SHORT], "options": FEW}, timeout=60
        )
    assert refused.status_code == 422
    message = refused.json()["error"]
    assert (
        f"inputs.1: {length} tokens" in message and f"source length of {SOURCE_LENGTH}" in message
    )
    assert accepted.status_code == 200 and accepted.json()["outputs"][0]["truncated"] is False


def test_with_long_inputs_truncate_the_output_says_it_was_truncated(
    short_engine: Engine, tiny_bart_folder: Path
) -> None:
    config = ServeConfig(model=str(tiny_bart_folder), limits={"long_inputs": "truncate"})
    with serve_in_thread(create_app({"default": short_engine}, config)) as url:
        response = httpx.post(
            url + "/v1/generate", json={"inputs": [SHORT, LONG], "options": FEW}, timeout=60
        )
    assert response.status_code == 200, response.text
    assert [o["truncated"] for o in response.json()["outputs"]] == [False, True]


def read_all(sock: socket.socket, deadline: float, into: bytearray | None = None) -> bytes | None:
    """What the server sent until it closed the connection; None if still open at deadline.

    ``into`` keeps what has arrived across calls: a 408 can arrive before the close, and a
    short read that timed out in between must not lose it (the next call sees only the EOF).
    """
    received = bytearray() if into is None else into
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            return None
        except ConnectionResetError:
            return bytes(received)
        if not chunk:
            return bytes(received)
        received += chunk
    return None


def test_slow_drip_connections_are_answered_408_and_closed(
    short_engine: Engine, tiny_bart_folder: Path
) -> None:
    config = ServeConfig(model=str(tiny_bart_folder), limits={"read_timeout_s": 1.0})
    head = b"POST /v1/generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    with serve_in_thread(create_app({"default": short_engine}, config)) as url:
        port = int(url.rsplit(":", 1)[1])
        socks = [socket.create_connection(("127.0.0.1", port), timeout=0.5) for _ in range(20)]
        silent = socket.create_connection(("127.0.0.1", port), timeout=0.5)
        # 10 drip their headers, 10 send the headers whole and drip their body, a byte at a time
        for i, sock in enumerate(socks):
            sock.sendall(head[:3] if i < 10 else head + b"Content-Length: 40\r\n\r\n{")
        answers: dict[int, bytes] = {}
        arrived = [bytearray() for _ in socks]
        stop = time.monotonic() + 20
        while len(answers) < len(socks) and time.monotonic() < stop:
            # as a client does: read what has come, then send the next byte
            for i, sock in enumerate(socks):
                if i in answers:
                    continue
                answer = read_all(sock, time.monotonic() + 0.05, arrived[i])
                if answer is not None:
                    answers[i] = answer
                    continue
                try:
                    sock.sendall(b" ")
                except OSError as error:
                    answer = read_all(sock, time.monotonic() + 5, arrived[i])
                    answers[i] = answer or repr(error).encode()
        silent_answer = read_all(silent, time.monotonic() + 5)
        alive = httpx.post(
            url + "/v1/generate", json={"inputs": [SHORT], "options": FEW}, timeout=60
        )
        metrics = httpx.get(url + "/metrics", timeout=60).text
    for sock in [*socks, silent]:
        sock.close()
    assert len(answers) == len(socks), "some slow connections were still open after 20 s"
    wrong = {
        i: answer
        for i, answer in answers.items()
        if not (b" 408 " in answer and b"limits.read_timeout_s" in answer)
    }
    assert not wrong, wrong
    assert silent_answer == b""  # a connection that never sent a byte is just closed
    assert alive.status_code == 200
    assert 'seq2seq_es_requests_total{path="connection",status="408"} 10.0' in metrics
    assert 'seq2seq_es_requests_total{path="/v1/generate",status="408"} 10.0' in metrics


def test_connections_beyond_the_cap_get_a_json_503(
    short_engine: Engine, tiny_bart_folder: Path
) -> None:
    config = ServeConfig(model=str(tiny_bart_folder), limits={"max_connections": 3})
    with serve_in_thread(create_app({"default": short_engine}, config)) as url:
        port = int(url.rsplit(":", 1)[1])
        held = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(3)]
        time.sleep(0.2)  # the server has accepted them
        # as clients do: connect, send the request, read; the refusal must not be lost to a
        # reset (the server closing with the request unread)
        answers = []
        for _ in range(10):
            extra = socket.create_connection(("127.0.0.1", port), timeout=5)
            extra.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            answers.append(read_all(extra, time.monotonic() + 10))
            extra.close()
        for sock in held:
            sock.close()
        time.sleep(0.2)
        alive = httpx.get(url + "/health", timeout=60)
    refused = [a for a in answers if a and b" 503 " in a and b"limits.max_connections" in a]
    assert len(refused) == len(answers), answers
    assert alive.status_code == 200
