"""``seq2seq-es tokenizer-report``: trained tokenizers side by side on held-out text.

Each tokenizer folder (BARTO's BPE, T5S's unigram, …) and an English byte-level BPE,
trained exactly like BARTO's but on English text, are measured on every held-out set
with ``quality.measure_quality``. The English baseline shows what a Spanish vocabulary
buys: on Spanish text it needs more tokens per word, and so a longer sequence for the
same document (slower, and less text in a fixed context window).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich import box
from rich.table import Table
from transformers import PreTrainedTokenizerBase

from seq2seq_es.corpus.text_files import iter_texts_interleaved
from seq2seq_es.errors import DataError
from seq2seq_es.files import iter_jsonl, write_json
from seq2seq_es.tokenizer.bpe import train_byte_level_bpe
from seq2seq_es.tokenizer.config import EnglishBaselineConfig, HeldOutText, TokenizerReportConfig
from seq2seq_es.tokenizer.quality import QUALITY_DEFINITIONS, measure_quality
from seq2seq_es.tokenizer.sampling import TrainingSample
from seq2seq_es.tokenizer.save import load_tokenizer_folder, save_tokenizer

REPORT_FILE = "tokenizer_report.json"
ENGLISH_BASELINE = "english-bpe"


def load_heldout(spec: HeldOutText) -> list[str]:
    """The non-blank ``text_key`` strings of the first ``max_texts`` records of ``spec.path``."""
    texts: list[str] = []
    for record in iter_jsonl(spec.path, required=(spec.text_key,)):
        if spec.max_texts is not None and len(texts) >= spec.max_texts:
            break
        text = record[spec.text_key]
        if not isinstance(text, str):
            raise DataError(
                f"{spec.path}: field {spec.text_key!r} must be a string, got {type(text).__name__}."
            )
        if text.strip():
            texts.append(text)
    if not texts:
        raise DataError(
            f"{spec.path}: no non-blank {spec.text_key!r} text for held-out set {spec.name!r}."
        )
    return texts


def train_english_baseline(
    config: EnglishBaselineConfig, output_dir: Path
) -> tuple[PreTrainedTokenizerBase, dict[str, int]]:
    """BARTO's recipe (byte-level BPE, BART specials, NFC) on English text; saved for reuse."""
    sample = TrainingSample(iter_texts_interleaved(config.input, config.text_key), config.max_chars)
    tokenizer = train_byte_level_bpe(sample, config.vocab_size, config.min_frequency)
    save_tokenizer(tokenizer, output_dir)
    return tokenizer, sample.stats()


def describe(tokenizer: PreTrainedTokenizerBase, path: str | Path) -> dict[str, Any]:
    """Kind and size of a tokenizer, plus what it was trained on when its summary.json says so."""
    model = json.loads(tokenizer.backend_tokenizer.to_str())["model"]
    kind = {"BPE": "byte-level-bpe", "Unigram": "unigram"}.get(model["type"], model["type"])
    summary_file = Path(path) / "summary.json"
    trained_on = (
        json.loads(summary_file.read_text(encoding="utf-8")).get("trained_on")
        if summary_file.is_file()
        else None
    )
    return {"path": str(path), "kind": kind, "vocab_size": len(tokenizer), "trained_on": trained_on}


def run_tokenizer_report(config: TokenizerReportConfig) -> dict[str, Any]:
    """Measure every tokenizer on every held-out set; write ``tokenizer_report.json``."""
    output_dir = Path(config.output_dir)
    heldout = {spec.name: load_heldout(spec) for spec in config.heldout}
    tokenizers = {name: load_tokenizer_folder(path) for name, path in config.tokenizers.items()}
    described = {
        name: describe(tokenizer, config.tokenizers[name]) for name, tokenizer in tokenizers.items()
    }
    if config.english_baseline is not None:
        if ENGLISH_BASELINE in tokenizers:
            raise DataError(
                f"The name {ENGLISH_BASELINE!r} is reserved for the English baseline; "
                "rename that entry under `tokenizers:` or set english_baseline: null."
            )
        path = output_dir / ENGLISH_BASELINE
        tokenizers[ENGLISH_BASELINE], stats = train_english_baseline(config.english_baseline, path)
        described[ENGLISH_BASELINE] = {
            **describe(tokenizers[ENGLISH_BASELINE], path),
            "trained_on": stats,
        }
    results = []
    for name, tokenizer in tokenizers.items():
        for set_name, texts in heldout.items():
            quality = measure_quality(tokenizer, texts)
            results.append({"tokenizer": name, "heldout": set_name, **quality.to_dict()})
    report = {
        "tokenizers": described,
        "heldout": {
            spec.name: {
                "path": spec.path,
                "text_key": spec.text_key,
                "texts": len(heldout[spec.name]),
            }
            for spec in config.heldout
        },
        "english_baseline": None
        if config.english_baseline is None
        else config.english_baseline.model_dump(),
        "definitions": QUALITY_DEFINITIONS,
        "results": results,
    }
    write_json(output_dir / REPORT_FILE, report)
    return report


def report_table(report: dict[str, Any]) -> Table:
    """The report as a terminal table: one row per (held-out set, tokenizer)."""
    table = Table(
        title="tokenizer quality on held-out text",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
        caption="tok/word: tokens per word (fertility) · split: words cut in 2+ tokens · "
        "exact: decode(encode(x)) == x · chr/tok: characters per token",
    )
    for column in ("set", "tokenizer", "vocab", "tok/word", "split", "unk", "exact", "chr/tok"):
        text_column = column in ("set", "tokenizer")
        table.add_column(
            column,
            justify="left" if text_column else "right",
            no_wrap=text_column,
            min_width=len(column),
        )
    for row in sorted(report["results"], key=lambda r: r["heldout"]):
        table.add_row(
            row["heldout"],
            row["tokenizer"],
            str(report["tokenizers"][row["tokenizer"]]["vocab_size"]),
            f"{row['fertility']:.3f}",
            f"{row['split_share']:.1%}",
            f"{row['unk_rate']:.2%}",
            f"{row['round_trip']:.1%}",
            f"{row['chars_per_token']:.2f}",
        )
    return table
