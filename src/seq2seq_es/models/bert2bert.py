"""BERT2BERT: an encoder-decoder warm-started from an encoder-only checkpoint.

The paper's BETO2BETO / RoBERTa2RoBERTa baselines (and their "Share" variants) follow
Rothe et al. 2020, "Leveraging Pre-trained Checkpoints for Sequence Generation Tasks":
encoder and decoder both start from the same BERT/RoBERTa weights, the decoder gains
randomly initialised cross-attention and a causal mask, and "Share" ties every encoder
weight to its decoder counterpart (everything except cross-attention and the LM head).

transformers 5 dropped ``tie_encoder_decoder`` (ties now come only from a model class's
``_tied_weights_keys``), so sharing is done here: the decoder's modules point at the
encoder's ``Parameter`` objects, and the config keeps ``tie_encoder_decoder: true`` (the
transformers 4 name, which transformers 4 honours on load) so ``load_seq2seq`` ties again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoModel,
    AutoModelForCausalLM,
    EncoderDecoderModel,
    PreTrainedTokenizerBase,
)

from seq2seq_es.errors import CheckpointError
from seq2seq_es.files import write_json
from seq2seq_es.models.families import get_family, tokenizer_special_ids, warm_start_types
from seq2seq_es.models.loading import (
    check_vocabulary,
    hub_revision,
    load_model_config,
    load_tokenizer,
    looks_like_path,
    save_seq2seq,
    unreachable_hub_error,
)
from seq2seq_es.models.model_card import card_name, size_limitations, write_model_card
from seq2seq_es.models.presets import count_parameters
from seq2seq_es.models.sharing import share_encoder_decoder

# Decoding settings of the paper's BERT2BERT runs (and of the Rothe et al. recipe).
GENERATION_DEFAULTS: dict[str, Any] = {
    "num_beams": 4,
    "length_penalty": 2.0,
    "no_repeat_ngram_size": 3,
    "early_stopping": True,
}


def wiring_ids(tokenizer: PreTrainedTokenizerBase) -> dict[str, int]:
    """Start/end/pad ids of a BERT-style tokenizer used as a decoder (the ``bert2bert`` row of
    ``models/families.py``: the decoder starts from ``[CLS]`` / ``<s>`` and stops at ``[SEP]`` /
    ``</s>``)."""
    family = get_family("bert2bert")
    ids = tokenizer_special_ids(
        family, tokenizer, "Use the checkpoint's own tokenizer.", CheckpointError
    )
    return {
        "decoder_start_token_id": ids[family.decoder_start or "bos"],
        "eos_token_id": ids["eos"],
        "pad_token_id": ids["pad"],
    }


def configure_generation(model: EncoderDecoderModel, tokenizer: PreTrainedTokenizerBase) -> None:
    """Write the special-token wiring and decoding defaults into config and generation config."""
    ids = wiring_ids(tokenizer)
    for key, value in ids.items():
        setattr(model.config, key, value)
        setattr(model.generation_config, key, value)
    model.generation_config.bos_token_id = ids["decoder_start_token_id"]
    model.config.vocab_size = model.decoder.config.vocab_size
    for key, value in GENERATION_DEFAULTS.items():
        setattr(model.generation_config, key, value)


def _pretrained_encoder_only(name: str, revision: str | None) -> None:
    config = load_model_config(name, revision)
    if getattr(config, "is_encoder_decoder", False):
        raise CheckpointError(
            f"{name} is already an encoder-decoder ({config.model_type}); fine-tune it directly "
            "instead of warm-starting a BERT2BERT from it."
        )
    if config.model_type not in warm_start_types():
        raise CheckpointError(
            f"{name} is a {config.model_type!r} model; BERT2BERT warm starts from an encoder with "
            f"a causal-LM variant that supports cross-attention: {', '.join(warm_start_types())}."
        )


def _load_weights(
    auto_class: Any, name: str, revision: str | None, **config_overrides: bool
) -> Any:
    try:
        return auto_class.from_pretrained(name, **hub_revision(name, revision), **config_overrides)
    except OSError as exc:
        if Path(name).is_dir():
            raise CheckpointError(f"{name}: the weights cannot be loaded ({exc}).") from exc
        raise unreachable_hub_error(name, exc) from exc


def warm_start_bert2bert(
    encoder: str | Path,
    decoder: str | Path | None = None,
    *,
    share: bool = False,
    tokenizer: str | Path | None = None,
    seed: int = 0,
    revision: str | None = None,
) -> tuple[EncoderDecoderModel, PreTrainedTokenizerBase]:
    """Build a BERT2BERT from a hub id (``dccuchile/bert-base-spanish-wwm-cased``,
    ``PlanTL-GOB-ES/roberta-base-bne``) or a local folder.

    ``decoder`` defaults to ``encoder``; ``share=True`` needs them to be the same checkpoint.
    ``seed`` fixes the random initialisation of the new cross-attention weights; ``revision``
    pins the hub checkpoint (both sides: encoder and decoder are the same hub id or it applies
    to the encoder only).
    """
    encoder_name = str(encoder)
    decoder_name = str(decoder) if decoder is not None else encoder_name
    if share and decoder_name != encoder_name:
        raise CheckpointError(
            f"share=True ties encoder and decoder weights, so both must be the same checkpoint; "
            f"got encoder {encoder_name} and decoder {decoder_name}."
        )
    revisions = {encoder_name: revision, decoder_name: revision if decoder is None else None}
    for name in dict.fromkeys((encoder_name, decoder_name)):
        _pretrained_encoder_only(name, revisions[name])
    tok = (
        load_tokenizer(tokenizer)
        if tokenizer is not None
        else load_tokenizer(encoder_name, revision)
    )
    with torch.random.fork_rng(
        devices=[]
    ):  # seeds the new weights without touching the caller's RNG
        torch.manual_seed(seed)
        encoder_model = _load_weights(AutoModel, encoder_name, revision)
        decoder_model = _load_weights(
            AutoModelForCausalLM,
            decoder_name,
            revisions[decoder_name],
            is_decoder=True,
            add_cross_attention=True,
        )
    for part, rows in (
        ("encoder", encoder_model.get_input_embeddings().num_embeddings),
        ("decoder", decoder_model.get_input_embeddings().num_embeddings),
    ):
        check_vocabulary(
            rows, tok, f"{decoder_name if part == 'decoder' else encoder_name} ({part})"
        )
    model = EncoderDecoderModel(encoder=encoder_model, decoder=decoder_model)
    if share:
        share_encoder_decoder(model)
    configure_generation(model, tok)
    return model, tok


def checkpoint_name(name_or_path: str | Path) -> str:
    """A short name: a hub id's last part, or a local folder's card name (else the folder's
    name)."""
    text = str(name_or_path)
    if not looks_like_path(text):
        return text.rsplit("/", 1)[-1]
    return card_name(text) or Path(text).name


def warm_start_card(summary: dict[str, Any]) -> dict[str, Any]:
    """Model card facts of a warm-started BERT2BERT (named ``<encoder>2<decoder>[-shared]``, as
    BETO2BETO)."""
    encoder, decoder = summary["encoder"], summary["decoder"]
    hub_encoder = not looks_like_path(encoder)
    return {
        "name": f"{checkpoint_name(encoder)}2{checkpoint_name(decoder)}"
        + ("-shared" if summary["share"] else ""),
        "base_model": encoder if hub_encoder else None,
        "tags": ["bert2bert", "warm-start"],
        "description": (
            f"A BERT2BERT encoder-decoder warm-started (Rothe et al. 2020) from `{encoder}`"
            + (f" (encoder) and `{decoder}` (decoder)" if decoder != encoder else "")
            + ": both sides start from its weights; the decoder gains a causal mask and randomly "
            f"initialised cross-attention (seed {summary['seed']})"
            + ("; every encoder weight is shared with the decoder" if summary["share"] else "")
            + ". Not fine-tuned."
        ),
        "architecture": {
            "class": "EncoderDecoderModel",
            "parameters": summary["parameters"],
            "shared encoder and decoder": summary["share"],
        },
        "limitations": [
            *size_limitations(summary["parameters"]),
            (
                "Warm-started only: its cross-attention is random, so it generates nothing useful "
                "until fine-tuned (`seq2seq-es finetune model=<this folder>`)."
            ),
        ],
    }


def build_bert2bert_checkpoint(
    encoder: str | Path,
    output: str | Path,
    decoder: str | Path | None = None,
    share: bool = False,
    seed: int = 0,
    revision: str | None = None,
) -> dict[str, Any]:
    """Warm start, save model + tokenizer + model card to ``output`` and record where it came
    from."""
    model, tokenizer = warm_start_bert2bert(
        encoder, decoder, share=share, seed=seed, revision=revision
    )
    save_seq2seq(model, tokenizer, output)
    summary = {
        "encoder": str(encoder),
        "decoder": str(decoder or encoder),
        "share": share,
        "seed": seed,
        "revision": revision,
        "parameters": count_parameters(model),
        "output": str(output),
    }
    write_model_card(output, warm_start_card(summary))
    write_json(Path(output) / "warm_start.json", summary)
    return summary
