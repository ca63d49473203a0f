"""The model families as one table: what each architecture is and what it needs, as data.

Why a table: presets, collators, model cards, fine-tuning, the CTranslate2 export and
``model info`` each need to know something about a family (its classes, its special ids,
its pretraining objective, whether CTranslate2 converts it). Asked of one row, a new
family is one row here plus the functions it names by key, instead of an ``if family ==``
in every module that meets it. The rows check themselves (``tests/models/test_families.py``,
litgpt's ``_check_commands()`` style): every preset's family is a row, every class a row
names exists in transformers, every objective it names exists in ``objectives``.

Light on purpose (no torch, no transformers import): command modules consult it at once.
Classes are named, not imported; ``transformers_class`` resolves a name when it is needed.

The special ids of a family are *roles* (``pad``, ``bos``, ``eos``, ``mask``) read from a
tokenizer attribute each (BERT's ``bos`` is its ``[CLS]``); ``decoder_start`` names the
role decoding starts from (fairseq BART: ``</s>``; T5: ``<pad>``; BERT2BERT: ``[CLS]``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from seq2seq_es.errors import ConfigError, Seq2SeqEsError

SEQ2SEQ_NEXT_STEP = "fine-tune it on a task (`seq2seq-es finetune model=<this folder>`)"


@dataclass(frozen=True)
class Family:
    """One row of the family table.

    ``model_types``: the transformers ``config.model_type`` values of the family.
    ``encoder_decoder``: False for an encoder-only family (a BERT masked LM), which is
    pretrained here only to warm-start a BERT2BERT and is never fine-tuned or decoded.
    ``objective``: the key of its pretraining objective in ``objectives.collators.OBJECTIVES``
    (None: not pretrained by this project). ``tokenizer``: the ``seq2seq-es tokenizer kind``
    it is pretrained with (bpe: byte-level BPE with BART's special tokens; unigram: T5's
    ids and ``<extra_id_N>`` sentinels; None: the checkpoint's own tokenizer).
    ``tokenizer_ids``: role → the tokenizer attributes that give it, first set one wins (T5
    has no ``<s>``, so its ``bos`` is ``<pad>``); every role is required, and
    ``ids_needed_for`` says why. ``default_ids``: the reference tokenizer's ids, used
    without a tokenizer.
    ``ct2_export``: CTranslate2 converts it and our export checks it against transformers.
    """

    name: str
    title: str
    model_types: tuple[str, ...]
    config_class: str
    model_class: str
    auto_class: str
    pipeline_tag: str
    encoder_decoder: bool
    objective: str | None
    tokenizer: Literal["bpe", "unigram"] | None
    decoder_start: str | None
    ct2_export: bool
    next_step: str
    tokenizer_ids: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: {
            "pad": ("pad_token_id",),
            "bos": ("bos_token_id", "pad_token_id"),  # T5: no <s>; generation starts from <pad>
            "eos": ("eos_token_id",),
        }
    )
    ids_needed_for: str = "a seq2seq model needs pad and eos"
    default_ids: Mapping[str, int] | None = None
    warm_starts_from: tuple[str, ...] = ()


FAMILIES: dict[str, Family] = {
    "bart": Family(
        name="bart",
        title="BART",
        model_types=("bart",),
        config_class="BartConfig",
        model_class="BartForConditionalGeneration",
        auto_class="AutoModelForSeq2SeqLM",
        pipeline_tag="text2text-generation",
        encoder_decoder=True,
        objective="bart-denoising",
        tokenizer="bpe",
        decoder_start="eos",  # fairseq BART starts decoding from </s> (and forces </s> last)
        ct2_export=True,
        next_step=SEQ2SEQ_NEXT_STEP,
        default_ids={"pad": 1, "bos": 0, "eos": 2},  # BART/RoBERTa: <s>=0 <pad>=1 </s>=2
    ),
    "t5": Family(
        name="t5",
        title="T5",
        model_types=("t5",),
        config_class="T5Config",
        model_class="T5ForConditionalGeneration",
        auto_class="AutoModelForSeq2SeqLM",
        pipeline_tag="text2text-generation",
        encoder_decoder=True,
        objective="span-corruption",
        tokenizer="unigram",
        decoder_start="pad",  # T5 starts decoding from <pad>
        ct2_export=True,
        next_step=SEQ2SEQ_NEXT_STEP,
        default_ids={"pad": 0, "bos": 0, "eos": 1},  # T5: <pad>=0 </s>=1, no <s>
    ),
    "bert": Family(
        name="bert",
        title="BERT (encoder-only masked LM)",
        model_types=("bert",),
        config_class="BertConfig",
        model_class="BertForMaskedLM",
        auto_class="AutoModelForMaskedLM",
        pipeline_tag="fill-mask",
        encoder_decoder=False,
        objective="masked-lm",
        tokenizer="bpe",
        decoder_start=None,
        ct2_export=False,
        next_step=(
            "warm-start a BERT2BERT from it (`seq2seq-es model bert2bert <this folder> --output "
            "FOLDER`) and fine-tune that"
        ),
        # CLS/SEP play bos/eos, so that the BERT2BERT warm start finds them.
        tokenizer_ids={
            "pad": ("pad_token_id",),
            "bos": ("cls_token_id",),
            "eos": ("sep_token_id",),
            "mask": ("mask_token_id",),
        },
        ids_needed_for=(
            "a BERT preset needs PAD and MASK for masked language modelling and CLS/SEP for the "
            "BERT2BERT warm start"
        ),
        default_ids={"pad": 0, "bos": 101, "eos": 102},  # BERT: [PAD]=0 [CLS]=101 [SEP]=102
    ),
    "bert2bert": Family(
        name="bert2bert",
        title="BERT2BERT (EncoderDecoderModel)",
        model_types=("encoder-decoder",),
        config_class="EncoderDecoderConfig",
        model_class="EncoderDecoderModel",
        auto_class="AutoModelForSeq2SeqLM",
        pipeline_tag="text2text-generation",
        encoder_decoder=True,
        objective=None,  # warm-started from a pretrained encoder (`seq2seq-es model bert2bert`)
        tokenizer=None,
        decoder_start="bos",  # the encoder's [CLS] / <s>
        ct2_export=False,
        next_step=SEQ2SEQ_NEXT_STEP,
        # BERT encodes [CLS] text [SEP], RoBERTa <s> text </s>: the decoder starts from the
        # first and stops at the second.
        tokenizer_ids={
            "pad": ("pad_token_id",),
            "bos": ("cls_token_id", "bos_token_id"),
            "eos": ("sep_token_id", "eos_token_id"),
        },
        ids_needed_for=(
            "a BERT2BERT decoder needs CLS (or BOS) to start, SEP (or EOS) to stop and PAD"
        ),
        # Encoders with a causal-LM variant that supports cross-attention.
        warm_starts_from=("bert", "roberta", "xlm-roberta", "camembert", "electra"),
    ),
    "led": Family(
        name="led",
        title="LED (Longformer encoder-decoder)",
        model_types=("led",),
        config_class="LEDConfig",
        model_class="LEDForConditionalGeneration",
        auto_class="AutoModelForSeq2SeqLM",
        pipeline_tag="text2text-generation",
        encoder_decoder=True,
        objective=None,  # converted from a BART (`seq2seq-es model to-led`)
        tokenizer="bpe",
        decoder_start="eos",  # as the BART it comes from
        ct2_export=False,
        next_step=SEQ2SEQ_NEXT_STEP,
    ),
}


def family_names() -> list[str]:
    return sorted(FAMILIES)


def get_family(name: str) -> Family:
    """The row named ``name``, or a ``ConfigError`` listing the rows."""
    if name not in FAMILIES:
        raise ConfigError(
            f"Unknown model family {name!r}. Known families: {', '.join(family_names())}."
        )
    return FAMILIES[name]


def family_of_model_type(model_type: str) -> Family | None:
    """The row whose ``model_types`` hold a transformers ``config.model_type`` (None: no row)."""
    for family in FAMILIES.values():
        if model_type in family.model_types:
            return family
    return None


def warm_start_types() -> tuple[str, ...]:
    """Encoder model types a BERT2BERT can be warm-started from (every row's, in table order)."""
    return tuple(kind for family in FAMILIES.values() for kind in family.warm_starts_from)


def tokenizer_special_ids(
    family: Family, tokenizer: Any, advice: str, error: type[Seq2SeqEsError] = ConfigError
) -> dict[str, int]:
    """Each of the family's id roles read from ``tokenizer``, or ``error`` naming the tokens
    it lacks (``PAD``, ``CLS``, ...), why the family needs them, and ``advice``."""
    ids: dict[str, int] = {}
    missing: list[str] = []
    for role, attributes in family.tokenizer_ids.items():
        value = next(
            (v for v in (getattr(tokenizer, name, None) for name in attributes) if v is not None),
            None,
        )
        if value is None:
            missing.append(attributes[0].removesuffix("_token_id").upper())
        else:
            ids[role] = int(value)
    if missing:
        raise error(
            f"The tokenizer has no {' / '.join(missing)} token; {family.ids_needed_for}. {advice}"
        )
    return ids


# The tokenizers library's model classes, by the ``Family.tokenizer`` kind they are.
TOKENIZER_MODEL_KINDS = {"BPE": "bpe", "Unigram": "unigram"}


def tokenizer_kind(tokenizer: Any) -> str | None:
    """``bpe`` or ``unigram``: the vocabulary model inside a fast tokenizer (None: neither, such as
    BERT's WordPiece, or no tokenizers backend to ask)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    model = getattr(backend, "model", None)
    return TOKENIZER_MODEL_KINDS.get(type(model).__name__) if model is not None else None


def check_tokenizer_family(family: Family, tokenizer: Any, model: str, source: str) -> None:
    """Refuse a tokenizer of another family's kind (a BART trained through T5's unigram ids).

    Why: ids alone cannot tell; a T5 tokenizer has a pad and an eos, so a BART config built
    from it is valid, trains, and is not a BART (no ``<s>``, no ``<mask>``, another
    segmentation), and nothing downstream can load it as one. The one rule of every command
    that pairs a model with a tokenizer it did not come with (``pretrain``, ``finetune``).
    A tokenizer whose kind cannot be read, or a family without a kind, passes.
    """
    kind = tokenizer_kind(tokenizer)
    if family.tokenizer is None or kind is None or kind == family.tokenizer:
        return
    users = [row.title for row in FAMILIES.values() if row.tokenizer == kind]
    raise ConfigError(
        f"model={model} is a {family.title} model but tokenizer={source} is a {kind} tokenizer "
        f"(the kind of {', '.join(users)}), so its ids would not mean what a {family.title} "
        f"expects. Use a {family.tokenizer} tokenizer: train one with `seq2seq-es tokenizer "
        f"kind={family.tokenizer}`, or pass the tokenizer saved with the model."
    )


def transformers_class(name: str) -> Any:
    """A transformers class by the name a row gives (imports transformers: call it late)."""
    import transformers

    return getattr(transformers, name)
