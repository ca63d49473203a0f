"""The ``tokenizer`` stage: corpus shards → a saved tokenizer folder + summary.json."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from transformers import PreTrainedTokenizerBase

from seq2seq_es.corpus.text_files import iter_texts_interleaved
from seq2seq_es.files import write_json
from seq2seq_es.progress import progress_bar
from seq2seq_es.tokenizer.bpe import train_byte_level_bpe
from seq2seq_es.tokenizer.config import TokenizerConfig
from seq2seq_es.tokenizer.sampling import TextTooLong, TrainingSample, too_long_error
from seq2seq_es.tokenizer.save import save_tokenizer
from seq2seq_es.tokenizer.unigram import train_unigram

KIND_NAMES = {"bpe": "byte-level-bpe", "unigram": "unigram"}


def run_tokenizer(config: TokenizerConfig) -> dict[str, Any]:
    """Train the configured kind of tokenizer, save it to ``output_dir``, return its summary.

    The bar counts the characters the trainer has read of its sample (up to ``max_chars``);
    once the sample is read, the trainer learns the vocabulary from what it counted.
    """
    start = time.perf_counter()
    with progress_bar() as bar:
        reading = bar.add_task("reading texts", total=config.max_chars, status="characters")
        learning = bar.add_task("learning the vocabulary", total=None, status="")
        sample = TrainingSample(
            iter_texts_interleaved(config.input, config.text_key),
            config.max_chars,
            config.normalization,
            on_text=lambda chars: bar.update(reading, advance=chars),
        )
        try:
            if config.kind == "bpe":
                tokenizer = train_byte_level_bpe(sample, config.vocab_size, config.min_frequency)
            else:
                tokenizer = train_unigram(
                    sample, config.vocab_size, config.extra_ids, config.character_coverage
                )
        except TextTooLong as exc:
            raise too_long_error(exc, config.input, config.text_key) from None
        # a corpus smaller than max_chars was read whole
        bar.update(reading, total=sample.chars, completed=sample.chars, status="characters read")
        bar.update(learning, total=1, completed=1, status=f"{len(tokenizer)} tokens")
    seconds = time.perf_counter() - start
    save_tokenizer(tokenizer, config.output_dir)
    summary = {
        "kind": KIND_NAMES[config.kind],
        "vocab_size": len(tokenizer),
        "requested_vocab_size": config.vocab_size,
        "normalization": config.normalization,
        "trained_on": {**sample.stats(), "seconds": round(seconds, 2)},
        **special_token_ids(tokenizer),
    }
    write_json(Path(config.output_dir) / "summary.json", summary)
    return summary


def special_token_ids(tokenizer: PreTrainedTokenizerBase) -> dict[str, Any]:
    """The ids a model config must agree with, and the sentinel id range (if any)."""
    named = {
        name: getattr(tokenizer, f"{name}_token_id")
        for name in ("bos", "pad", "eos", "unk", "mask")
    }
    result: dict[str, Any] = {
        "special_token_ids": {name: i for name, i in named.items() if i is not None}
    }
    sentinels = [token for token in tokenizer.all_special_tokens if token.startswith("<extra_id_")]
    if sentinels:
        ids = [tokenizer.convert_tokens_to_ids(token) for token in sentinels]
        result["sentinel_ids"] = {
            "<extra_id_0>": tokenizer.convert_tokens_to_ids("<extra_id_0>"),
            "min": min(ids),
            "max": max(ids),
            "count": len(ids),
        }
    return result
