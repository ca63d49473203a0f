"""The ``corpus`` stage: a datatrove pipeline from raw JSONL to clean shards.

Layout of ``output_dir``: ``shards/*.jsonl.gz`` (one JSON object per document with
``text``, ``id``, ``metadata``), ``rejects/<step>/*.jsonl.gz`` (every dropped
document with its reason), ``stats.json`` (per-step counters), ``logs/`` (datatrove's
logs and completion markers, which make a rerun skip finished tasks).
"""

from __future__ import annotations

import json
from pathlib import Path

from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter
from pydantic import Field

from seq2seq_es.config import StrictModel
from seq2seq_es.corpus.steps import LengthFilter, NormalizeText
from seq2seq_es.corpus.text_files import list_jsonl_files
from seq2seq_es.files import write_json


class CorpusConfig(StrictModel):
    input: str = Field("../shared/data/pretrain/sample.jsonl.gz", description="A JSONL(.gz) file or folder.")
    text_key: str = "text"
    id_key: str = "id"
    output_dir: str = "runs/corpus"
    tasks: int = Field(1, ge=1)
    workers: int = Field(1, ge=1)
    min_chars: int = Field(200, ge=0)
    max_chars: int = Field(1_000_000, ge=1)
    limit: int = Field(-1, description="Read at most this many documents per file (-1: all).")


def run_corpus(config: CorpusConfig) -> dict[str, dict[str, int]]:
    """Run the pipeline; return ``{step: {counter: value}}`` and write ``stats.json``."""
    files = list_jsonl_files(config.input)  # fails early, with a clear message, on a bad path
    source = Path(config.input)
    folder, pattern = (source.parent, source.name) if source.is_file() else (source, None)
    out = Path(config.output_dir)
    pipeline = [
        JsonlReader(str(folder), glob_pattern=pattern or "**/*.jsonl*", text_key=config.text_key,
                    id_key=config.id_key, limit=config.limit),
        NormalizeText(),
        LengthFilter(config.min_chars, config.max_chars,
                     exclusion_writer=JsonlWriter(str(out / "rejects" / "length"))),
        JsonlWriter(str(out / "shards"), output_filename="${rank}.jsonl.gz"),
    ]
    executor = LocalPipelineExecutor(pipeline=pipeline, tasks=min(config.tasks, len(files)),
                                     workers=config.workers, logging_dir=str(out / "logs"))
    executor.run()
    stats = _read_stats(out / "logs" / "stats.json")
    write_json(out / "stats.json", stats)
    return stats


def _read_stats(path: Path) -> dict[str, dict[str, int]]:
    """Flatten datatrove's merged stats into ``{step name: {counter: total}}``."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    stats: dict[str, dict[str, int]] = {}
    for step in raw:
        counters = {}
        for key, value in step.get("stats", {}).items():
            counters[key] = value["total"] if isinstance(value, dict) else value
        stats[step["name"]] = counters
    return stats
