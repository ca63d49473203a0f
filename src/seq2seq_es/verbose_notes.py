"""Notes a run prints only with ``seq2seq-es --verbose``: for someone tuning, not running.

Why a switch set once at the entry point (as ``library_logs`` chooses quiet): the notes come
from deep in libraries (the training loop's MFU peak and where it came from), and threading a
flag through every command to reach them would put a terminal concern in every signature.
The figures themselves are never hidden: ``summary.json`` and ``metrics.jsonl`` record them.
"""

from __future__ import annotations

from rich.console import Console

_VERBOSE = {"on": False}


def set_verbose(on: bool) -> None:
    """Chosen by the entry point on every invocation (so one in-process run never leaks into
    the next)."""
    _VERBOSE["on"] = on


def verbose_note(message: str) -> None:
    """Print ``message`` dimmed on stderr if ``--verbose`` was given; the text is never markup."""
    if _VERBOSE["on"]:
        Console(stderr=True).print(message, style="dim", markup=False, highlight=False)
