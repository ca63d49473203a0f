"""Export a BART or T5 folder to CTranslate2, telling its converter what the model really is.

Why a converter subclass: ctranslate2's ``TransformersConverter`` (checked with 4.8.5) reads
config attributes whose meaning changed in transformers 5, and two of them go wrong silently:

* BART: ``BartConfig`` has no ``normalize_before`` any more, so conversion stops with an
  ``AttributeError``. BART is post-norm (fairseq ``bart.base``): the value is ``False``.
* T5 v1.1 (our T5S presets, untied LM head): transformers 5 always saves
  ``tie_word_embeddings=true`` and keeps the real behaviour in ``scale_decoder_outputs=false``
  (``T5Config.__post_init__``). The converter reads only the first and scales the decoder
  output by d_model^-0.5: greedy ids often agree, log-probabilities do not, so beam search
  and sampling differ. Its loader is told ``tie_word_embeddings = scale_decoder_outputs``.
* A folder without tokenizer files makes ``AutoTokenizer`` build a default T5 tokenizer of
  104 tokens, and the exported vocabulary maps ids to the wrong strings. We refuse instead,
  and check that the tokenizer fits the embedding table.

The corrections change the loaded model's config in memory only; nothing on disk changes.
The export is written into a temporary folder renamed into place, with the tokenizer files
(so the folder serves on its own), the decoding defaults the model folder describes
(``generation_config.json`` and the tokenizer's ``model_max_length``, as ``finetune`` wrote
them: see ``folder_decoding``) and ``seq2seq_es_export.json``: the source model, the weight
type and the generation rules the ct2 engine needs to decode as ``generate`` does.

BERT2BERT (``EncoderDecoderModel``) and LED have no CTranslate2 converter: they are served
with ``engine=transformers``.
"""

from __future__ import annotations

import importlib.metadata
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ctranslate2.converters import TransformersConverter
from transformers import AutoTokenizer, GenerationConfig, PreTrainedConfig, PreTrainedTokenizerBase

from seq2seq_es.errors import CheckpointError
from seq2seq_es.files import atomic_dir, write_json
from seq2seq_es.inference.config import GenerationOptions
from seq2seq_es.inference.ct2_engine import EXPORT_INFO_FILE
from seq2seq_es.inference.folder_decoding import (
    GENERATION_FILE,
    read_decoding_defaults,
    read_source_length,
    write_decoding_defaults,
)
from seq2seq_es.models.families import FAMILIES, family_of_model_type
from seq2seq_es.models.loading import check_vocabulary, load_model_config

# A tokenizer folder holds at least one vocabulary file; tokenizer_config.json alone is not one.
VOCABULARY_FILES = ("tokenizer.json", "spiece.model", "vocab.json", "sentencepiece.bpe.model")


def check_exportable(config: PreTrainedConfig, source: str) -> None:
    """Raise a ``CheckpointError`` for a model CTranslate2 cannot (or we do not) convert: one
    whose family row (``models/families.py``) is not ``ct2_export``."""
    family = family_of_model_type(config.model_type)
    if family is not None and family.ct2_export:
        return
    if family is not None and family.encoder_decoder:
        raise CheckpointError(
            f"{source} is a {family.title} model: CTranslate2 has no converter for it, "
            "so it cannot be exported. Serve it as it is with engine=transformers (e.g. "
            "`seq2seq-es predict model=... engine=transformers`)."
        )
    exportable = " and ".join(f.title for f in FAMILIES.values() if f.ct2_export)
    raise CheckpointError(
        f"{source} is a {config.model_type!r} model; `seq2seq-es export` converts the "
        f"{exportable} families (the project's presets and models fine-tuned from them), whose "
        "CTranslate2 output is checked against transformers. Serve this model with "
        "engine=transformers."
    )


def _bart_overrides(config: PreTrainedConfig) -> dict[str, Any]:
    return {"normalize_before": bool(getattr(config, "normalize_before", False))}


def _t5_overrides(config: PreTrainedConfig) -> dict[str, Any]:
    scale = getattr(config, "scale_decoder_outputs", None)
    return {"tie_word_embeddings": bool(config.tie_word_embeddings if scale is None else scale)}


# Per exportable family (its row's name): the corrections of the module docstring.
CONVERTER_OVERRIDES: dict[str, Callable[[PreTrainedConfig], dict[str, Any]]] = {
    "bart": _bart_overrides,
    "t5": _t5_overrides,
}


def converter_overrides(config: PreTrainedConfig) -> dict[str, Any]:
    """Config values CTranslate2's loaders read, set to what the model computes (see module doc)."""
    family = family_of_model_type(config.model_type)
    fix = CONVERTER_OVERRIDES.get(family.name) if family is not None else None
    return fix(config) if fix is not None else {}


