"""Preset table: sizes match the paper, families build the right classes, T5S keeps an untied
head."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from transformers import (
    AutoModelForSeq2SeqLM,
    BartForConditionalGeneration,
    BertForMaskedLM,
    PreTrainedTokenizerFast,
    T5ForConditionalGeneration,
)

from seq2seq_es.errors import ConfigError
from seq2seq_es.models.presets import (
    PRESETS,
    build_config,
    build_empty_model,
    build_model,
    count_parameters,
    preset_names,
    preset_table,
)
from seq2seq_es.tokenizer.bpe import train_byte_level_bpe


@pytest.mark.parametrize("name", ["barto-base", "t5s-base"])
def test_base_presets_match_the_paper_parameter_counts(name: str) -> None:
    expected = PRESETS[name].paper_parameters
    assert expected is not None
    assert count_parameters(build_empty_model(name)) == pytest.approx(expected, rel=0.01)


def test_exact_reference_counts() -> None:
    """fairseq bart.base at 50,264 tokens, and google/t5-v1_1-base (untied LM head)."""
    assert count_parameters(build_empty_model("barto-base")) == 139_419_648
    assert count_parameters(build_empty_model("t5s-base")) == 247_577_856


def test_paper_shapes_of_base_presets() -> None:
    bart = build_config("barto-base")
    assert (
        bart.encoder_layers,
        bart.decoder_layers,
        bart.d_model,
        bart.encoder_attention_heads,
        bart.encoder_ffn_dim,
        bart.vocab_size,
        bart.max_position_embeddings,
    ) == (6, 6, 768, 12, 3072, 50_264, 1024)
    t5 = build_config("t5s-base")
    assert (t5.num_layers, t5.num_decoder_layers, t5.d_model, t5.d_ff, t5.vocab_size) == (
        12,
        12,
        768,
        2048,
        32_128,
    )
    assert t5.feed_forward_proj == "gated-gelu" and t5.dropout_rate == 0.0
    assert t5.scale_decoder_outputs is False, "T5 v1.1 does not rescale decoder outputs"


def test_demo_preset_stays_small() -> None:
    assert count_parameters(build_empty_model("barto-tiny")) == pytest.approx(2.1e6, rel=0.05)
    assert PRESETS["barto-tiny"].vocab_size == 8000


def test_every_preset_has_a_cpu_sized_sibling() -> None:
    names = set(preset_names())
    for family in ("barto", "t5s"):
        assert {f"{family}-tiny", f"{family}-small", f"{family}-base"} <= names
    table = {row["name"]: row for row in preset_table()}
    assert (
        table["barto-tiny"]["parameters"]
        < table["barto-small"]["parameters"]
        < table["barto-base"]["parameters"]
    )
    assert (
        table["t5s-tiny"]["parameters"]
        < table["t5s-small"]["parameters"]
        < table["t5s-base"]["parameters"]
    )


def test_build_model_follows_the_tokenizer_and_family() -> None:
    tokenizer = train_byte_level_bpe(
        ["el niño come pan con su madre"] * 20, vocab_size=300, min_frequency=1
    )
    bart = build_model("barto-tiny", tokenizer, seed=1)
    assert isinstance(bart, BartForConditionalGeneration)
    assert (
        bart.config.vocab_size == len(tokenizer)
        and bart.config.pad_token_id == tokenizer.pad_token_id
    )
    assert (
        bart.config.decoder_start_token_id == tokenizer.eos_token_id and bart.config.dropout == 0.1
    )
    t5 = build_model("t5s-tiny", tokenizer, seed=1, dropout=0.1)
    assert isinstance(t5, T5ForConditionalGeneration)
    assert (
        t5.config.decoder_start_token_id == tokenizer.pad_token_id and t5.config.dropout_rate == 0.1
    )
    same = build_model("barto-tiny", tokenizer, seed=1)
    assert torch.equal(same.model.shared.weight, bart.model.shared.weight), (
        "the seed fixes the initial weights"
    )


@pytest.mark.parametrize("preset", ["barto-tiny", "t5s-tiny", "bert-tiny"])
def test_the_seed_fixes_every_initial_weight_and_leaves_the_global_rng_alone(preset: str) -> None:
    """T5's own LM head included (it is drawn after the model is built)."""
    state = torch.get_rng_state()
    first = build_model(preset, seed=3).state_dict()
    torch.rand(7)  # another global state: must not matter
    second = build_model(preset, seed=3).state_dict()
    assert [name for name in first if not torch.equal(first[name], second[name])] == []
    torch.set_rng_state(state)
    build_model(preset, seed=3)
    assert torch.equal(torch.get_rng_state(), state)


