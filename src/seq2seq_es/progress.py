"""The one Rich progress bar every long step shows (training, generation, scoring).

Why a module of its own: the training loop and generation both show progress, and
neither should import the other for it.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


def progress_bar(console: Console | None = None, auto_refresh: bool = True) -> Progress:
    """A bar with a description, the count done of the total, a status field and the time left.

    ``console``: where the bar is drawn (default stdout); stderr when stdout carries data.
    ``auto_refresh=False``: no refresh thread, the bar is redrawn on each update (for work that
    forks worker processes: a thread holding the console's lock at a fork is a risk the
    children inherit).
    """
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeRemainingColumn(),
        console=console,
        auto_refresh=auto_refresh,
    )
