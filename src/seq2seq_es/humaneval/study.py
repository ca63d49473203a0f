"""A study: items sampled from two or more systems' predictions, and each annotator's queue.

Why the design: the systems are *blind* (outputs are shown as "Salida 1", "Salida 2", in an
order drawn anew for every page and recorded, so position bias averages out and can be
checked), every annotator rates every item (a fully crossed design, which the agreement
statistics need) in an order of their own, and a share of items is shown a second time for
intra-annotator consistency: drawn from the first quarter of the queue and shown again in
the second half, so at least a quarter of the study lies between the two showings.

Layout of a study folder (created atomically; an existing non-empty folder is refused)::

    study.json        protocol, systems (files + sha256), items, queues (order of each page)
    annotators.json   name and secret token of each annotator (hand each one their token)
    ratings.sqlite    the ratings (see store.py)
    config.yaml, run_info.json
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seq2seq_es.errors import ConfigError, DataError
from seq2seq_es.files import iter_jsonl, set_umask_mode, write_json
from seq2seq_es.humaneval.config import CreateConfig, Protocol, load_protocol
from seq2seq_es.humaneval.store import DATABASE, init_store

STUDY_FILE = "study.json"
ANNOTATORS_FILE = "annotators.json"
FORMAT = "seq2seq-es-humaneval/1"


@dataclass(frozen=True)
class Item:
    """One example as annotators see it, with every system's output."""

    item: str
    id: str
    source: str
    references: list[str]
    outputs: dict[str, str]


@dataclass(frozen=True)
class Presentation:
    """One page of an annotator's queue: an item with its systems in display order."""

    position: int
    item: str
    order: list[str]
    repeat_of: int | None = None  # position of the first showing of a repeated item


@dataclass(frozen=True)
class Study:
    path: Path
    protocol: Protocol
    systems: list[str]
    items: dict[str, Item]
    queues: dict[str, list[Presentation]]
    tokens: dict[str, str]  # annotator → token
    seed: int
    pool_size: int  # ids common to all systems, the items were sampled from

    @property
    def database(self) -> Path:
        return self.path / DATABASE

    @property
    def asks_preference(self) -> bool:
        return self.protocol.pairwise_preference and len(self.systems) == 2


# ---------------------------------------------------------------- reading the systems' predictions


def _text(value: Any, path: Path, line: int, key: str) -> str:
    if not isinstance(value, str):
        raise DataError(
            f"{path}:{line}: field {key!r} must be a string, got {type(value).__name__}."
        )
    return value


def read_system(path: str | Path) -> dict[str, dict[str, Any]]:
    """``{id: {source, references, prediction, line}}`` of one predictions.jsonl, checked."""
    path = Path(path)
    rows: dict[str, dict[str, Any]] = {}
    for line, record in enumerate(
        iter_jsonl(path, required=("id", "source", "prediction")), start=1
    ):
        if not isinstance(record["id"], str | int) or isinstance(record["id"], bool):
            raise DataError(f"{path}: record {line}: 'id' must be a string or an integer.")
        key = str(record["id"])
        if key in rows:
            raise DataError(
                f"{path}: id {key!r} appears twice (records {rows[key]['line']} and {line}); "
                "ids must be unique."
            )
        refs = record.get("references")
        if refs is None:
            refs = [record["reference"]] if "reference" in record else []
        if not isinstance(refs, list):
            raise DataError(f"{path}: record {line}: 'references' must be a list of strings.")
        rows[key] = {
            "source": _text(record["source"], path, line, "source"),
            "prediction": _text(record["prediction"], path, line, "prediction"),
            "references": [_text(r, path, line, "references") for r in refs],
            "line": line,
        }
    if not rows:
        raise DataError(f"{path}: no predictions in the file.")
    return rows


def _preview(ids: set[str], limit: int = 5) -> str:
    shown = sorted(ids)[:limit]
    return ", ".join(repr(i) for i in shown) + (
        f" and {len(ids) - limit} more" if len(ids) > limit else ""
    )


