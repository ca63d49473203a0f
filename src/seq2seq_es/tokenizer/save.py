"""A trained tokenizer as a Hugging Face tokenizer folder: written never half-written, read with a clear error."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from transformers import AutoTokenizer, PreTrainedTokenizerBase, PreTrainedTokenizerFast

from seq2seq_es.errors import DataError


def save_tokenizer(tokenizer: PreTrainedTokenizerFast, output_dir: str | Path) -> None:
    """``save_pretrained`` into ``output_dir`` (loads with ``AutoTokenizer``).

    Files are written to a temporary folder first and each renamed into place, so a
    crash never leaves a half-written tokenizer file, and files already in
    ``output_dir`` (the run record: config.yaml, run_info.json) are kept.
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".tokenizer.", dir=output_dir) as tmp:
        tokenizer.save_pretrained(tmp)
        for file in Path(tmp).iterdir():
            os.replace(file, output_dir / file.name)


def load_tokenizer_folder(path: str | Path) -> PreTrainedTokenizerBase:
    """Load a folder written by ``save_tokenizer``; a missing ``tokenizer.json`` is a ``DataError``."""
    path = Path(path)
    if not (path / "tokenizer.json").is_file():
        raise DataError(f"{path}: no tokenizer.json here. Train one with `seq2seq-es tokenizer` or fix the path.")
    return AutoTokenizer.from_pretrained(str(path))
