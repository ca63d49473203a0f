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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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
from seq2seq_es.models.families import (
    check_tokenizer_family,
    get_family,
    tokenizer_special_ids,
    transformers_class,
)
from seq2seq_es.tokenizer.save import load_tokenizer_folder

PresetModel = BartForConditionalGeneration | T5ForConditionalGeneration | BertForMaskedLM


@dataclass(frozen=True)
class Preset:
    """One row of the preset table.

    ``vocab_size`` is the paper's vocabulary: it is used when no tokenizer is given
    (parameter counts, ``model info``); with a tokenizer the model takes the tokenizer's size.
    """

    family: str  # a row of ``models/families.py``
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


def preset_names() -> list[str]:
    return sorted(PRESETS)


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise ConfigError(
            f"Unknown model preset {name!r}. Valid presets: {', '.join(preset_names())}."
        )
    return PRESETS[name]


def pretraining_objective(name: str) -> str:
    """The key of the preset's pretraining objective in ``objectives.collators.OBJECTIVES``."""
    family = get_family(get_preset(name).family)
    if family.objective is None:
        raise ConfigError(f"Preset {name!r} ({family.title}) has no pretraining objective.")
    return family.objective


def preset_tokenizer(preset: str, folder: str) -> PreTrainedTokenizerBase:
    """The tokenizer folder a preset is built on (``pretrain``, ``finetune`` from random weights),
    refused when it is another family's kind (``families.check_tokenizer_family``)."""
    tokenizer = load_tokenizer_folder(folder)
    check_tokenizer_family(get_family(get_preset(preset).family), tokenizer, preset, folder)
    return tokenizer


def special_ids(preset: Preset, tokenizer: PreTrainedTokenizerBase | None) -> dict[str, int]:
    """The preset's special ids by role (``models/families.py``), ``decoder_start`` included:
    the tokenizer's, or without one the conventions of the family's reference tokenizer."""
    family = get_family(preset.family)
    if tokenizer is None:
        assert family.default_ids is not None, f"family {family.name} has no default ids"
        ids = dict(family.default_ids)
    else:
        ids = tokenizer_special_ids(
            family,
            tokenizer,
            f"Train it with `seq2seq-es tokenizer kind={family.tokenizer}` or add the special "
            "tokens.",
        )
    if family.decoder_start is not None:
        ids["decoder_start"] = ids[family.decoder_start]
    return ids


def build_config(
    preset: str, tokenizer: PreTrainedTokenizerBase | None = None, dropout: float | None = None
) -> PreTrainedConfig:
    """A transformers config for ``preset`` whose vocabulary and special ids match ``tokenizer``.

    ``tokenizer=None`` uses the preset's own vocabulary size and the family's default ids.
    ``dropout=None`` uses the preset's pretraining dropout (0 for T5S, as in T5 v1.1 / nanoT5).
    """
    row = get_preset(preset)
    ids = special_ids(row, tokenizer)
    vocab_size = len(tokenizer) if tokenizer is not None else row.vocab_size
    rate = row.dropout if dropout is None else dropout
    return CONFIG_BUILDERS[row.family](row, ids, vocab_size, rate)


def _bert_config(row: Preset, ids: dict[str, int], vocab_size: int, rate: float) -> BertConfig:
    assert row.max_positions is not None, "a BERT preset needs max_positions"
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


def _bart_config(row: Preset, ids: dict[str, int], vocab_size: int, rate: float) -> BartConfig:
    assert row.max_positions is not None, "a BART preset needs max_positions"
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
        decoder_start_token_id=ids["decoder_start"],
        forced_eos_token_id=ids["eos"],  # fairseq BART forces </s> last
    )


def _t5_config(row: Preset, ids: dict[str, int], vocab_size: int, rate: float) -> T5Config:
    # T5 v1.1: gated-GELU FFN, no decoder-output rescaling (``tie_word_embeddings=False`` is
    # how transformers 5 recognises v1.1; it ties the LM head anyway, see ``build_model``).
    generic: dict[str, Any] = {
        "tie_word_embeddings": row.tie_lm_head,
        "decoder_start_token_id": ids["decoder_start"],
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


# How a preset row becomes a transformers config, per family (the families a preset may be:
# ``tests/models/test_families.py`` checks that every preset's family has a builder).
CONFIG_BUILDERS: dict[str, Callable[[Preset, dict[str, int], int, float], PreTrainedConfig]] = {
    "bart": _bart_config,
    "t5": _t5_config,
    "bert": _bert_config,
}


# jax's ``variance_scaling(..., "truncated_normal")`` draws from a normal cut at two standard
# deviations and divides by that distribution's standard deviation, so the draws keep the
# intended one: this constant (scipy.stats.truncnorm.std(-2, 2)).
_TRUNCATED_NORMAL_STD = 0.87962566103423978


def untie_lm_head(model: T5ForConditionalGeneration) -> None:
    """Give a T5 model its own LM head, as T5 v1.1 has (the 24.7M extra parameters of T5S).

    transformers 5 always ties ``lm_head`` to ``shared`` when building a T5 from a config
    (the flag only controls output scaling, huggingface/transformers#42815). Checkpoints
    that store a different ``lm_head`` load untied, so a fresh head saves and reloads untied.

    The head is initialised as t5x initialises ``logits_dense`` (``DenseGeneral``'s default,
    ``variance_scaling(1.0, "fan_in", "truncated_normal")``: std ``d_model ** -0.5``), not as
    transformers does (normal, std 1.0, the tied embedding's scale, huggingface/transformers
    #26441, nanoT5#25): an untied v1.1 head is not rescaled by ``d_model ** -0.5``, so std 1.0
    gives logits of std about ``sqrt(d_model)`` and a first loss of 114 for t5s-base instead of
    about ln(vocab) = 10.4 (tests/models/test_presets.py).
    """
    head = torch.empty_like(model.shared.weight)
    if head.device.type != "meta":
        std = model.config.initializer_factor * model.config.d_model**-0.5 / _TRUNCATED_NORMAL_STD
        torch.nn.init.trunc_normal_(head, mean=0.0, std=std, a=-2 * std, b=2 * std)
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
        model = transformers_class(get_family(PRESETS[preset].family).model_class)(config)
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
