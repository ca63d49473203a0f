"""``seq2seq-es serve model=DIR``: the HTTP API (``/v1/generate``) and the web page (``/``).

The command is where the layers meet: it opens the engines from the folders named in the
config (nothing else can be loaded later; each decodes as its folder says), hands the page
the registry's source templates, sets torch's thread count (process-wide, so here and
nowhere below) and runs uvicorn until Ctrl-C.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from rich.console import Console

from seq2seq_es.commands.base import Command, no_output_dir
from seq2seq_es.inference.config import ServeConfig

if TYPE_CHECKING:
    from seq2seq_es.inference.engines import Engine
    from seq2seq_es.inference.web.page import PageTask


def page_tasks() -> list[PageTask]:
    """The page's tasks, with inputs shaped by the registry's source templates."""
    from seq2seq_es.inference.web.page import default_page_tasks
    from seq2seq_es.tasks.registry import DIALOGUE, QA_TEMPLATE

    return default_page_tasks(
        qa_template=QA_TEMPLATE, dialogue_template=str(DIALOGUE["source_template"])
    )


def open_engines(config: ServeConfig) -> dict[str, Engine]:
    """Every configured folder opened with the configured engine, by served name."""
    from seq2seq_es.inference.engines import load_engine

    return {
        name: load_engine(folder, config.engine, config.threads)
        for name, folder in config.model_folders().items()
    }


def run(config: ServeConfig) -> dict[str, Any]:
    """Bind the port, then load the models (a busy port is refused before a minute of
    loading), then serve on that socket until Ctrl-C."""
    from seq2seq_es.inference.listen import listening_socket

    sock = listening_socket(config.host, config.port)
    port = sock.getsockname()[1]  # port=0: the free one it got
    with sock:  # uvicorn closes it when it stops; this closes it if loading fails
        import torch

        from seq2seq_es.inference.http_server import build_server
        from seq2seq_es.inference.server import create_app

        if config.threads is not None:
            torch.set_num_threads(config.threads)
        app = create_app(open_engines(config), config, page_tasks())
        server = build_server(app, config.limits, config.host, config.port, config.log_level)
        with contextlib.suppress(
            KeyboardInterrupt
        ):  # uvicorn re-raises Ctrl-C after its graceful shutdown
            server.run(sockets=[sock])
    return {"url": f"http://{config.host}:{port}/", "models": config.model_folders()}


def show(result: dict[str, Any], console: Console) -> None:
    console.print(f"served {', '.join(result['models'])} at {result['url']} (stopped)")


COMMANDS = [
    Command(
        "serve",
        "Serve models over HTTP: POST /v1/generate, /health, /metrics and a web page at /.",
        ServeConfig,
        run,
        show,
        output_dir=no_output_dir,
        positional_help="Overrides such as model=runs/finetune/model port=8000 engine=ct2 "
        "models.translate=DIR limits.max_new_tokens=128.",
    )
]
