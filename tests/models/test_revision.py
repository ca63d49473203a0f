"""``revision`` reaches every ``from_pretrained``: a hub id pinned to a commit loads that
commit's config, tokenizer and weights, not what ``main`` points to now.

Offline and real: two commits of one repository are laid out in a Hugging Face cache folder
(``snapshots/<commit>/``, ``refs/main``) exactly as ``huggingface_hub`` writes it, and
transformers resolves the ids from there with the network off.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import huggingface_hub.constants
import pytest
from transformers import BartConfig, BartForConditionalGeneration, PreTrainedTokenizerBase

from seq2seq_es.models.bert2bert import warm_start_bert2bert
from seq2seq_es.models.loading import load_seq2seq, load_tokenizer
from seq2seq_es.tasks.config import FinetuneConfig
from seq2seq_es.tasks.finetune import initial_model

OLD, NEW = "a" * 40, "b" * 40  # commit ids: the pinned one, and the one main points to now


def hub_cache(tmp_path: Path, repo: str, commits: dict[str, Path], main: str) -> Path:
    """A cache holding ``repo`` at each commit (a copy of a model folder), main → ``main``."""
    folder = tmp_path / "hub" / f"models--{repo.replace('/', '--')}"
    for commit, model_dir in commits.items():
        shutil.copytree(model_dir, folder / "snapshots" / commit)
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text(main)
    return tmp_path / "hub"


@pytest.fixture
def offline_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return tmp_path


def smaller_bart(bart_dir: Path, folder: Path) -> Path:
    """The same tokenizer, a model with one encoder layer (the 'replaced' upload)."""
    tokenizer: PreTrainedTokenizerBase = load_tokenizer(bart_dir)
    config = BartConfig.from_pretrained(bart_dir)
    config.encoder_layers = 1
    BartForConditionalGeneration(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_a_pinned_revision_loads_that_commit(
    bart_dir: Path, offline_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    replaced = smaller_bart(bart_dir, offline_cache / "replaced")
    cache = hub_cache(offline_cache, "org/bart-es", {OLD: bart_dir, NEW: replaced}, main=NEW)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))

    assert load_seq2seq("org/bart-es")[0].config.encoder_layers == 1, "unpinned: main"
    model, tokenizer = load_seq2seq("org/bart-es", revision=OLD)
    assert model.config.encoder_layers == 2 and len(tokenizer) > 0
    pinned = FinetuneConfig(model="org/bart-es", model_revision=OLD)  # what finetune loads
    assert initial_model(pinned)[0].config.encoder_layers == 2


def test_bert2bert_warm_start_honours_the_revision(
    bert_dir: Path, offline_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = hub_cache(offline_cache, "org/bert-es", {OLD: bert_dir}, main=NEW)  # main: missing
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    model, _ = warm_start_bert2bert("org/bert-es", revision=OLD)
    assert model.config.encoder.model_type == "bert"
    with pytest.raises(Exception, match="org/bert-es"):
        warm_start_bert2bert("org/bert-es")  # main's commit is not in the cache
