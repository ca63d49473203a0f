"""schemathesis (``--checks all``, bounded) against the served OpenAPI schema of ``serve``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from schemathesis_runner import run_schemathesis
from seq2seq_es.inference.config import ServeConfig
from seq2seq_es.inference.engines import load_engine
from seq2seq_es.inference.http_server import serve_in_thread
from seq2seq_es.inference.server import create_app


@pytest.fixture(scope="module")
def url(tiny_t5_folder: Path, tiny_bart_folder: Path) -> Iterator[str]:
    engines = {"default": load_engine(tiny_t5_folder), "translate": load_engine(tiny_bart_folder)}
    config = ServeConfig(
        model=str(tiny_t5_folder),
        limits={"max_inputs": 2, "max_new_tokens": 4, "max_num_beams": 2, "max_input_chars": 200},
        # the server-wide decoding a request without options gets: the schema is under test, not
        # the models' own defaults (hundreds of ms a request with them)
        generation={"max_new_tokens": 4, "num_beams": 1},
    )
    with serve_in_thread(create_app(engines, config)) as base:
        yield base


def test_schemathesis_finds_nothing_in_the_inference_server(url: str, tmp_path: Path) -> None:
    result = run_schemathesis(url, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
