"""Language codes of multilingual seq2seq checkpoints (mBART-50), set from a task's languages.

Why: mBART-50 reads the language of its input from a code token the tokenizer puts first
(``es_XX``) and writes the language whose code is the first generated token; without them it
is fine-tuned on inputs it has never seen and decodes in whatever language comes out. The
paper's translation scripts (Hugging Face's ``run_translation.py``, as released with the
paper) set ``tokenizer.src_lang`` / ``tgt_lang`` and force the target code as the first
generated token (``forced_bos_token_id``). Here the task says its languages (ISO 639-1, the
``source_language`` / ``target_language`` of a task; Spanish-to-Spanish for everything but
translation) and this table maps them to each family's codes. Kept in the model folder's
``generation_config.json`` (``forced_bos_token_id``), so a plain ``generate()`` on the fine-tuned
folder decodes into the right language.
"""

from __future__ import annotations

from typing import Any

from seq2seq_es.errors import ConfigError

# model_type → ISO 639-1 → the tokenizer's language code (facebook/mbart-large-50's
# FAIRSEQ_LANGUAGE_CODES). A family absent here takes no codes (mT5, BART, T5, BERT2BERT).
LANGUAGE_CODES: dict[str, dict[str, str]] = {
    "mbart": {"es": "es_XX", "en": "en_XX", "pt": "pt_XX", "fr": "fr_XX", "it": "it_IT"},
}


def set_language_codes(
    model: Any, tokenizer: Any, source_language: str, target_language: str
) -> dict[str, Any] | None:
    """Set the tokenizer's source/target codes and the model's forced first token, for a family
    that takes codes; None (nothing changed) for any other model."""
    codes = LANGUAGE_CODES.get(getattr(model.config, "model_type", ""))
    if codes is None:
        return None
    missing = [lang for lang in (source_language, target_language) if lang not in codes]
    if missing:
        raise ConfigError(
            f"{model.config.model_type} has no language code for {', '.join(missing)} here; "
            f"known: {', '.join(sorted(codes))}. Add it to models/language_codes.py."
        )
    source, target = codes[source_language], codes[target_language]
    tokenizer.src_lang, tokenizer.tgt_lang = source, target
    forced = tokenizer.convert_tokens_to_ids(target)
    if forced is None or forced == tokenizer.unk_token_id:
        raise ConfigError(
            f"The tokenizer has no {target} token: it is not an mBART-50 tokenizer "
            "(facebook/mbart-large-50's, with its language codes)."
        )
    model.generation_config.forced_bos_token_id = forced
    return {"src_lang": source, "tgt_lang": target, "forced_bos_token_id": forced}
