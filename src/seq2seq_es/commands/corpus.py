"""``seq2seq-es corpus``: raw Spanish text → clean, deduplicated shards (datatrove)."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

from rich.console import Console

from seq2seq_es.commands.base import Command
from seq2seq_es.corpus.config import CorpusConfig
from seq2seq_es.errors import DataError
from seq2seq_es.run_record import file_fingerprints
from seq2seq_es.training.run_folder import RunFolder, claim_folder


def run(config: CorpusConfig, folder: RunFolder) -> dict[str, Any]:
    from seq2seq_es.corpus.pipeline import run_corpus
    from seq2seq_es.library_logs import requiet_after_import

    requiet_after_import()  # importing datatrove put its INFO sink back on stderr

    stats = run_corpus(config)
    require_documents(stats, folder.path)
    return {"stats": stats, "output_dir": folder.path}


def require_documents(stats: dict[str, Any], output_dir: Path) -> None:
    """A corpus that kept no document is an error, not "kept 0 documents" and exit 0: the
    shards path it would print was never written. Says where the input went (the step that
    dropped the last documents, the unreadable lines) and where the rejects are."""
    if not stats or "output" not in stats or stats["output"].get("docs", 0) > 0:
        return  # a submitted (cluster) run reports later; a run that kept documents is fine
    read = sum(entry["docs"] for entry in stats.get("input", {}).get("unreadable", {}).values())
    emptied = next(
        (
            f"the {step!r} step dropped the last {row['docs_in']:,}"
            for step, row in stats.get("steps", {}).items()
            if row.get("docs_in") and not row.get("docs_out")
        ),
        "no document was read",
    )
    unreadable = f"; {read:,} input lines/files could not be read" if read else ""
    raise DataError(
        f"the corpus kept 0 documents ({emptied}{unreadable}), so there are no shards to "
        f"write. The counts are in {output_dir / 'stats.json'}, the dropped and unreadable "
        f"documents under {output_dir / 'rejects'}: check the input format (text_key) and the "
        "filters' settings, then rerun into a new output_dir."
    )


def prepare_output(config: CorpusConfig) -> RunFolder:
    """A rerun continues the run in its folder (finished tasks are skipped), so the folder
    must hold nothing, or a corpus run of the same settings and the same input files:
    otherwise the finished tasks of another run would be reused as this one's."""
    for source in config.resolved_sources():
        require_text(Path(source.path))
    inputs = file_fingerprints(
        {f"source.{i}": source.path for i, source in enumerate(config.resolved_sources())}
    )
    return claim_folder(config.output_dir, "corpus", config, inputs)


def require_text(path: Path) -> None:
    """Refuse an input whose files are all empty (or blank), before the pipeline splits it into
    pieces."""
    files = (
        [path]
        if path.is_file()
        else [p for p in path.rglob("*") if p.is_file()]
        if path.is_dir()
        else []
    )
    if not files or any(_has_text(file) for file in files if not file.name.startswith(".")):
        return  # missing paths and Hub ids are the readers' to report
    raise DataError(
        f"{path}: the input is empty "
        f"({'every file under it is' if path.is_dir() else 'the file is'} empty or blank), so "
        "there is no text to clean. Point `input` (or `sources`) at the raw text."
    )


def _has_text(file: Path, probe: int = 1 << 16) -> bool:
    try:
        with gzip.open(file, "rb") if file.name.endswith(".gz") else open(file, "rb") as handle:
            head = handle.read(probe)
    except (OSError, EOFError):
        return True  # unreadable: the readers say which line and why
    return bool(head.strip()) or len(head) == probe


def show(result: dict[str, Any], console: Console) -> None:
    from seq2seq_es.corpus.summary import print_summary

    print_summary(console, result["stats"], Path(result["output_dir"]))


COMMANDS = [
    Command(
        "corpus",
        "Clean raw Spanish text into deduplicated shards (datatrove), with stats.json "
        "and rejects/.",
        CorpusConfig,
        run,
        show,
        prepare_output=prepare_output,
    )
]
