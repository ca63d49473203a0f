"""Turn a task's records into (id, source, target, references) examples and model features.

Records come from local JSONL files, an offline export of a hub split, or the hub
itself (``datasets.load_dataset``); any failure to get them is a ``DataError`` naming
the data set and how to provide it locally, never a stack trace from ``datasets``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transformers import PreTrainedTokenizerBase

from seq2seq_es.errors import ConfigError, DataError
from seq2seq_es.files import iter_jsonl
from seq2seq_es.tasks.registry import TaskSpec, local_export

_FIELD = re.compile(r"\{([^{}]+)\}")
DIALOGUE_CONTEXT_TURNS = 3


@dataclass(frozen=True)
class Example:
    id: str
    source: str
    target: str
    references: tuple[str, ...]


def get_path(record: Any, dotted: str) -> Any:
    """Follow ``a.b.0`` through nested dicts and lists; KeyError(dotted) when absent."""
    node = record
    for part in dotted.split("."):
        if isinstance(node, list | tuple) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise KeyError(dotted)
    if node is None:
        raise KeyError(dotted)
    return node


def _text(value: Any) -> str:
    return " | ".join(str(v) for v in value) if isinstance(value, list | tuple) else str(value)


def render(template: str, record: dict[str, Any]) -> str:
    """Fill ``{field}`` / ``{a.b}`` placeholders; lists (e.g. dialogue turns) are joined with ' |
    '."""
    return _FIELD.sub(lambda m: _text(get_path(record, m.group(1))), template)


def references(task: TaskSpec, record: dict[str, Any], target: str) -> tuple[str, ...]:
    if not task.references_fields:
        return (target,)
    found: list[str] = []
    for path in task.references_fields:
        value = get_path(record, path)
        found.extend(str(v) for v in (value if isinstance(value, list | tuple) else [value]))
    unique = tuple(dict.fromkeys(r for r in found if r.strip()))
    return unique or (target,)


def in_validation(example_id: str, percent: int) -> bool:
    """Deterministic split of a single-file task: sha1 of the id, as the shared data was split."""
    return int(hashlib.sha1(example_id.encode("utf-8")).hexdigest(), 16) % 100 < percent


def _local_records(
    task: TaskSpec, data_dir: Path, split: str
) -> Iterator[tuple[str, dict[str, Any]]]:
    source = task.local
    assert source is not None
    relative = source.file if source.file else getattr(source, split, None)
    if relative is None:
        raise DataError(
            f"Task {task.name!r} has no {split!r} split in its local files "
            f"(it is evaluation-only: use it with `seq2seq-es eval`)."
        )
    path = data_dir / relative
    if not path.is_file():
        raise DataError(
            f"Task {task.name!r}: data file {path} not found. Pass the folder that holds "
            f"{relative} as data_dir=FOLDER (default ../shared/data)."
        )
    for line_no, record in enumerate(iter_jsonl(path), start=1):
        key = str(record.get(task.id_field, line_no)) if task.id_field else str(line_no)
        if source.file and (split == "validation") != in_validation(key, source.validation_percent):
            continue
        if source.file and split == "test":
            raise DataError(f"Task {task.name!r} splits one file into train/validation only.")
        yield f"{path}:{line_no}", record


def _hub_records(
    task: TaskSpec, data_dir: Path, split: str
) -> Iterator[tuple[str, dict[str, Any]]]:
    hub = task.hub
    assert hub is not None
    export = local_export(task, data_dir, split)
    if export.is_file():
        for line_no, record in enumerate(iter_jsonl(export), start=1):
            yield f"{export}:{line_no}", record
        return
    if split not in hub.splits:
        raise DataError(
            f"Task {task.name!r} has no {split!r} split on the hub; known: {sorted(hub.splits)}."
        )
    config, _, hub_split = hub.splits[split].rpartition(":")
    config = config or hub.config or ""
    where = f"{hub.dataset}" + (f" (config {config})" if config else "") + f", split {hub_split}"
    try:
        import datasets

        dataset = datasets.load_dataset(
            hub.dataset, config or None, split=hub_split, revision=hub.revision
        )
    except Exception as exc:  # datasets raises many types for offline / missing / gated data
        raise DataError(
            f"Task {task.name!r} needs the Hugging Face data set {where}, which could not be "
            f"loaded ({type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}). "
            f"To run offline, export the split as JSONL to {export} (one record per line, the data "
            f"set's own fields) and pass data_dir={data_dir}."
        ) from None
    for index, record in enumerate(dataset):
        yield f"{where}[{index}]", dict(record)


def _dialogue_turns(
    rows: Iterable[tuple[str, dict[str, Any]]],
) -> Iterator[tuple[str, dict[str, Any]]]:
    """MIAM-style utterance rows → (up to 3 previous turns → next turn) records."""
    history: list[str] = []
    dialogue = None
    for where, row in rows:
        if row.get("Dialogue_ID") != dialogue:
            dialogue, history = row.get("Dialogue_ID"), []
        utterance = f"{row.get('Speaker', '')}: {row.get('Utterance', '')}".strip(": ")
        if history:
            yield (
                where,
                {
                    "id": f"{dialogue}-{len(history)}",
                    "context": history[-DIALOGUE_CONTEXT_TURNS:],
                    "response": str(row.get("Utterance", "")),
                },
            )
        history.append(utterance)


def iter_examples(task: TaskSpec, data_dir: str | Path, split: str) -> Iterator[Example]:
    data_dir = Path(data_dir)
    rows = (
        _local_records(task, data_dir, split) if task.local else _hub_records(task, data_dir, split)
    )
    if task.builder == "dialogue_turns":
        rows = _dialogue_turns(rows)
    for index, (where, record) in enumerate(rows):
        try:
            source = render(task.source_template, record)
            target = _text(get_path(record, task.target_field))
            refs = references(task, record, target)
        except KeyError as exc:
            raise DataError(
                f"{where}: record has no field {exc.args[0]!r} needed by task {task.name!r} "
                f"(fields present: {sorted(record)})."
            ) from None
        key = str(record.get(task.id_field, index)) if task.id_field else f"{split}-{index}"
        yield Example(key, source, target, refs)


def load_examples(
    task: TaskSpec, data_dir: str | Path, split: str, limit: int | None = None
) -> list[Example]:
    """Read up to ``limit`` examples of ``split`` ("train", "validation" or "test")."""
    examples: list[Example] = []
    for example in iter_examples(task, data_dir, split):
        if limit is not None and len(examples) >= limit:
            break
        examples.append(example)
    if not examples:
        raise DataError(f"Task {task.name!r}: split {split!r} holds no examples.")
    return examples


def encode_examples(
    examples: list[Example], tokenizer: PreTrainedTokenizerBase, task: TaskSpec
) -> list[dict[str, list[int]]]:
    """Tokenize sources and targets with truncation to the task's lengths (labels padded later
    with -100)."""
    if not examples:
        raise ConfigError("No examples to encode.")
    sources = tokenizer(
        [e.source for e in examples], max_length=task.max_source_length, truncation=True
    )
    targets = tokenizer(
        text_target=[e.target for e in examples], max_length=task.max_target_length, truncation=True
    )
    return [
        {"input_ids": s, "labels": t}
        for s, t in zip(sources["input_ids"], targets["input_ids"], strict=True)
    ]


def pair_lengths(features: list[dict[str, list[int]]]) -> list[int]:
    """Source + target tokens of each encoded pair: what length-grouped batches sort by."""
    return [len(f["input_ids"]) + len(f["labels"]) for f in features]
