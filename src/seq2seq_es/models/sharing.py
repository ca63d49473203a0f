"""Encoder↔decoder weight sharing of a BERT2BERT ("Share" variants of the paper), in memory and on
disk.

Why a module of its own: warm starting (``bert2bert``) creates the sharing and loading
(``loading``) restores it; both need these two functions and neither should import the other.
"""

from __future__ import annotations

from typing import Any

from transformers import EncoderDecoderModel

from seq2seq_es.errors import CheckpointError


def share_encoder_decoder(model: EncoderDecoderModel) -> int:
    """Tie every decoder weight that has an encoder counterpart; return how many tensors are shared.

    Cross-attention (decoder only) and the LM head stay separate; the LM head remains tied
    to the (now shared) word embeddings, as in the checkpoint.
    """
    encoder_params = dict(model.encoder.named_parameters())
    decoder_base = model.decoder.base_model
    shared = 0
    for name, param in list(decoder_base.named_parameters()):
        source = encoder_params.get(name)
        if source is None:
            continue
        if source.shape != param.shape:
            raise CheckpointError(
                f"Cannot share {name}: encoder {tuple(source.shape)} vs decoder "
                f"{tuple(param.shape)}. Sharing needs encoder and decoder from one checkpoint."
            )
        module_name, _, leaf = name.rpartition(".")
        setattr(decoder_base.get_submodule(module_name), leaf, source)
        shared += 1
    if shared == 0:
        raise CheckpointError("Encoder and decoder have no parameter in common; nothing to share.")
    model.config.tie_encoder_decoder = True
    model.tie_weights()  # re-point the decoder's LM head at the shared word embeddings
    return shared


def state_dict_for_saving(model: Any) -> dict[str, Any] | None:
    """Untie encoder↔decoder sharing on disk: safetensors forbids aliases, and transformers 5
    only knows how to re-create ties declared by the model class (BERT2BERT sharing is not
    one of them). Every tensor is written once per name, so plain ``from_pretrained``
    rebuilds the same function; ``load_seq2seq`` re-ties it."""
    if not (
        isinstance(model, EncoderDecoderModel)
        and getattr(model.config, "tie_encoder_decoder", False)
    ):
        return None
    state = model.state_dict()
    encoder_storage = {
        t.untyped_storage().data_ptr() for k, t in state.items() if k.startswith("encoder.")
    }
    return {
        k: t.clone()
        if k.startswith("decoder.") and t.untyped_storage().data_ptr() in encoder_storage
        else t
        for k, t in state.items()
    }
