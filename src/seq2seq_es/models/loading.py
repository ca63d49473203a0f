"""Load and save any seq2seq model (ours, or a hub id such as mT5, mBART-50, flan-t5) one way.

Why one function: the fine-tuning and evaluation harness runs BARTO, T5S, LEDO, BERT2BERT
and multilingual baselines side by side, so they must all enter through the same door with
the same checks: the model really is an encoder-decoder, the tokenizer fits its embedding
table, and a hub id that cannot be reached says how to use a local folder instead of
printing a stack trace.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from safetensors import SafetensorError
from transformers import (
    AutoConfig,
    AutoModelForSeq2SeqLM,
    AutoTokenizer,
    EncoderDecoderModel,
    GenerationConfig,
    PreTrainedConfig,
    PreTrainedTokenizerBase,
)
from transformers.models.auto.modeling_auto import MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES

from seq2seq_es.config import closest
from seq2seq_es.errors import CheckpointError
from seq2seq_es.files import atomic_dir
from seq2seq_es.models.families import (
    check_tokenizer_family,
    family_of_model_type,
    warm_start_types,
)
from seq2seq_es.models.presets import preset_names
from seq2seq_es.models.sharing import share_encoder_decoder, state_dict_for_saving
from seq2seq_es.tokenizer.save import load_tokenizer_folder

# Embedding tables are often padded past the tokenizer for speed (T5: 32,128 rows for
# 32,100 tokens; mT5: 250,112 for 250,100). More spare rows than this means another
# model's tokenizer.
EMBEDDING_PADDING_SLACK = 128
LOG = logging.getLogger(__name__)


def looks_like_path(name_or_path: str) -> bool:
    """A string the user meant as a folder, never to be tried on the Hub: it exists; or it is
    written as a path (``./``, ``../``, ``/``, ``~``, a backslash, more than one ``/``); or its
    first component is a local folder (``runs/my-modle`` beside ``runs/``). Anything else with one
    ``/`` is a Hub id (``google/mt5-small``)."""
    first, slash, _ = name_or_path.partition("/")
    return (
        Path(name_or_path).exists()
        or name_or_path.startswith((".", "/", "~"))
        or name_or_path.count("/") > 1
        or "\\" in name_or_path
        or (bool(slash) and Path(first).expanduser().is_dir())
    )


def resolve_name(name_or_path: str | Path) -> str:
    """The one rule of every model and tokenizer name: a local folder (checked at once, with a
    did-you-mean among its siblings) or a Hub id (left to transformers). Why here: a typo of a
    folder or a preset was tried on the Hub, 30 s of retries ending in a message about the
    network."""
    name = str(name_or_path)
    if looks_like_path(name):
        path = Path(name).expanduser()
        if not path.is_dir():
            raise CheckpointError(
                f"{path}: no such model folder.{sibling_hint(path)} Pass a folder written by "
                "`save_pretrained` (it holds config.json) or a Hugging Face Hub id such as "
                "google/mt5-small."
            )
        if not (path / "config.json").is_file():
            raise CheckpointError(
                f"{path}: no model here (config.json missing). Pass a folder written by "
                "`seq2seq-es pretrain`, `finetune` or `save_pretrained`."
            )
        return str(path)
    typo = preset_typo(name)
    if typo is not None:
        raise CheckpointError(
            f"{name!r} is no preset and no local folder. Did you mean {typo!r}? Presets: "
            f"{', '.join(preset_names())}. A Hugging Face Hub model is written with its "
            "organisation (google-t5/t5-small); a folder as a path (./model)."
        )
    return name


def preset_typo(name: str) -> str | None:
    """The preset a bare ``name`` misspells: same family prefix (``barto-``, ``t5s-``), a close
    rest (``barto-tinny``). Only then: Hub ids without an organisation are close to presets too
    (``t5-small``, ``roberta-base``, ``bert-base-cased``) and must still reach the Hub."""
    if "/" in name:
        return None
    head, _, rest = name.partition("-")
    sizes = [p.partition("-")[2] for p in preset_names() if p.partition("-")[0] == head]
    close = closest(rest, sizes) if rest else None
    return f"{head}-{close}" if close else None


def sibling_hint(path: Path) -> str:
    """`` Did you mean 'runs/my-model'?`` when a folder beside ``path`` has a close name."""
    if not path.parent.is_dir():
        return ""
    close = closest(path.name, sorted(c.name for c in path.parent.iterdir() if c.is_dir()))
    return f" Did you mean {str(path.parent / close)!r}?" if close else ""


def unreachable_hub_error(name: str, exc: BaseException) -> CheckpointError:
    """The error for a hub id that could not be loaded: why, and how to use a local folder."""
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return CheckpointError(
        f"Could not load {name!r} from the Hugging Face Hub ({reason}); no local folder of that "
        "name exists either. If the id is right and this machine is offline, download it where "
        f"there is network (`hf download {name} --local-dir models/{name.replace('/', '--')}`), "
        "copy the folder here and pass its path instead of the id."
    )


def hub_revision(name: str, revision: str | None) -> dict[str, Any]:
    """``from_pretrained``'s ``revision`` for a hub id (a commit, tag or branch); nothing for a
    local folder or when unpinned. Why pin: a hub model can be replaced under its id (the Hub's
    T5S was, on 2024-03-06), and a reproduction must load the weights its numbers came from."""
    return {"revision": revision} if revision and not Path(name).is_dir() else {}


def load_model_config(name_or_path: str | Path, revision: str | None = None) -> PreTrainedConfig:
    """The transformers config of a local folder or hub id, with clear errors."""
    name = resolve_name(name_or_path)
    try:
        return AutoConfig.from_pretrained(name, **hub_revision(name, revision))
    except (OSError, ValueError, KeyError) as exc:
        if Path(name).is_dir():
            raise CheckpointError(
                f"{name}/config.json cannot be read by transformers: {exc}"
            ) from exc
        raise unreachable_hub_error(name, exc) from exc


def load_tokenizer(
    name_or_path: str | Path, revision: str | None = None
) -> PreTrainedTokenizerBase:
    """A local folder's tokenizer (``tokenizer.save.load_tokenizer_folder``: ``TokenizerError``)
    or a hub id's (at ``revision``). A tokenizer folder needs no config.json."""
    folder = Path(name_or_path).expanduser()
    if folder.is_dir():
        return load_tokenizer_folder(folder)
    name = resolve_name(name_or_path)
    try:
        return AutoTokenizer.from_pretrained(name, **hub_revision(name, revision))
    except (OSError, ValueError, KeyError) as exc:
        raise unreachable_hub_error(name, exc) from exc