def tokenizer_folder(model_dir: Path, tokenizer_dir: Path | None) -> Path:
    """The folder whose tokenizer goes with the model; an error when it holds no vocabulary file."""
    folder = tokenizer_dir or model_dir
    if not any((folder / name).is_file() for name in VOCABULARY_FILES):
        where = "the model folder" if tokenizer_dir is None else "the tokenizer folder"
        raise CheckpointError(
            f"{folder}: no tokenizer in {where} (none of {', '.join(VOCABULARY_FILES)}). Exporting "
            "without one would silently give CTranslate2 a default vocabulary that maps ids to "
            "the wrong words. Save the tokenizer next to the model "
            "(`tokenizer.save_pretrained(folder)`) or pass tokenizer=FOLDER."
        )
    return folder


class TruthfulTransformersConverter(TransformersConverter):
    """ctranslate2's converter with the corrections of this module's docstring.

    It hooks the two loading steps the base class exposes: ``load_model`` (fix the config the
    architecture loader reads) and ``load_tokenizer`` (the right tokenizer, or an error).
    """

    def __init__(self, model_dir: str | Path, tokenizer_dir: str | Path | None = None) -> None:
        super().__init__(str(model_dir))
        self.tokenizer_dir = tokenizer_folder(
            Path(model_dir), Path(tokenizer_dir) if tokenizer_dir else None
        )
        self._embedding_rows: int | None = None

    def load_model(self, model_class: Any, model_name_or_path: str, **kwargs: Any) -> Any:
        kwargs["dtype"] = (
            "float32"  # export from full precision; quantization happens in the converter
        )
        model = super().load_model(model_class, model_name_or_path, **kwargs)
        for key, value in converter_overrides(model.config).items():
            setattr(model.config, key, value)
        self._embedding_rows = model.get_input_embeddings().num_embeddings
        return model

    def load_tokenizer(
        self, tokenizer_class: Any, model_name_or_path: str, **kwargs: Any
    ) -> PreTrainedTokenizerBase:
        tokenizer = super().load_tokenizer(tokenizer_class, str(self.tokenizer_dir), **kwargs)
        if self._embedding_rows is not None:
            check_vocabulary(self._embedding_rows, tokenizer, str(self.tokenizer_dir))
        return tokenizer


def generation_rules(model_dir: Path) -> dict[str, Any]:
    """What ``generate`` does that CTranslate2 must be told: the special ids of the model's
    generation config. BART forces ``</s>`` as the last token at the length limit
    (``forced_eos_token_id``); the ct2 engine reproduces that."""
    try:
        generation = GenerationConfig.from_pretrained(str(model_dir))
    except OSError:
        generation = GenerationConfig.from_model_config(load_model_config(model_dir))
    return {
        "decoder_start_token_id": generation.decoder_start_token_id,
        "eos_token_id": generation.eos_token_id,
        "pad_token_id": generation.pad_token_id,
        "forced_eos_token_id": generation.forced_eos_token_id,
    }


def export_ct2(
    model_dir: str | Path,
    output_dir: str | Path,
    quantization: str = "int8",
    tokenizer_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Convert ``model_dir`` into a CTranslate2 folder at ``output_dir``; return its export record.

    The folder gets the tokenizer, the model folder's decoding defaults (its generation
    config and source length: ``folder_decoding``) and ``seq2seq_es_export.json`` (source,
    weight type, generation rules, versions).
    """
    model_dir = Path(model_dir)
    config = load_model_config(model_dir)
    check_exportable(config, str(model_dir))
    converter = TruthfulTransformersConverter(model_dir, tokenizer_dir)
    defaults, defaults_source = read_decoding_defaults(model_dir)
    info: dict[str, Any] = {
        "format": "ct2",
        "quantization": quantization,
        "source": {
            "model": str(model_dir),
            "model_type": config.model_type,
            "architectures": list(getattr(config, "architectures", None) or []),
            "tokenizer": str(converter.tokenizer_dir),
        },
        "generation_rules": generation_rules(model_dir),
        "decoding_defaults_from": defaults_source,
        "converter_overrides": converter_overrides(config),
        "versions": {
            name: importlib.metadata.version(name) for name in ("ctranslate2", "transformers")
        },
    }
    with atomic_dir(output_dir) as tmp:
        converter.convert(str(tmp), quantization=quantization, force=True)
        AutoTokenizer.from_pretrained(str(converter.tokenizer_dir)).save_pretrained(str(tmp))
        if (model_dir / GENERATION_FILE).is_file():
            shutil.copyfile(model_dir / GENERATION_FILE, tmp / GENERATION_FILE)
        write_decoding_defaults(
            tmp, defaults.resolved(GenerationOptions()), read_source_length(model_dir)
        )
        write_json(tmp / EXPORT_INFO_FILE, info)
    return info
