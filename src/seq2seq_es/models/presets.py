"""Model presets as plain data (one table, litgpt style), built into transformers models.

Why a table: presets differ only in numbers; one builder turns any row into a
``BartConfig`` or ``T5Config`` so there are no per-preset subclasses, and outputs load
anywhere with ``AutoModelForSeq2SeqLM.from_pretrained``.

The ``*-base`` rows are the paper's models (arXiv 2309.11259): BARTO is BART-base
(fairseq ``bart.base``: 6+6 layers, d768, 12 heads, FFN 3072, 1,024 positions, byte-level
BPE of 50,264 tokens, ~140M parameters); T5S is T5 v1.1-base (12+12 layers, d768,
d_ff 2,048, gated-GELU, untied LM head, vocab 32,128, no dropout in pretraining, as in
nanoT5). ``*-tiny`` / ``*-small`` keep the same shape of config at CPU sizes.

``bert-tiny`` is an encoder-only BERT (masked language model), sized like ``barto-tiny``
(d128, 2 layers, FFN 512, 512 positions): it is pretrained here only to warm-start a
BERT2BERT from it (``models/bert2bert.py``), as the paper's BETO2BETO starts from BETO,
so its 2 layers become a 2+2-layer encoder-decoder, the depth of ``barto-tiny``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

import torch
from transformers import (
    BartConfig,
    BartForConditionalGeneration,
    BertConfig,
    BertForMaskedLM,
    PreTrainedConfig,
    PreTrainedTokenizerBase,
    T5Config,
    T5ForConditionalGeneration,
)

from seq2seq_es.errors import ConfigError

Family = Literal["bart", "t5", "bert"]
PresetModel = BartForConditionalGeneration | T5ForConditionalGeneration | BertForMaskedLM


@dataclass(frozen=True)
class Preset:
    """One row of the preset table.

    ``vocab_size`` is the paper's vocabulary: it is used when no tokenizer is given
    (parameter counts, ``model info``); with a tokenizer the model takes the tokenizer's size.
    """

    family: Family
    d_model: int
    encoder_layers: int
    decoder_layers: int
    heads: int
    ffn_dim: int
    vocab_size: int
    dropout: float
    max_positions: int | None = (
        None  # BART's and BERT's learned positions; T5 uses relative buckets
    )
    d_kv: int | None = None  # T5 head size (d_model / heads in T5 v1.1)
    tie_lm_head: bool = True  # T5 v1.1 unties the LM head from the embeddings
    paper_parameters: int | None = None  # the count the paper / reference checkpoint reports
    description: str = ""


PRESETS: dict[str, Preset] = {
    "barto-tiny": Preset(
        "bart",
        d_model=128,
        encoder_layers=2,
        decoder_layers=2,
        heads=4,
        ffn_dim=512,
        vocab_size=8000,
        dropout=0.1,
        max_positions=512,
        description="~2M-parameter BART for tests and the demo (CPU, minutes).",
    ),
    "barto-small": Preset(
        "bart",
        d_model=256,
        encoder_layers=4,
        decoder_layers=4,
        heads=4,
        ffn_dim=1024,
        vocab_size=8000,
        dropout=0.1,
        max_positions=1024,
        description="~10M-parameter BART for CPU experiments.",
    ),
    "barto-base": Preset(
        "bart",
        d_model=768,
        encoder_layers=6,
        decoder_layers=6,
        heads=12,
        ffn_dim=3072,
        vocab_size=50_264,
        dropout=0.1,
        max_positions=1024,
        paper_parameters=140_000_000,
        description="BARTO as in the paper: BART-base (vgaraujov/bart-base-spanish).",
    ),
    "t5s-tiny": Preset(
        "t5",
        d_model=128,
        encoder_layers=2,
        decoder_layers=2,
        heads=4,
        ffn_dim=384,
        vocab_size=8000,
        dropout=0.0,
        d_kv=32,
        tie_lm_head=False,
        description="~3M-parameter T5 v1.1-style model for tests (CPU, minutes).",
    ),
    "t5s-small": Preset(
        "t5",
        d_model=256,
        encoder_layers=4,
        decoder_layers=4,
        heads=4,
        ffn_dim=768,
        vocab_size=8000,
        dropout=0.0,
        d_kv=64,
        tie_lm_head=False,
        description="~12M-parameter T5 v1.1-style model for CPU experiments.",
    ),
    "t5s-base": Preset(
        "t5",
        d_model=768,
        encoder_layers=12,
        decoder_layers=12,
        heads=12,
        ffn_dim=2048,
        vocab_size=32_128,
        dropout=0.0,
        d_kv=64,
        tie_lm_head=False,
        paper_parameters=248_000_000,
        description="T5S as in the paper: T5 v1.1-base (vgaraujov/t5-base-spanish).",
    ),
    "bert-tiny": Preset(
        "bert",
        d_model=128,
        encoder_layers=2,
        decoder_layers=0,
        heads=4,
        ffn_dim=512,
        vocab_size=8000,
        dropout=0.1,
        max_positions=512,
        description="~1.5M-parameter BERT (masked LM) to warm-start a tiny BERT2BERT from "
        "(encoder-only: pretrain it, then `seq2seq-es model bert2bert`).",
    ),
}

# Special-token ids used when no tokenizer is given: the conventions of each family's
# reference tokenizer (BART/RoBERTa: <s>=0 <pad>=1 </s>=2; T5: <pad>=0 </s>=1;
# BERT: [PAD]=0 [CLS]=101 [SEP]=102, as bos/eos).
_DEFAULT_IDS: dict[Family, dict[str, int]] = {
    "bart": {"pad": 1, "bos": 0, "eos": 2},
    "t5": {"pad": 0, "bos": 0, "eos": 1},
    "bert": {"pad": 0, "bos": 101, "eos": 102},
}


def preset_names() -> list[str]:
    return sorted(PRESETS)


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise ConfigError(
            f"Unknown model preset {name!r}. Valid presets: {', '.join(preset_names())}."
        )
    return PRESETS[name]


def _special_ids(preset: Preset, tokenizer: PreTrainedTokenizerBase | None) -> dict[str, int]:
    if tokenizer is None:
        return dict(_DEFAULT_IDS[preset.family])
    if preset.family == "bert":
        return _bert_special_ids(tokenizer)
    ids = {
        "pad": tokenizer.pad_token_id,
        "bos": tokenizer.bos_token_id,
        "eos": tokenizer.eos_token_id,
    }
    missing = [name for name in ("pad", "eos") if ids[name] is None]
    if missing:
        raise ConfigError(
            f"The tokenizer has no {' / '.join(missing)} token; a seq2seq model needs pad and eos. "
            "Train it with `seq2seq-es tokenizer` or add the special tokens."
        )
    if ids["bos"] is None:
        ids["bos"] = ids["pad"]  # T5-style tokenizers have no <s>; generation starts from <pad>
    return {k: int(v) for k, v in ids.items()}


def _bert_special_ids(tokenizer: PreTrainedTokenizerBase) -> dict[str, int]:
    """A BERT needs PAD, and MASK to pretrain; CLS/SEP (as bos/eos) to become a BERT2BERT later."""
    ids = {
        "pad": tokenizer.pad_token_id,
        "bos": tokenizer.cls_token_id,
        "eos": tokenizer.sep_token_id,
        "mask": tokenizer.mask_token_id,
    }
    missing = [
        name
        for name, key in (("PAD", "pad"), ("CLS", "bos"), ("SEP", "eos"), ("MASK", "mask"))
        if ids[key] is None
    ]
    if missing:
        raise ConfigError(
            f"The tokenizer has no {' / '.join(missing)} token; a BERT preset needs PAD and MASK "
            "for masked language modelling and CLS/SEP for the BERT2BERT warm start. Train it "
            "with `seq2seq-es tokenizer` (byte-level BPE: <s>, </s>, <pad>, <mask>)."
        )
    return {k: int(v) for k, v in ids.items() if v is not None}


def build_config(
    preset: str, tokenizer: PreTrainedTokenizerBase | None = None, dropout: float | None = None
) -> PreTrainedConfig:
    """A transformers config for ``preset`` whose vocabulary and special ids match ``tokenizer``.

    ``tokenizer=None`` uses the preset's own vocabulary size and the family's default ids.
    ``dropout=None`` uses the preset's pretraining dropout (0 for T5S, as in T5 v1.1 / nanoT5).
    """
    row = get_preset(preset)
    ids = _special_ids(row, tokenizer)
    vocab_size = len(tokenizer) if tokenizer is not None else row.vocab_size
    rate = row.dropout if dropout is None else dropout
    if row.family == "bert":
        assert row.max_positions is not None, f"BERT preset {preset} needs max_positions"
        return BertConfig(
            vocab_size=vocab_size,
            hidden_size=row.d_model,
            num_hidden_layers=row.encoder_layers,
            num_attention_heads=row.heads,
            intermediate_size=row.ffn_dim,
            max_position_embeddings=row.max_positions,
            hidden_dropout_prob=rate,
            attention_probs_dropout_prob=rate,
            pad_token_id=ids["pad"],
            bos_token_id=ids["bos"],
            eos_token_id=ids["eos"],
        )
    if row.family == "bart":
        assert row.max_positions is not None, f"BART preset {preset} needs max_positions"
        return BartConfig(
            vocab_size=vocab_size,
            d_model=row.d_model,
            encoder_layers=row.encoder_layers,
            decoder_layers=row.decoder_layers,
            encoder_attention_heads=row.heads,
            decoder_attention_heads=row.heads,
            encoder_ffn_dim=row.ffn_dim,
            decoder_ffn_dim=row.ffn_dim,
            max_position_embeddings=row.max_positions,
            dropout=rate,
            pad_token_id=ids["pad"],
            bos_token_id=ids["bos"],
            eos_token_id=ids["eos"],
            # fairseq BART starts decoding from </s> and forces </s> last.
            decoder_start_token_id=ids["eos"],
            forced_eos_token_id=ids["eos"],
        )
    # T5 v1.1: gated-GELU FFN, no decoder-output rescaling (``tie_word_embeddings=False`` is
    # how transformers 5 recognises v1.1; it ties the LM head anyway, see ``build_model``).
    generic: dict[str, Any] = {
        "tie_word_embeddings": row.tie_lm_head,
        "decoder_start_token_id": ids["pad"],
    }
    return T5Config(
        vocab_size=vocab_size,
        d_model=row.d_model,
        d_kv=row.d_kv or row.d_model // row.heads,
        d_ff=row.ffn_dim,
        num_layers=row.encoder_layers,
        num_decoder_layers=row.decoder_layers,
        num_heads=row.heads,
        feed_forward_proj="gated-gelu",
        dropout_rate=rate,
        pad_token_id=ids["pad"],
        eos_token_id=ids["eos"],
        **generic,
    )


def untie_lm_head(model: T5ForConditionalGeneration) -> None:
    """Give a T5 model its own LM head, as T5 v1.1 has (the 24.7M extra parameters of T5S).

    transformers 5 always ties ``lm_head`` to ``shared`` when building a T5 from a config
    (the flag only controls output scaling, huggingface/transformers#42815). Checkpoints
    that store a different ``lm_head`` load untied, so a fresh head, initialised as the T5
    reference does (normal, std = initializer_factor), saves and reloads untied.
    """
    head = torch.empty_like(model.shared.weight)
    if head.device.type != "meta":
        head.normal_(mean=0.0, std=model.config.initializer_factor)
    model.lm_head.weight = torch.nn.Parameter(head)
    model.all_tied_weights_keys.pop("lm_head.weight", None)


def build_model(
    preset: str,
    tokenizer: PreTrainedTokenizerBase | None = None,
    seed: int = 0,
    dropout: float | None = None,
) -> PresetModel:
    """A randomly initialised model for ``preset``; ``seed`` fixes the initial weights.

    The weights come from a forked RNG, so building a model leaves torch's global random
    state as it found it (the caller's streams do not depend on whether a model was built).
    """
    config = build_config(preset, tokenizer, dropout=dropout)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if isinstance(config, BartConfig):
            return BartForConditionalGeneration(config)
        if isinstance(config, BertConfig):
            return BertForMaskedLM(config)
        assert isinstance(config, T5Config)
        model = T5ForConditionalGeneration(config)
        if not PRESETS[preset].tie_lm_head:
            untie_lm_head(model)  # inside the seeded fork: the head is part of the initial weights
        return model


def build_empty_model(preset: str) -> PresetModel:
    """The preset's model on the ``meta`` device: shapes without memory, for parameter counts."""
    with torch.device("meta"):
        return build_model(preset)


def count_parameters(model: Any) -> int:
    """Unique trainable parameters (tied embeddings counted once)."""
    seen: set[int] = set()
    total = 0
    for param in model.parameters():
        if id(param) not in seen and param.requires_grad:
            seen.add(id(param))
            total += param.numel()
    return total


def preset_table() -> list[dict[str, Any]]:
    """Every preset as a flat dict, with its parameter count at the preset vocabulary."""
    rows = []
    for name in preset_names():
        row = {"name": name, **dataclasses.asdict(PRESETS[name])}
        row["parameters"] = count_parameters(build_empty_model(name))
        rows.append(row)
    return rows