def is_seq2seq(config: PreTrainedConfig) -> bool:
    return bool(getattr(config, "is_encoder_decoder", False)) and (
        config.model_type in MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES
    )


def require_seq2seq(config: PreTrainedConfig, name: str) -> None:
    if is_seq2seq(config):
        return
    architectures = (
        ", ".join(getattr(config, "architectures", None) or []) or "no architectures listed"
    )
    hint = ""
    if config.model_type in warm_start_types():
        hint = (
            " An encoder-only checkpoint can become a seq2seq model by warm starting: "
            f"`seq2seq-es model bert2bert {name}` (BERT2BERT, optionally --share)."
        )
    raise CheckpointError(
        f"{name} is a {config.model_type!r} model ({architectures}), not a sequence-to-sequence "
        f"(encoder-decoder) model, so it cannot be fine-tuned or decoded here.{hint}"
    )


def check_vocabulary(embedding_rows: int, tokenizer: PreTrainedTokenizerBase, source: str) -> None:
    """Fail when the tokenizer does not belong to the model's embedding table.

    More tokens than rows would index past the table (a crash deep in the forward pass, or
    silent garbage on some devices); many more rows than tokens means another model's
    tokenizer (ids decode to the wrong words). A few spare rows are padding and fine.
    """
    tokens = len(tokenizer)
    if tokens > embedding_rows or embedding_rows - tokens > EMBEDDING_PADDING_SLACK:
        raise CheckpointError(
            f"{source}: the tokenizer has {tokens:,} tokens but the model's embedding table has "
            f"{embedding_rows:,} rows, so this tokenizer does not belong to this model. Use the "
            "tokenizer saved with the checkpoint (same folder or hub id), or resize the "
            "embeddings on purpose (`model.resize_token_embeddings(len(tokenizer))`) and "
            "fine-tune."
        )


