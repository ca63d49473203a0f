"""The ``tokenizer`` stage: corpus shards → a saved tokenizer folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seq2seq_es.corpus.text_files import iter_texts
from seq2seq_es.files import write_json
from seq2seq_es.tokenizer.bpe import save_tokenizer, train_byte_level_bpe
from seq2seq_es.tokenizer.config import TokenizerConfig


def run_tokenizer(config: TokenizerConfig) -> dict[str, Any]:
    tokenizer = train_byte_level_bpe(iter_texts(config.input, config.text_key), config.vocab_size,
                                     config.min_frequency, config.max_chars)
    save_tokenizer(tokenizer, config.output_dir)
    summary = {"kind": "byte-level-bpe", "vocab_size": len(tokenizer),
               "special_tokens": {t: tokenizer.convert_tokens_to_ids(t) for t in tokenizer.all_special_tokens}}
    write_json(Path(config.output_dir) / "summary.json", summary)
    return summary
