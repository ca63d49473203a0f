"""Library log chatter off the terminal (unless ``--debug``): chosen once, at the entry point.

Why a module: transformers reads environment variables when it is imported, but
datatrove resets loguru to an INFO sink on stderr *when it is imported* — after the CLI
has quieted it. The entry point calls ``quiet_library_logs``; a command that imports
datatrove calls ``requiet_after_import`` once it has.
"""

from __future__ import annotations

import logging
import os

_QUIET = {"on": False}


def _warnings_to_stderr() -> None:
    from loguru import logger
    from rich.console import Console

    console = Console(stderr=True)
    logger.remove()
    logger.add(
        lambda message: console.print(message, end="", highlight=False, markup=False),
        level="WARNING",
    )


def quiet_library_logs() -> None:
    """Keep the terminal for our progress bars: only warnings and errors from the libraries."""
    _QUIET["on"] = True
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    _warnings_to_stderr()
    logging.getLogger("datatrove").setLevel(logging.WARNING)


def requiet_after_import() -> None:
    """Undo a library's import-time logging setup (datatrove's), if the entry point asked for
    quiet."""
    if _QUIET["on"]:
        _warnings_to_stderr()
