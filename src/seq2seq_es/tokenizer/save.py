"""A trained tokenizer as a Hugging Face tokenizer folder: written never half-written, read with
a clear error."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from transformers import AutoTokenizer, PreTrainedTokenizerBase, PreTrainedTokenizerFast

from seq2seq_es.errors import TokenizerError


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


TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "spiece.model",
    "sentencepiece.bpe.model",
    "vocab.json",
    "vocab.txt",
)


def load_tokenizer_folder(path: str | Path) -> PreTrainedTokenizerBase:
    """Load a tokenizer folder (ours, or any a model was saved with); the one loader of every stage.

    A missing folder, a folder without tokenizer files, or files transformers cannot read
    are all a ``TokenizerError`` that names the folder and says what to do.
    """
    path = Path(path)
    advice = (
        "Train one with `seq2seq-es tokenizer`, or point to a model folder saved with its "
        "tokenizer (`tokenizer.save_pretrained(folder)`)."
    )
    if not any((path / name).is_file() for name in TOKENIZER_FILES):
        what = (
            "no tokenizer files here (no tokenizer.json)"
            if path.is_dir()
            else "no such folder (no tokenizer.json)"
        )
        raise TokenizerError(f"{path}: {what}. {advice}")
    try:
        return AutoTokenizer.from_pretrained(str(path))
    except (OSError, ValueError, KeyError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TokenizerError(
            f"{path}: no usable tokenizer in this folder ({reason}). {advice}"
        ) from exc
