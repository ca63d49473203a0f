"""Fixtures for the objectives tests: a small byte-level BPE trained on generated Spanish."""

from __future__ import annotations

import numpy as np
import pytest
from spanish_samples import spanish_documents
from transformers import PreTrainedTokenizerFast

from seq2seq_es.objectives.packing import pack_blocks
from seq2seq_es.objectives.token_tables import TokenTables
from seq2seq_es.tokenizer.bpe import train_byte_level_bpe


@pytest.fixture(scope="session")
def tokenizer() -> PreTrainedTokenizerFast:
    return train_byte_level_bpe(spanish_documents(0, 200), vocab_size=600)


@pytest.fixture(scope="session")
def tables(tokenizer: PreTrainedTokenizerFast) -> TokenTables:
    return TokenTables.from_tokenizer(tokenizer)


@pytest.fixture(scope="session")
def blocks(tokenizer: PreTrainedTokenizerFast) -> list[np.ndarray]:
    """~300 packed blocks of 126 tokens (a BART example body at seq_len 128)."""
    ids = tokenizer(spanish_documents(1, 400), add_special_tokens=False)["input_ids"]
    return list(pack_blocks(ids, 126, tokenizer.eos_token_id))
