"""The BART collator: batch layout, seeding, workers and degenerate blocks, for both noise
variants."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from transformers import PreTrainedTokenizerFast

from seq2seq_es.errors import ConfigError
from seq2seq_es.objectives.bart_denoising import BartDenoisingCollator, BartNoiseSettings
from seq2seq_es.objectives.collators import build_collator
from seq2seq_es.objectives.config import ObjectiveConfig
from seq2seq_es.objectives.fairseq_noise import fairseq_noise


@pytest.fixture(scope="module", params=["fairseq", "exact-ratio"])
def collator(
    request: pytest.FixtureRequest, tokenizer: PreTrainedTokenizerFast
) -> BartDenoisingCollator:
    return BartDenoisingCollator.from_tokenizer(
        tokenizer, BartNoiseSettings(noise=request.param), seed=7
    )


def test_defaults_are_fairseq_noise(
    tokenizer: PreTrainedTokenizerFast, blocks: list[np.ndarray]
) -> None:
    """The config default (what `seq2seq-es pretrain` runs for BART presets) is fairseq's
    algorithm."""
    collator, body = build_collator(ObjectiveConfig(), "bart-denoising", tokenizer, 128, seed=3)
    assert isinstance(collator, BartDenoisingCollator) and body == 126
    assert collator.settings == BartNoiseSettings() and collator.settings.noise == "fairseq"
    batch = collator([(5, blocks[5])])
    expected = fairseq_noise(
        blocks[5],
        collator.tables,
        BartNoiseSettings(),
        collator.mask_id,
        np.random.default_rng([3, 0, 5]),
    )
    assert batch["input_ids"][0, 1:-1].tolist() == expected.tolist()


def test_batch_layout(collator: BartDenoisingCollator, blocks: list[np.ndarray]) -> None:
    batch = collator([(i, blocks[i]) for i in range(8)])
    labels, decoder = batch["labels"], batch["decoder_input_ids"]
    assert labels.shape == (8, 128) and labels.dtype == torch.long
    assert (labels[:, 0] == collator.bos_id).all() and (labels[:, -1] == collator.eos_id).all()
    assert torch.equal(labels[:, 1:-1], torch.as_tensor(np.stack(blocks[:8])))
    assert (decoder[:, 0] == collator.eos_id).all() and torch.equal(decoder[:, 1:], labels[:, :-1])
    inputs, mask = batch["input_ids"], batch["attention_mask"]
    assert (inputs[:, 0] == collator.bos_id).all()
    assert torch.equal(mask, (inputs != collator.pad_id).long())
    lengths = mask.sum(1)
    assert (inputs[torch.arange(8), lengths - 1] == collator.eos_id).all()
    assert (lengths < 128).all(), "infilling shortens the input"


def test_padding_for_blocks_of_different_lengths(
    collator: BartDenoisingCollator, blocks: list[np.ndarray]
) -> None:
    batch = collator([(0, blocks[0][:10]), (1, blocks[1])])
    assert batch["labels"].shape == (2, 128)
    assert (batch["labels"][0, 12:] == -100).all() and (
        batch["decoder_input_ids"][0, 13:] == collator.pad_id
    ).all()


def test_same_seed_same_batch_and_epoch_changes_it(
    collator: BartDenoisingCollator, blocks: list[np.ndarray]
) -> None:
    items = [(i, blocks[i]) for i in (5, 9, 2)]
    first = collator(items)
    clone = pickle.loads(pickle.dumps(collator))
    assert all(torch.equal(first[k], clone(items)[k]) for k in first)
    alone = collator([items[1]])["input_ids"][0]
    assert torch.equal(
        alone[alone != collator.pad_id], first["input_ids"][1][first["attention_mask"][1] == 1]
    ), "an example's noise does not depend on its batch"
    clone.set_epoch(1)
    assert not torch.equal(first["input_ids"], clone(items)["input_ids"])


def test_worker_count_does_not_change_batches(
    collator: BartDenoisingCollator, blocks: list[np.ndarray]
) -> None:
    items = [(i, blocks[i]) for i in range(24)]
    order = [[3, 1, 4], [15, 9, 2], [6, 5, 23], [8, 7, 0]]

    def run(workers: int) -> list[dict[str, torch.Tensor]]:
        loader = torch.utils.data.DataLoader(
            items, batch_sampler=order, collate_fn=collator, num_workers=workers
        )
        return list(loader)

    for one, two in zip(run(0), run(2), strict=True):
        assert all(torch.equal(one[k], two[k]) for k in one)


@pytest.mark.parametrize(
    "kind", ["empty", "one token", "shorter than a span", "all special", "only spaces"]
)
def test_degenerate_blocks_do_not_crash(
    collator: BartDenoisingCollator, tokenizer: PreTrainedTokenizerFast, kind: str
) -> None:
    space = tokenizer.convert_tokens_to_ids("Ġ")
    block = {
        "empty": [],
        "one token": [100],
        "shorter than a span": [100, 200],
        "all special": [tokenizer.eos_token_id, tokenizer.bos_token_id] * 3,
        "only spaces": [space] * 7,
    }[kind]
    batch = collator([(0, block), (1, block)])
    assert batch["labels"].shape == (2, len(block) + 2)
    if kind == "all special" and collator.settings.noise == "exact-ratio":
        assert sorted(batch["input_ids"][0, 1:-1].tolist()) == sorted(block), (
            "specials are never masked"
        )
    if kind == "all special" and collator.settings.noise == "fairseq":
        assert collator.mask_id in batch["input_ids"][0].tolist(), (
            "fairseq counts specials as words"
        )


def test_settings_are_validated() -> None:
    with pytest.raises(ConfigError, match="mask_ratio"):
        BartNoiseSettings(mask_ratio=1.0)
    with pytest.raises(ConfigError, match="poisson_lambda"):
        BartNoiseSettings(poisson_lambda=0.0)
    with pytest.raises(ConfigError, match="insert_ratio"):
        BartNoiseSettings(insert_ratio=-0.1)
    with pytest.raises(ConfigError, match="replace_length"):
        BartNoiseSettings(replace_length=2)
    with pytest.raises(ConfigError, match="noise=fairseq"):
        BartNoiseSettings(noise="exact-ratio", replace_length=0)
    with pytest.raises(ConfigError, match="objective"):
        build_collator(ObjectiveConfig(), "gpt", None, 128, seed=0)
