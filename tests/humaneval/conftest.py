"""Fixtures for human evaluation: predictions of two systems, studies, and a real server process."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.conftest import spanish_like_text, write_jsonl

from seq2seq_es.humaneval.config import CreateConfig
from seq2seq_es.humaneval.study import Study, create_study

_SCRIPT = Path(sys.executable).with_name("seq2seq-es")  # the console script users run
CLI = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-m", "seq2seq_es.cli"]


def perturb(text: str, rng: random.Random, changes: int) -> str:
    words = text.split()
    for _ in range(changes):
        words[rng.randrange(len(words))] = rng.choice(["gato", "mesa", "azul", "nunca", "quizá"])
    return " ".join(words)


def make_predictions(
    root: Path, n: int = 24, systems: tuple[str, ...] = ("base", "mejor"), seed: int = 0
) -> list[Path]:
    """predictions.jsonl of each system (in <root>/<system>/): the later systems change fewer
    words."""
    rng = random.Random(seed)
    examples = []
    for k in range(n):
        reference = spanish_like_text(rng, rng.randint(5, 10))
        examples.append(
            {
                "id": f"ej-{k:03d}",
                "source": f"source of {reference}",
                "reference": reference,
                "references": [reference],
            }
        )
    paths = []
    for rank, system in enumerate(systems):
        changes = len(systems) - rank
        rows = [{**e, "prediction": perturb(e["reference"], rng, changes)} for e in examples]
        paths.append(write_jsonl(root / system / "predictions.jsonl", rows))
    return paths


def new_study(
    root: Path,
    protocol: str = "translation",
    n_items: int = 12,
    annotators: int | list[str] = 2,
    repeat_share: float = 0.25,
    n_ids: int = 24,
    seed: int = 7,
) -> Study:
    paths = make_predictions(root / "systems", n=n_ids)
    return create_study(
        CreateConfig(
            predictions=[str(p) for p in paths],
            protocol=protocol,
            output_dir=str(root / "study"),
            n_items=n_items,
            annotators=annotators,
            repeat_share=repeat_share,
            seed=seed,
        )
    )


def tokens_of(study_dir: Path) -> dict[str, str]:
    return {
        a["name"]: a["token"]
        for a in json.loads((study_dir / "annotators.json").read_text("utf-8"))
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    """``humaneval serve`` run as users run it, in its own process on a loopback port."""

    study: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerProcess:
        self.process = subprocess.Popen(
            [*CLI, "humaneval", "serve", str(self.study), f"port={self.port}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        import httpx

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                stderr = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"server exited with {self.process.returncode}: {stderr}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("server did not answer /healthz within 30 s")

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, as in a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
        if self.process is not None and self.process.stderr:
            self.process.stderr.close()


@pytest.fixture(scope="session")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for the tests that only need their own annotators: five annotators, each test
    uses its own."""
    study = new_study(tmp_path_factory.mktemp("shared"), annotators=5)
    server = ServerProcess(study.path, free_port()).start()
    yield server
    server.kill()


@pytest.fixture
def server_factory() -> Iterator[type[ServerProcess]]:
    started: list[ServerProcess] = []

    class Factory(ServerProcess):
        def start(self) -> ServerProcess:
            started.append(self)
            return super().start()

    yield Factory
    for server in started:
        server.kill()