def aligned_systems(
    paths: list[str], names: list[str]
) -> tuple[list[str], dict[str, dict[str, dict[str, Any]]]]:
    """Read every system; refuse files that do not cover the same ids with the same sources."""
    systems = {name: read_system(path) for name, path in zip(names, paths, strict=True)}
    first_name, first_path = names[0], Path(paths[0])
    base = systems[first_name]
    for name, path in zip(names[1:], paths[1:], strict=True):
        rows = systems[name]
        missing, extra = set(base) - set(rows), set(rows) - set(base)
        if missing or extra:
            parts = []
            if missing:
                parts.append(
                    f"{path} lacks {len(missing)} id(s) of {first_path}: {_preview(missing)}"
                )
            if extra:
                parts.append(
                    f"{path} has {len(extra)} id(s) that {first_path} lacks: {_preview(extra)}"
                )
            raise DataError(
                "The predictions files must cover the same ids (decode the same split with every "
                "system): " + "; ".join(parts) + "."
            )
        for key, row in rows.items():
            if row["source"] != base[key]["source"]:
                raise DataError(
                    f"{path}: record {row['line']} (id {key!r}) has a different source than "
                    f"{first_path} record {base[key]['line']}: the files are not predictions for "
                    "the same examples."
                )
    return sorted(base), systems


def system_names(paths: list[str]) -> list[str]:
    """Names from the paths: the folder of a ``predictions.jsonl``, else the file stem."""
    names = []
    for raw in paths:
        path = Path(raw)
        stem = path.name.split(".")[0]
        names.append(path.parent.name if stem == "predictions" and path.parent.name else stem)
    if len(set(names)) != len(names):
        raise ConfigError(
            f"The predictions files give duplicate system names {names}; "
            "pass systems=[name1,name2,...] to name them."
        )
    return names


# ---------------------------------------------------------------- sampling and queues


