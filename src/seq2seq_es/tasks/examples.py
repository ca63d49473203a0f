"""Turn task records into (id, source, target, references) examples and model features."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transformers import PreTrainedTokenizerBase

from seq2seq_es.errors import DataError
from seq2seq_es.files import iter_jsonl
from seq2seq_es.tasks.registry import TaskSpec, task_file


@dataclass(frozen=True)
class Example:
    id: str
    source: str
    target: str
    references: tuple[str, ...]


def get_path(record: dict[str, Any], dotted: str) -> Any:
    """Follow ``a.b.0`` through nested dicts and lists."""
    node: Any = record
    for part in dotted.split("."):
        if isinstance(node, list) and part.isdigit():
            node = node[int(part)] if int(part) < len(node) else None
        elif isinstance(node, dict):
            node = node.get(part)
        else:
            node = None
        if node is None:
            raise KeyError(dotted)
    return node


def _render(template: str, record: dict[str, Any]) -> str:
    fields = {k: " | ".join(v) if isinstance(v, list) else v for k, v in record.items()}
    return template.format(**fields)


def load_examples(task: TaskSpec, data_dir: str | Path, split: str, limit: int | None = None) -> list[Example]:
    """Read up to ``limit`` examples of ``split`` ("train" or "validation")."""
    path = task_file(task, data_dir, split)
    if not path.is_file():
        raise DataError(f"Task {task.name!r}: data file {path} not found. Pass the folder that holds "
                        f"{task.train_file} with --data-dir (default ../shared/data).")
    examples: list[Example] = []
    for line_no, record in enumerate(iter_jsonl(path), start=1):
        if limit is not None and len(examples) >= limit:
            break
        try:
            source = _render(task.source_template, record)
            target = str(get_path(record, task.target_field))
            refs = get_path(record, task.references_field) if task.references_field else [target]
        except KeyError as exc:
            raise DataError(f"{path}: record {line_no} has no field {exc.args[0]!r} needed by task "
                            f"{task.name!r}.") from None
        examples.append(Example(str(record.get(task.id_field, line_no)), source, target,
                                tuple(str(r) for r in refs)))
    if not examples:
        raise DataError(f"{path}: no examples for task {task.name!r}.")
    return examples


def encode_examples(examples: list[Example], tokenizer: PreTrainedTokenizerBase, task: TaskSpec) -> list[dict[str, list[int]]]:
    """Tokenize sources and targets with truncation to the task's lengths."""
    sources = tokenizer([e.source for e in examples], max_length=task.max_source_length, truncation=True)
    targets = tokenizer(text_target=[e.target for e in examples], max_length=task.max_target_length, truncation=True)
    return [{"input_ids": s, "labels": t} for s, t in zip(sources["input_ids"], targets["input_ids"], strict=True)]