def test_t5_lm_head_stays_untied_after_save_and_plain_reload(tmp_path: Path) -> None:
    model = build_model("t5s-tiny", seed=0).eval()
    assert model.lm_head.weight is not model.shared.weight
    model.save_pretrained(tmp_path)
    reloaded = AutoModelForSeq2SeqLM.from_pretrained(tmp_path)
    assert reloaded.lm_head.weight is not reloaded.shared.weight
    assert count_parameters(reloaded) == count_parameters(model)
    ids = torch.tensor([[5, 6, 7, 1]])
    with torch.no_grad():
        torch.testing.assert_close(
            reloaded(input_ids=ids, labels=ids).logits, model(input_ids=ids, labels=ids).logits
        )


@pytest.mark.parametrize("preset", ["t5s-tiny", "t5s-small"])
def test_t5_untied_head_starts_as_t5x_does_not_at_the_embedding_scale(preset: str) -> None:
    """t5x's ``logits_dense`` kernel: truncated normal at two deviations, std ``d_model**-0.5``.

    transformers' std 1.0 (huggingface/transformers#26441) made the first loss 43 (tiny) and 62
    (small) nats on random tokens; a head at t5x's scale starts near ln(vocab) as a uniform guess.
    """
    model = build_model(preset, seed=0).eval()
    head = model.lm_head.weight.detach()
    d_model = model.config.d_model
    assert head.std().item() == pytest.approx(d_model**-0.5, rel=0.02)
    assert head.abs().max().item() <= 2 * d_model**-0.5 / 0.87962566103423978
    generator = torch.Generator().manual_seed(0)
    vocab = model.config.vocab_size
    inputs = torch.randint(3, vocab, (4, 64), generator=generator)
    labels = torch.randint(3, vocab, (4, 16), generator=generator)
    with torch.no_grad():
        loss = model(input_ids=inputs, labels=labels).loss.item()
    assert abs(loss - math.log(vocab)) < 1.0


def test_unknown_preset_lists_the_valid_ones() -> None:
    with pytest.raises(ConfigError, match="barto-base"):
        build_config("bart-huge")


def test_bert_preset_is_a_masked_lm_sized_like_barto_tiny_with_the_tokenizers_specials() -> None:
    """bert-tiny: barto-tiny's width, FFN and positions, 2 layers (the 2+2 of the BERT2BERT built
    from it)."""
    assert count_parameters(build_empty_model("bert-tiny")) == pytest.approx(1.5e6, rel=0.05)
    tokenizer = train_byte_level_bpe(
        ["el niño come pan con su madre"] * 20, vocab_size=300, min_frequency=1
    )
    bert = build_model("bert-tiny", tokenizer, seed=1)
    assert isinstance(bert, BertForMaskedLM) and bert.config.vocab_size == len(tokenizer)
    assert (
        bert.config.hidden_size,
        bert.config.num_hidden_layers,
        bert.config.intermediate_size,
        bert.config.max_position_embeddings,
        bert.config.hidden_dropout_prob,
    ) == (128, 2, 512, 512, 0.1)
    assert bert.config.pad_token_id == tokenizer.pad_token_id
    assert (bert.config.bos_token_id, bert.config.eos_token_id) == (
        tokenizer.cls_token_id,
        tokenizer.sep_token_id,
    )
    without_mask = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer.backend_tokenizer,
        pad_token="<pad>",
        cls_token="<s>",
        sep_token="</s>",
    )
    with pytest.raises(ConfigError, match="MASK"):
        build_config("bert-tiny", without_mask)