def repeat_count(n_items: int, share: float) -> int:
    """Repeated items: share of n rounded half up, at most a quarter of the items."""
    return min(int(share * n_items + 0.5), n_items // 4)


def build_queue(
    items: list[str], systems: list[str], n_repeats: int, rng: np.random.Generator
) -> list[Presentation]:
    """One annotator's pages: items in a random order, repeats in the second half, fresh system
    orders."""
    firsts = [items[k] for k in rng.permutation(len(items))]
    split = (len(firsts) + 1) // 2
    pool = max(1, len(firsts) // 4)
    repeated = (
        [int(k) for k in rng.choice(pool, size=n_repeats, replace=False)] if n_repeats else []
    )
    tail: list[tuple[str, int | None]] = [(item, None) for item in firsts[split:]]
    tail += [(firsts[k], k) for k in repeated]
    tail = [tail[k] for k in rng.permutation(len(tail))]
    pages = [(item, None) for item in firsts[:split]] + tail
    return [
        Presentation(position, item, [systems[k] for k in rng.permutation(len(systems))], repeat_of)
        for position, (item, repeat_of) in enumerate(pages)
    ]


def sample_items(ids: list[str], n_items: int, rng: np.random.Generator) -> list[str]:
    if n_items > len(ids):
        raise ConfigError(
            f"n_items={n_items} but the predictions have only {len(ids)} common ids; "
            f"lower n_items to at most {len(ids)}."
        )
    chosen = rng.choice(len(ids), size=n_items, replace=False)
    return [ids[int(k)] for k in chosen]


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def study_document(config: CreateConfig, protocol: Protocol) -> tuple[dict[str, Any], int]:
    """The content of study.json (everything but the secret tokens), and the repeat count."""
    names = config.systems or system_names(config.predictions)
    if len(set(names)) != len(names):
        raise ConfigError(f"System names must be unique, got {names}.")
    ids, systems = aligned_systems(config.predictions, names)
    rng = np.random.default_rng(config.seed)
    chosen = sample_items(ids, config.n_items, rng)
    width = len(str(len(chosen)))
    items = []
    for k, key in enumerate(chosen, start=1):
        first = systems[names[0]][key]
        items.append(
            {
                "item": f"i{k:0{width}d}",
                "id": key,
                "source": first["source"],
                "references": first["references"],
                "outputs": {name: systems[name][key]["prediction"] for name in names},
            }
        )
    n_repeats = repeat_count(len(items), config.repeat_share)
    item_names = [i["item"] for i in items]
    queues = {
        annotator: [vars(p) for p in build_queue(item_names, names, n_repeats, rng)]
        for annotator in config.annotator_names()
    }
    document = {
        "format": FORMAT,
        "protocol": protocol.model_dump(mode="json"),
        "seed": config.seed,
        "systems": [
            {"name": name, "file": str(path), "sha256": file_sha256(path)}
            for name, path in zip(names, config.predictions, strict=True)
        ],
        "pool_size": len(ids),
        "n_repeats": n_repeats,
        "items": items,
        "queues": queues,
    }
    return document, n_repeats


# --------------------------------------------------------------- writing and reading a study folder


def _refuse_existing(path: Path) -> None:
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise ConfigError(
            f"{path} already exists and is not empty: a study folder is never overwritten "
            "(its ratings would be lost). Choose a new output_dir."
        )


def create_study(config: CreateConfig, record: bool = True) -> Study:
    """Write a new study folder atomically: built beside it, then renamed into place."""
    final = Path(config.output_dir)
    _refuse_existing(final)
    protocol = load_protocol(config.protocol)
    document, _ = study_document(config, protocol)
    annotators = [
        {"name": name, "token": secrets.token_urlsafe(16)} for name in config.annotator_names()
    ]
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    try:
        set_umask_mode(tmp, directory=True)
        write_json(tmp / STUDY_FILE, document)
        write_json(tmp / ANNOTATORS_FILE, annotators)
        os.chmod(tmp / ANNOTATORS_FILE, 0o600)
        init_store(tmp / DATABASE)
        if record:
            from seq2seq_es.run_record import write_run_record

            write_run_record(tmp, config, "humaneval create")
        try:
            # rename onto a missing or empty folder succeeds; onto a non-empty one it fails: never
            # overwrites
            os.rename(tmp, final)
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR):
                raise ConfigError(
                    f"{final} appeared while the study was being created and is not empty: "
                    "nothing was written there. Choose a new output_dir."
                ) from None
            raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return load_study(final)


def load_study(path: str | Path) -> Study:
    """Read a study folder; errors say what is missing."""
    path = Path(path)
    study_file, annotators_file = path / STUDY_FILE, path / ANNOTATORS_FILE
    for needed in (study_file, annotators_file, path / DATABASE):
        if not needed.is_file():
            raise DataError(
                f"{path} is not a study folder: {needed.name} is missing. "
                "Make one with `seq2seq-es humaneval create`."
            )
    try:
        document = json.loads(study_file.read_text(encoding="utf-8"))
        annotators = json.loads(annotators_file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(
            f"{path}: study.json or annotators.json is not valid JSON ({exc})."
        ) from None
    if document.get("format") != FORMAT:
        raise DataError(f"{study_file}: format {document.get('format')!r} is not {FORMAT!r}.")
    protocol = Protocol.model_validate(document["protocol"])
    items = {
        i["item"]: Item(i["item"], i["id"], i["source"], i["references"], i["outputs"])
        for i in document["items"]
    }
    queues = {
        who: [Presentation(p["position"], p["item"], p["order"], p["repeat_of"]) for p in pages]
        for who, pages in document["queues"].items()
    }
    tokens = {a["name"]: a["token"] for a in annotators}
    if set(tokens) != set(queues):
        raise DataError(
            f"{annotators_file}: annotators {sorted(tokens)} do not match the queues in "
            f"{study_file} {sorted(queues)}."
        )
    return Study(
        path,
        protocol,
        [s["name"] for s in document["systems"]],
        items,
        queues,
        tokens,
        int(document["seed"]),
        int(document["pool_size"]),
    )
