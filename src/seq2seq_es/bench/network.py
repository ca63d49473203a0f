"""Which cells need the Hugging Face Hub, and whether it can be reached.

Why: the paper's grid names its models and data sets by hub id. On a machine without
network those cells cannot run, and that is a fact to list ("needs network"), not an
error that stops the other cells. A model already in the local hub cache, or a hub
task with an offline export of its splits (``<data_dir>/<task>/<split>.jsonl``), runs
offline. (The ``datasets`` cache is not consulted: export the splits to run offline.)
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from seq2seq_es.tasks.registry import TaskSpec, local_export

HUB_HOST = "huggingface.co"


def hub_reachable(mode: str, timeout: float = 3.0) -> bool:
    """``online``/``offline`` as configured; ``auto``: the HF offline variables, then a TCP
    connect."""
    if mode != "auto":
        return mode == "online"
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False
    try:
        with socket.create_connection((HUB_HOST, 443), timeout=timeout):
            return True
    except OSError:
        return False


def is_hub_id(name: str) -> bool:
    """``org/name`` that is not a local path (presets and folders are local)."""
    if Path(name).exists() or name.startswith((".", "/", "~")) or "{" in name:
        return False
    return name.count("/") == 1


def model_in_cache(repo_id: str) -> bool:
    """The model's config is in the local hub cache (then it loads offline)."""
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)


def model_needs(name: str) -> list[str]:
    """What fetching ``name`` needs from the hub (empty: it is local or cached)."""
    return [f"model {name}"] if is_hub_id(name) and not model_in_cache(name) else []


def task_needs(task: TaskSpec, data_dir: str | Path, splits: list[str]) -> list[str]:
    """The hub data set of ``task`` unless every needed split has an offline export."""
    if task.hub is None or all(local_export(task, data_dir, split).is_file() for split in splits):
        return []
    return [f"data set {task.hub.dataset}"]
