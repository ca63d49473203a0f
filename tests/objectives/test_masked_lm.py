"""BERT masked language modelling: transformers' masking rule, drawn per example so resume and
workers agree."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import DataCollatorForLanguageModeling, PreTrainedTokenizerFast

from seq2seq_es.config import validate_config
from seq2seq_es.errors import ConfigError
from seq2seq_es.objectives.collators import build_collator
from seq2seq_es.objectives.config import ObjectiveConfig
from seq2seq_es.objectives.masked_lm import MaskedLmCollator, example_seed


def test_each_example_is_what_transformers_collator_makes_with_that_examples_seed(
    tokenizer: PreTrainedTokenizerFast, blocks: list[np.ndarray]
) -> None:
    """The reference: DataCollatorForLanguageModeling(seed=s) on the one encoded example."""
    collator, body = build_collator(ObjectiveConfig(), "masked-lm", tokenizer, seq_len=128, seed=7)
    assert isinstance(collator, MaskedLmCollator) and body == 126
    collator.set_epoch(3)
    batch = collator([(i, blocks[i]) for i in range(8)])
    for i in range(8):
        encoded = [tokenizer.cls_token_id, *blocks[i].tolist(), tokenizer.sep_token_id]
        reference = DataCollatorForLanguageModeling(
            tokenizer, mlm_probability=0.15, seed=example_seed(7, 3, i)
        )
        expected = reference([encoded])
        assert torch.equal(batch["input_ids"][i], expected["input_ids"][0])
        assert torch.equal(batch["labels"][i], expected["labels"][0])
    assert bool((batch["attention_mask"] == 1).all()) and batch["input_ids"].shape == (8, 128)


def test_masks_depend_only_on_seed_epoch_and_index(
    tokenizer: PreTrainedTokenizerFast, blocks: list[np.ndarray]
) -> None:
    collator = MaskedLmCollator(tokenizer, seed=1)
    together = collator([(i, blocks[i]) for i in range(6)])
    alone = collator([(4, blocks[4])])
    assert torch.equal(together["input_ids"][4], alone["input_ids"][0]), (
        "batch composition changes nothing"
    )
    collator.set_epoch(1)
    assert not torch.equal(collator([(4, blocks[4])])["labels"], alone["labels"]), (
        "a new epoch, new masks"
    )


def test_masking_follows_the_15_80_10_10_rule(
    tokenizer: PreTrainedTokenizerFast, blocks: list[np.ndarray]
) -> None:
    collator = MaskedLmCollator(tokenizer, seed=0)
    batch = collator(list(enumerate(blocks)))
    originals = torch.stack([torch.from_numpy(collator.wrap(b)) for b in blocks])
    selected = batch["labels"] != -100
    special = torch.from_numpy(np.isin(originals.numpy(), tokenizer.all_special_ids))
    assert not bool((selected & special).any()), "CLS, SEP and other specials are never selected"
    assert torch.equal(batch["labels"][selected], originals[selected]), (
        "labels are the original tokens"
    )
    assert bool((batch["input_ids"][~selected] == originals[~selected]).all()), (
        "unselected tokens are untouched"
    )
    n = int(selected.sum())
    assert n / int((~special).sum()) == pytest.approx(0.15, abs=0.01)
    chosen_inputs = batch["input_ids"][selected]
    masked = float((chosen_inputs == tokenizer.mask_token_id).float().mean())
    unchanged = float((chosen_inputs == originals[selected]).float().mean())
    # random replacements can draw the original token (1 in 600 here), so "unchanged" is ≥ 10%
    assert masked == pytest.approx(0.8, abs=0.02) and unchanged == pytest.approx(0.1, abs=0.02)
    assert 1 - masked - unchanged == pytest.approx(0.1, abs=0.02)


def test_replacement_shares_must_fit_and_the_tokenizer_needs_bert_specials(
    tokenizer: PreTrainedTokenizerFast,
) -> None:
    with pytest.raises(ConfigError, match="mask_replace_prob"):
        validate_config(
            ObjectiveConfig, {"mask_replace_prob": 0.95, "random_replace_prob": 0.1}, "objective"
        )
    without_mask = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer.backend_tokenizer,
        pad_token="<pad>",
        cls_token="<s>",
        sep_token="</s>",
    )
    with pytest.raises(ConfigError, match="MASK"):
        MaskedLmCollator(without_mask, seed=0)
