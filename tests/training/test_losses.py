"""z-loss against its definition in Mesh TensorFlow / t5x (``cross_entropy_with_logits``):
``z_loss * log(Z)**2`` per target token, ``log Z = log(sum_v exp(logit_v))``, averaged over the
target tokens; written here from that definition, independently of the code under test."""

from __future__ import annotations

import math
import warnings
from typing import Any

import pytest
import torch
from transformers import (
    BartConfig,
    BartForConditionalGeneration,
    BertConfig,
    BertForMaskedLM,
    BertLMHeadModel,
    BertModel,
    EncoderDecoderModel,
    T5Config,
    T5ForConditionalGeneration,
)

from seq2seq_es.training.losses import training_loss, z_loss_term


def reference_z_loss(logits: list[list[list[float]]], labels: list[list[int]], z: float) -> float:
    """Plain Python: for each token that is not padding (-100), log(sum(exp)) squared."""
    terms = [
        math.log(sum(math.exp(v) for v in logits[b][t])) ** 2
        for b in range(len(labels))
        for t in range(len(labels[b]))
        if labels[b][t] != -100
    ]
    return z * sum(terms) / len(terms)


def test_z_loss_term_is_the_t5x_definition() -> None:
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 5, 7, generator=generator) * 3 + 2  # log Z far from 0
    labels = torch.tensor([[1, 2, 3, -100, -100], [4, 5, 6, 0, -100]])
    expected = reference_z_loss(logits.tolist(), labels.tolist(), 1e-4)
    assert math.isclose(float(z_loss_term(logits, labels, 1e-4)), expected, rel_tol=1e-5)
    assert float(z_loss_term(logits, labels, 0.0)) == 0.0


def test_training_loss_adds_the_z_loss_to_the_cross_entropy() -> None:
    torch.manual_seed(0)
    config = T5Config(
        vocab_size=50, d_model=16, d_ff=32, num_layers=1, num_heads=2, d_kv=8,
        decoder_start_token_id=0, dropout_rate=0.0,
    )  # fmt: skip
    model = T5ForConditionalGeneration(config).eval()
    batch = {
        "input_ids": torch.tensor([[5, 6, 7, 1], [8, 9, 1, 0]]),
        "attention_mask": torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]]),
        "labels": torch.tensor([[10, 11, 1], [12, 1, -100]]),
    }
    with torch.no_grad():
        output = model(**batch)
        plain = training_loss(model, batch, 0.0)
        with_z = training_loss(model, batch, 1e-2)
    expected = reference_z_loss(output.logits.tolist(), batch["labels"].tolist(), 1e-2)
    assert torch.equal(plain, output.loss)
    assert math.isclose(float(with_z - plain), expected, rel_tol=1e-4)


@pytest.mark.parametrize("family", ["bart", "t5", "bert2bert", "bert-mlm"])
def test_the_output_layer_at_targets_only_gives_the_models_loss_and_gradients(
    family: str,
) -> None:
    """Against each model's own full forward (its ``output.loss``, given the labels): same loss
    and same gradients to float rounding, with padded targets, dropout on, and z-loss on (the
    reference adds ``z_loss_term`` of the model's logits), from the full output layer (a
    compiled model's path) and from the targets only."""
    model, batch = _model_and_batch(family)
    losses, grads = [], []
    for targets_only in (None, False, True):  # None: the model's own loss
        torch.manual_seed(1)  # the same dropout masks in every forward
        model.zero_grad()
        if targets_only is None:
            with warnings.catch_warnings():  # BERT2BERT's FutureWarning when given labels
                warnings.simplefilter("ignore", FutureWarning)
                output = model(**batch)
            loss = output.loss + z_loss_term(output.logits, batch["labels"], 1e-2)
        else:
            with warnings.catch_warnings():  # a warning would be a graph break when compiled
                warnings.simplefilter("error")
                loss = training_loss(model, batch, 1e-2, targets_only=targets_only)
        loss.backward()
        losses.append(loss.detach())
        grads.append([p.grad.clone() for p in model.parameters() if p.grad is not None])
    assert (batch["labels"] == -100).any()  # the case that matters: padding is skipped
    for loss, grad in zip(losses[1:], grads[1:], strict=True):
        torch.testing.assert_close(loss, losses[0], rtol=1e-5, atol=1e-6)
        assert len(grad) == len(grads[0]) > 0
        for ours, reference in zip(grad, grads[0], strict=True):
            torch.testing.assert_close(ours, reference, rtol=1e-4, atol=1e-6)


def _model_and_batch(family: str) -> tuple[Any, dict[str, torch.Tensor]]:
    torch.manual_seed(0)
    batch = {
        "input_ids": torch.tensor([[5, 6, 7, 2], [8, 9, 2, 0]]),
        "attention_mask": torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]]),
        "labels": torch.tensor([[10, 11, 12, 2], [13, 2, -100, -100]]),
    }
    if family == "bart":
        config = BartConfig(
            vocab_size=50, d_model=16, encoder_layers=1, decoder_layers=1,
            encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32,
            decoder_ffn_dim=32, max_position_embeddings=16, pad_token_id=0,
            decoder_start_token_id=2, dropout=0.1,
        )  # fmt: skip
        return BartForConditionalGeneration(config).train(), batch
    if family == "t5":
        t5 = T5Config(
            vocab_size=50, d_model=16, d_ff=32, num_layers=1, num_heads=2, d_kv=8,
            decoder_start_token_id=0, dropout_rate=0.1, tie_word_embeddings=True,
        )  # fmt: skip
        return T5ForConditionalGeneration(t5).train(), batch
    bert = BertConfig(
        vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=16, hidden_dropout_prob=0.1,
    )  # fmt: skip
    if family == "bert-mlm":
        ids = batch["input_ids"]
        labels = torch.where(ids > 6, ids, -100)  # MLM: targets at some positions only
        return BertForMaskedLM(bert).train(), {**batch, "labels": labels}
    decoder = BertConfig(**{**bert.to_dict(), "is_decoder": True, "add_cross_attention": True})
    model = EncoderDecoderModel(encoder=BertModel(bert), decoder=BertLMHeadModel(decoder))
    model.config.decoder_start_token_id, model.config.pad_token_id = 1, 0
    return model.train(), batch
