"""BERT2BERT warm start from tiny local BERT / RoBERTa checkpoints."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoModelForSeq2SeqLM, EncoderDecoderModel, PreTrainedTokenizerBase

from seq2seq_es.errors import CheckpointError
from seq2seq_es.models.bert2bert import GENERATION_DEFAULTS, warm_start_bert2bert
from seq2seq_es.models.loading import load_seq2seq, save_seq2seq
from seq2seq_es.models.presets import count_parameters

# transformers warns on every EncoderDecoderModel loss about a v4.12 change; it is not about us.
pytestmark = pytest.mark.filterwarnings("ignore:Version v4.12.0 introduces:FutureWarning")


def _copy_batch(tokenizer: PreTrainedTokenizerBase, corpus: list[str]) -> dict[str, torch.Tensor]:
    texts = corpus[:8]
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    labels = batch["input_ids"].clone()
    labels[batch["attention_mask"] == 0] = -100
    return {
        "input_ids": batch["input_ids"],
        "attention_mask": batch["attention_mask"],
        "labels": labels,
    }


def _train(model: EncoderDecoderModel, batch: dict[str, torch.Tensor], steps: int) -> list[float]:
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(steps):
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("checkpoint", ["bert_dir", "roberta_dir"])
def test_warm_start_wires_special_tokens_and_decoding_defaults(
    checkpoint: str, request: pytest.FixtureRequest
) -> None:
    folder: Path = request.getfixturevalue(checkpoint)
    model, tokenizer = warm_start_bert2bert(folder)
    assert model.config.decoder_start_token_id == tokenizer.cls_token_id  # [CLS] / <s>
    assert model.config.eos_token_id == tokenizer.sep_token_id  # [SEP] / </s>
    assert model.config.pad_token_id == tokenizer.pad_token_id
    for key, value in GENERATION_DEFAULTS.items():
        assert getattr(model.generation_config, key) == value
    assert model.generation_config.num_beams == 4 and model.generation_config.length_penalty == 2.0
    assert model.decoder.config.is_decoder and model.decoder.config.add_cross_attention
    # warm start: encoder and decoder both begin as the checkpoint's weights
    torch.testing.assert_close(
        model.decoder.base_model.embeddings.word_embeddings.weight,
        model.encoder.embeddings.word_embeddings.weight,
    )


@pytest.mark.parametrize("checkpoint", ["bert_dir", "roberta_dir"])
def test_warm_started_model_trains_and_generates(
    checkpoint: str, request: pytest.FixtureRequest, corpus: list[str]
) -> None:
    model, tokenizer = warm_start_bert2bert(request.getfixturevalue(checkpoint), seed=0)
    batch = _copy_batch(tokenizer, corpus)
    losses = _train(model, batch, steps=8)
    assert losses[-1] < losses[0]
    model.eval()
    generated = model.generate(
        input_ids=batch["input_ids"][:2],
        attention_mask=batch["attention_mask"][:2],
        max_new_tokens=6,
    )
    assert generated.shape[0] == 2 and (generated[:, 0] == tokenizer.cls_token_id).all()


def test_shared_variant_really_shares(bert_dir: Path, corpus: list[str]) -> None:
    plain, _ = warm_start_bert2bert(bert_dir)
    shared, tokenizer = warm_start_bert2bert(bert_dir, share=True)
    enc_layer, dec_layer = shared.encoder.encoder.layer[0], shared.decoder.bert.encoder.layer[0]
    assert dec_layer.attention.self.query.weight is enc_layer.attention.self.query.weight
    assert dec_layer.output.dense.weight is enc_layer.output.dense.weight
    assert (
        shared.decoder.bert.embeddings.word_embeddings.weight
        is shared.encoder.embeddings.word_embeddings.weight
    )
    assert (
        shared.decoder.get_output_embeddings().weight
        is shared.encoder.embeddings.word_embeddings.weight
    )
    assert dec_layer.crossattention.self.query.weight is not None  # decoder-only part stays its own
    assert count_parameters(shared) < count_parameters(plain)
    assert count_parameters(plain) - count_parameters(shared) > 0.4 * count_parameters(plain)
    _train(shared, _copy_batch(tokenizer, corpus), steps=2)
    assert dec_layer.attention.self.query.weight is enc_layer.attention.self.query.weight, (
        "training keeps the tie"
    )


@pytest.mark.parametrize("share", [False, True])
def test_saved_bert2bert_reloads_with_plain_transformers(
    bert_dir: Path, tmp_path: Path, share: bool, corpus: list[str]
) -> None:
    model, tokenizer = warm_start_bert2bert(bert_dir, share=share)
    _train(model, _copy_batch(tokenizer, corpus), steps=2)  # shared weights move together
    save_seq2seq(model, tokenizer, tmp_path / "b2b")
    model.eval()
    batch = _copy_batch(tokenizer, corpus)
    with torch.no_grad():
        expected = model(**batch).logits
        for reloaded in (
            EncoderDecoderModel.from_pretrained(tmp_path / "b2b"),
            AutoModelForSeq2SeqLM.from_pretrained(tmp_path / "b2b"),
            load_seq2seq(tmp_path / "b2b")[0],
        ):
            torch.testing.assert_close(reloaded.eval()(**batch).logits, expected)
            assert reloaded.generation_config.no_repeat_ngram_size == 3
    ours, _ = load_seq2seq(tmp_path / "b2b")
    assert count_parameters(ours) == count_parameters(model), "load_seq2seq restores the sharing"


def test_share_needs_one_checkpoint(bert_dir: Path, roberta_dir: Path) -> None:
    with pytest.raises(CheckpointError, match="same checkpoint"):
        warm_start_bert2bert(bert_dir, roberta_dir, share=True)


def test_mismatching_tokenizer_is_a_clear_error(bert_dir: Path, roberta_dir: Path) -> None:
    with pytest.raises(
        CheckpointError, match=r"tokenizer has 300 tokens but the model's embedding table has 120"
    ):
        warm_start_bert2bert(bert_dir, tokenizer=roberta_dir)


def test_seq2seq_checkpoint_is_not_warm_started(bart_dir: Path) -> None:
    with pytest.raises(CheckpointError, match="already an encoder-decoder"):
        warm_start_bert2bert(bart_dir)