def load_seq2seq(
    name_or_path: str | Path, tokenizer: str | Path | None = None, revision: str | None = None
) -> tuple[Any, PreTrainedTokenizerBase]:
    """Load ``(model, tokenizer)`` from a local folder or hub id (mT5, mBART-50, flan-t5, ours);
    ``revision`` pins a hub id's commit (config, tokenizer and weights alike); ``tokenizer``
    replaces the model's own, and must be of its family's kind and fit its embeddings.

    A BERT2BERT saved with shared encoder/decoder (``tie_encoder_decoder`` in its config)
    is shared again after loading, so fine-tuning keeps one set of weights.
    """
    name = resolve_name(name_or_path)
    config = load_model_config(name, revision)
    require_seq2seq(config, name)
    tok = load_tokenizer(tokenizer) if tokenizer is not None else load_tokenizer(name, revision)
    family = family_of_model_type(config.model_type)
    if tokenizer is not None and family is not None:
        check_tokenizer_family(family, tok, name, str(tokenizer))
    try:
        model = AutoModelForSeq2SeqLM.from_pretrained(name, **hub_revision(name, revision))
    except (
        OSError,
        ValueError,
        SafetensorError,
    ) as exc:  # SafetensorError: a truncated weights file
        if Path(name).is_dir():
            raise CheckpointError(
                f"{name}: the weights cannot be loaded ({exc}). The folder may be partial; "
                "save it again with `save_pretrained`."
            ) from exc
        raise unreachable_hub_error(name, exc) from exc
    if isinstance(model, EncoderDecoderModel) and getattr(
        model.config, "tie_encoder_decoder", False
    ):
        share_encoder_decoder(model)
    adopt_config_generation_settings(model, name, revision)
    check_vocabulary(model.get_input_embeddings().num_embeddings, tok, name)
    return model, tok


def adopt_config_generation_settings(
    model: Any, name: str, revision: str | None = None
) -> dict[str, Any]:
    """Move generation settings left in ``config.json`` into the model's generation config.

    Why: checkpoints published before generation configs existed keep their decoding in
    ``config.json`` (BARTO: ``num_beams`` 4, ``no_repeat_ngram_size`` 3, forced BOS/EOS).
    transformers 5 reads them only when the checkpoint has no ``generation_config.json``;
    beside one that holds only the special ids, it silently decodes greedily. A setting is
    moved only where the generation config leaves it at transformers' default, so a
    generation config that says otherwise wins; ``revision`` is the hub commit the model was
    loaded at. Returns what was moved (logged).
    """
    try:
        raw, _ = PreTrainedConfig.get_config_dict(name, **hub_revision(name, revision))
    except (OSError, ValueError):
        return {}
    legacy = GenerationConfig.from_model_config(raw).to_diff_dict()
    default = GenerationConfig()
    current = model.generation_config
    moved = {
        key: value
        for key, value in legacy.items()
        if key not in ("transformers_version", "_from_model_config")
        and hasattr(default, key)
        and getattr(current, key, None) == getattr(default, key)
        and value != getattr(default, key)
    }
    if moved:
        current.update(**moved)
        LOG.warning(
            "%s: generation settings found in config.json moved into its generation config "
            "(transformers 5 ignores them there): %s",
            name,
            ", ".join(f"{key}={value}" for key, value in moved.items()),
        )
    return moved


def save_seq2seq(
    model: Any,
    tokenizer: PreTrainedTokenizerBase,
    folder: str | Path,
    state_dict: dict[str, Any] | None = None,
) -> Path:
    """Write model + tokenizer (+ generation config) atomically: a folder any HF user can load.

    The one way every stage saves a model. ``state_dict``: the full weights when FSDP/ZeRO
    shard them (gathered by the training loop); otherwise the model's own, with a shared
    BERT2BERT written untied (safetensors forbids aliased tensors; ``load_seq2seq`` ties it again).
    """
    with atomic_dir(folder) as tmp:
        model.save_pretrained(tmp, state_dict=state_dict or state_dict_for_saving(model))
        tokenizer.save_pretrained(tmp)
    return Path(folder)
