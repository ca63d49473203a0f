"""``seq2seq-es tasks``: the task registry as a table."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from seq2seq_es.commands.base import Command, Flag, no_output_dir
from seq2seq_es.commands.display import print_rows
from seq2seq_es.tasks.config import TasksConfig


def run(config: TasksConfig) -> dict[str, Any]:
    from seq2seq_es.tasks.registry import get_task, task_names

    rows = []
    for name in task_names():
        task = get_task(name)
        source = (
            (f"hub {task.hub.dataset}" + (f" ({task.hub.config})" if task.hub.config else ""))
            if task.hub
            else "local " + (task.local.file or task.local.validation or "")
            if task.local
            else ""
        )
        rows.append(
            {
                "task": name,
                "kind": task.kind,
                "source": source,
                "src/tgt": f"{task.max_source_length}/{task.max_target_length}",
                "metrics": ", ".join(task.metrics),
                "selection": task.selection_metric,
            }
        )
    return {"rows": rows, "wide": config.wide}


def show(result: dict[str, Any], console: Console) -> None:
    """Names never truncated: 80 columns get task, kind and selection metric as a table; --wide
    adds the rest, as one block per task when the table would not fit."""
    columns = (
        ["task", "kind", "source", "src/tgt", "metrics", "selection"]
        if result["wide"]
        else ["task", "kind", "selection"]
    )
    title = "registered tasks" + ("" if result["wide"] else " (--wide: sources, lengths, metrics)")
    rows = [[row[column] for column in columns] for row in result["rows"]]
    print_rows(console, title, columns, rows)


COMMANDS = [
    Command(
        "tasks",
        "List the registered tasks: kind and selection metric (--wide: source, lengths, metrics).",
        TasksConfig,
        run,
        show,
        output_dir=no_output_dir,
        flags=(Flag("wide", ("--wide",), "Show every column (source, lengths, metrics).", "bool"),),
    )
]
