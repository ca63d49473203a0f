"""``seq2seq-es corpus`` on input it cannot use: an error, not "kept 0 documents" and exit 0."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from seq2seq_es.cli import app
from seq2seq_es.corpus.config import CorpusConfig


def test_a_corpus_that_keeps_no_document_is_an_error(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(b'{"id": "a", "text": "sin cerrar\n[1, 2]\n{"id": "b"}\n')
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["corpus", f"input={source}", f"output_dir={out}"])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "kept 0 documents" in text and "could not be read" in text, text
    assert "Traceback" not in text and str(out / "rejects") in text


def test_keys_of_the_input_shorthand_beside_sources_are_refused(tmp_path: Path) -> None:
    """``text_key=body`` with ``sources:`` was silently ignored (each source reads its own)."""
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": "a", "body": "Hola."}\n', encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["corpus", f"sources=[{{path: {source}}}]", "text_key=body", f"output_dir={out}"]
    )
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "text_key is for the single `input`" in text and "Traceback" not in text, text
    assert not out.exists()


def test_a_dumped_config_with_sources_validates_again() -> None:
    """config.yaml holds every key, the shorthand's defaults included: reading it back (a
    resume, ``--show-config`` piped into ``-c``) must not be refused."""
    config = CorpusConfig.model_validate({"sources": [{"path": "a.jsonl"}], "text_key": "text"})
    again = CorpusConfig.model_validate(config.model_dump(mode="json"))
    assert again == config and [s.path for s in again.resolved_sources()] == ["a.jsonl"]
