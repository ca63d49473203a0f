"""User text (paths, values, messages) is printed as it is, never read as Rich markup.

Rich parses ``[...]`` in printed strings: ``[/x]`` in a path crashed the error printer with a
``MarkupError`` (after a successful export, which then exited 1), and ``[bold]`` or
``[link=...]`` silently vanished from messages.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from seq2seq_es import __version__
from seq2seq_es.cli import app

runner = CliRunner()


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        (["tokenizer", "input=/no/[bold]x[/bold]"], "/no/[bold]x[/bold]"),
        (["score", "--pred", "/no/[/x]p.jsonl"], "/no/[/x]p.jsonl"),
        (["bench", "only_tasks=[tatoeba-es-en]", "n=[link=http://x]y"], "[link=http://x]y"),
        (["bench", "only_tasks=[tatoeba-es-en]"], "only_tasks=[tatoeba-es-en]"),
        (["model", "merge-adapter", "/no/[/x]", "--output", "/no/y"], "/no/[/x]"),
    ],
)
def test_error_messages_keep_bracketed_user_text(args: list[str], shown: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "MarkupError" not in result.output
    assert shown in " ".join(result.output.split()), result.output


def test_a_successful_export_into_a_bracketed_folder_prints_it(
    bart_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "[/x]ct2"
    result = runner.invoke(app, ["export", f"model={bart_dir}", f"output_dir={out}"])
    assert result.exit_code == 0, result.output
    assert (out / "model.bin").is_file()
    assert "[/x]ct2" in " ".join(result.output.split())


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output, result.output
