"""How a model folder says it should be decoded, in the ecosystem's own files.

Why: a model fine-tuned on a task was evaluated with that task's decoding (beams, target
length, length penalty, n-gram blocking) on sources cut at the task's source length;
``predict``, ``serve``, ``export`` and plain ``AutoModelForSeq2SeqLM.from_pretrained(dir)
.generate(...)`` must decode the same way without knowing the task. So ``finetune`` writes
those settings where transformers itself looks (``write_decoding_defaults``):

* ``generation_config.json``: ``num_beams``, ``max_new_tokens``, ``length_penalty``,
  ``no_repeat_ngram_size``, ``min_new_tokens`` (next to the special ids, forced BOS/EOS and
  decoder start the model already keeps there);
* ``tokenizer_config.json``: ``model_max_length`` = the task's source length, so the
  tokenizer's ``truncation=True`` cuts inputs where evaluation did.

Readers (``read_decoding_defaults``, ``read_source_length``) look only at the folder, and
only at small JSON files (no torch, no transformers). A CTranslate2 export gets the same two
files, so both engines read one format.

The one fallback, for folders fine-tuned before these files carried the task's settings:
a ``<run>/model`` folder whose ``generation_config.json`` has no ``max_new_tokens`` (which
``finetune`` now always writes) takes the decoding its run recorded in ``<run>/scores.json``
(how its final evaluation decoded). Its source length comes from the model's positions, as
for any folder without a tokenizer limit.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from seq2seq_es.errors import CheckpointError
from seq2seq_es.files import atomic_write, write_json
from seq2seq_es.inference.config import GenerationOptions

GENERATION_FILE = "generation_config.json"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
FALLBACK_SOURCE_LENGTH = 512
# transformers writes tokenizer_config.json's model_max_length as ~1e30 when it is unknown.
LARGEST_PLAUSIBLE_LENGTH = 1_000_000
# What a folder's generation config contributes to GenerationOptions (and scores.json records).
DECODING_KEYS = (
    "num_beams",
    "max_new_tokens",
    "length_penalty",
    "no_repeat_ngram_size",
    "min_new_tokens",
)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(
            f"{path}: cannot be read as JSON ({exc}). Fix or delete the file."
        ) from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: expected a JSON object, got {type(data).__name__}.")
    return data


def _options(values: dict[str, Any], path: Path) -> GenerationOptions:
    picked = {key: values[key] for key in DECODING_KEYS if values.get(key) is not None}
    try:
        return GenerationOptions.model_validate(picked)
    except ValidationError as exc:
        error = exc.errors()[0]
        raise CheckpointError(
            f"{path}: {'.'.join(map(str, error['loc']))} {error['msg']}. Fix or delete the file."
        ) from None


def read_decoding_defaults(model_dir: str | Path) -> tuple[GenerationOptions, str]:
    """The decoding options ``model_dir`` asks for, and the file they came from.

    Unset fields stay None (``GenerationOptions.resolved`` falls back to greedy, 128 new
    tokens). ``max_length`` and ``min_length`` count the decoder start token, so they mean one
    new token fewer.
    """
    folder = Path(model_dir)
    path = folder / GENERATION_FILE
    stored = _read_json(path) if path.is_file() else {}
    if stored.get("max_new_tokens") is None:
        recorded = _recorded_by_run(folder)
        if recorded is not None:
            return recorded
        if isinstance(stored.get("max_length"), int):
            stored["max_new_tokens"] = max(1, stored["max_length"] - 1)
    if stored.get("min_new_tokens") is None and (stored.get("min_length") or 0) > 1:
        stored["min_new_tokens"] = stored["min_length"] - 1
    return _options(stored, path), str(path) if path.is_file() else "fallback"


def _recorded_by_run(folder: Path) -> tuple[GenerationOptions, str] | None:
    """The fallback for folders fine-tuned before this module (see the module docstring)."""
    scores = folder.parent / "scores.json"
    if folder.name != "model" or not scores.is_file():
        return None
    decoding = _read_json(scores).get("decoding")
    return (_options(decoding, scores), str(scores)) if isinstance(decoding, dict) else None


def read_source_length(model_dir: str | Path) -> int:
    """The longest input the tokenizer or the model's positions allow, else 512."""
    folder = Path(model_dir)
    for name, keys in (
        (TOKENIZER_CONFIG_FILE, ("model_max_length",)),
        ("config.json", ("max_encoder_position_embeddings", "max_position_embeddings")),
    ):
        path = folder / name
        if not path.is_file():
            continue
        data = _read_json(path)
        for key in keys:
            value = data.get(key)
            if isinstance(value, int) and 0 < value < LARGEST_PLAUSIBLE_LENGTH:
                return value
    return FALLBACK_SOURCE_LENGTH


def write_decoding_defaults(
    model_dir: str | Path, options: GenerationOptions, max_source_length: int
) -> None:
    """Store resolved ``options`` in the folder's generation config and ``max_source_length``
    as its tokenizer's ``model_max_length`` (each file replaced atomically).

    The generation config keeps everything else it holds (special ids, forced BOS/EOS).
    Settings of a beam search (``length_penalty``, ``early_stopping``) or of sampling are
    reset to transformers' defaults when the options do neither: transformers refuses to
    save them beside ``num_beams=1`` or ``do_sample=False``, and a checkpoint's own
    ``do_sample=True`` must not make plain ``generate`` sample where our engines do not.
    """
    from transformers import GenerationConfig

    folder = Path(model_dir)
    assert options.num_beams is not None and options.max_new_tokens is not None, (
        "resolve the options first"
    )
    generation = (
        GenerationConfig.from_pretrained(str(folder))
        if (folder / GENERATION_FILE).is_file()
        else GenerationConfig()
    )
    default = GenerationConfig()
    beam, sampling = options.num_beams > 1, options.do_sample
    generation.update(
        num_beams=options.num_beams,
        max_new_tokens=options.max_new_tokens,
        no_repeat_ngram_size=options.no_repeat_ngram_size,
        min_new_tokens=options.min_new_tokens,
        do_sample=sampling,
        # beam-only and sampling-only knobs: as decoded, else transformers' defaults
        length_penalty=options.length_penalty if beam else default.length_penalty,
        early_stopping=generation.early_stopping if beam else default.early_stopping,
        temperature=options.temperature if sampling else default.temperature,
        top_k=options.top_k if sampling else default.top_k,
        top_p=options.top_p if sampling else default.top_p,
    )
    generation._from_model_config = False  # ours now, no longer derived from config.json
    generation.validate(strict=True)
    with atomic_write(folder / GENERATION_FILE) as handle:
        handle.write(generation.to_json_string(use_diff=True))
    tokenizer_config = folder / TOKENIZER_CONFIG_FILE
    if tokenizer_config.is_file():
        data = _read_json(tokenizer_config)
        write_json(tokenizer_config, data | {"model_max_length": max_source_length})
