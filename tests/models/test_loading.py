"""``load_seq2seq``: one door for every seq2seq model, with errors a user can act on (all
offline)."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import huggingface_hub.constants
import pytest
import torch
from transformers import AutoModelForSeq2SeqLM, BartForConditionalGeneration

from seq2seq_es.errors import CheckpointError
from seq2seq_es.models.loading import (
    adopt_config_generation_settings,
    check_vocabulary,
    load_seq2seq,
    looks_like_path,
    resolve_name,
    save_seq2seq,
)
from seq2seq_es.models.presets import build_model
from seq2seq_es.tokenizer.bpe import train_byte_level_bpe


def test_loads_a_local_bart_folder(bart_dir: Path) -> None:
    model, tokenizer = load_seq2seq(bart_dir)
    assert isinstance(model, BartForConditionalGeneration)
    assert model.get_input_embeddings().num_embeddings == len(tokenizer)


def test_saved_presets_reload_with_plain_transformers(tmp_path: Path, corpus: list[str]) -> None:
    tokenizer = train_byte_level_bpe(corpus, vocab_size=300, min_frequency=1)
    for preset in ("barto-tiny", "t5s-tiny"):
        model = build_model(preset, tokenizer, seed=0).eval()
        save_seq2seq(model, tokenizer, tmp_path / preset)
        ids = tokenizer(corpus[:2], padding=True, return_tensors="pt")
        with torch.no_grad():
            expected = model(**ids, labels=ids["input_ids"]).logits
            for reloaded in (
                AutoModelForSeq2SeqLM.from_pretrained(tmp_path / preset),
                load_seq2seq(tmp_path / preset)[0],
            ):
                torch.testing.assert_close(
                    reloaded.eval()(**ids, labels=ids["input_ids"]).logits, expected
                )


def test_encoder_only_model_is_refused_with_a_hint(bert_dir: Path) -> None:
    with pytest.raises(
        CheckpointError, match=r"'bert' model .* not a sequence-to-sequence .*bert2bert"
    ):
        load_seq2seq(bert_dir)


def test_missing_or_empty_folders(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no such model folder"):
        load_seq2seq(tmp_path / "nowhere")
    with pytest.raises(CheckpointError, match=r"config\.json missing"):
        load_seq2seq(tmp_path)


def test_unreachable_hub_explains_how_to_use_a_local_folder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(CheckpointError) as error:
        load_seq2seq("seq2seq-es-tests/model-that-is-not-cached")
    message = str(error.value)
    assert (
        "Hugging Face Hub" in message
        and "hf download seq2seq-es-tests/model-that-is-not-cached" in message
    )
    assert "pass its path" in message


def test_tokenizer_of_another_model_is_refused(
    bart_dir: Path, bert_dir: Path, tmp_path: Path
) -> None:
    mixed = tmp_path / "mixed"
    shutil.copytree(bart_dir, mixed)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        (mixed / name).unlink(missing_ok=True)
    for file in bert_dir.iterdir():
        if "token" in file.name or file.name == "vocab.txt":
            shutil.copy(file, mixed / file.name)
    with pytest.raises(
        CheckpointError, match="tokenizer has 120 tokens but the model's embedding table has 300"
    ):
        load_seq2seq(mixed)


def test_padded_embedding_tables_are_accepted(bart_dir: Path) -> None:
    _, tokenizer = load_seq2seq(bart_dir)
    check_vocabulary(
        len(tokenizer) + 28, tokenizer, "t5-like"
    )  # T5 pads 32,100 tokens to 32,128 rows
    with pytest.raises(CheckpointError):
        check_vocabulary(len(tokenizer) - 1, tokenizer, "too small")


@pytest.mark.parametrize(
    ("text", "is_path"),
    [
        ("google/mt5-small", False),
        ("facebook/mbart-large-50", False),
        ("runs/pretrain/model", True),
        ("./model", True),
        ("/abs", True),
        ("../model", True),
        ("~/model", True),
    ],
)
def test_hub_ids_and_paths_are_told_apart(text: str, is_path: bool) -> None:
    assert looks_like_path(text) is is_path


def test_local_looking_names_are_never_tried_on_the_hub(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A typo of a folder beside an existing one, or a name written as a path, is "no such
    folder" at once (before: 30 s of Hub retries); offline, so a Hub attempt would say "Hub"."""
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    work = tmp_path / "work"
    (work / "runs" / "my-model").mkdir(parents=True)
    monkeypatch.chdir(work)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(CheckpointError, match="no such model folder") as typo:
        load_seq2seq("runs/my-modle")
    assert "Did you mean 'runs/my-model'?" in str(typo.value)
    for name in ("./x", "../x", str(tmp_path / "x"), "~/x"):
        with pytest.raises(CheckpointError, match="no such model folder"):
            load_seq2seq(name)
    assert looks_like_path("runs/anything") and not looks_like_path("someorg/model")


@pytest.mark.parametrize(
    ("name", "typo_of"),
    [
        ("barto-tinny", "barto-tiny"),
        ("t5s-smal", "t5s-small"),
        # Hub ids without an organisation, close to presets but not misspelling one: the Hub's
        ("t5-small", None),
        ("roberta-base", None),
        ("bert-base-cased", None),
        ("bert-base-multilingual-cased", None),
    ],
)
def test_a_misspelt_preset_is_refused_and_a_hub_id_passes(name: str, typo_of: str | None) -> None:
    if typo_of is None:
        assert resolve_name(name) == name
    else:
        with pytest.raises(CheckpointError, match=f"Did you mean '{typo_of}'"):
            resolve_name(name)


BARTO_DECODING = {  # what vgaraujov/bart-base-spanish keeps in its config.json
    "num_beams": 4,
    "no_repeat_ngram_size": 3,
    "forced_bos_token_id": 0,
    "early_stopping": True,
}


def barto_style_folder(bart_dir: Path, target: Path, generation_file: bool) -> Path:
    """``bart_dir`` with BARTO's decoding in config.json; its generation config (if kept) holds
    only the special ids, as a checkpoint re-saved by a newer transformers does."""
    folder = Path(shutil.copytree(bart_dir, target))
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(config | BARTO_DECODING))
    if not generation_file:
        (folder / "generation_config.json").unlink()
    return folder


def test_generation_settings_left_in_config_json_are_honoured(
    bart_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = barto_style_folder(bart_dir, tmp_path / "barto", generation_file=True)
    # transformers 5 alone ignores them beside a generation_config.json
    assert AutoModelForSeq2SeqLM.from_pretrained(folder).generation_config.num_beams in (None, 1)
    with caplog.at_level(logging.WARNING, logger="seq2seq_es.models.loading"):
        model, _ = load_seq2seq(folder)
    for key, value in BARTO_DECODING.items():
        assert getattr(model.generation_config, key) == value, key
    assert model.generation_config.forced_eos_token_id == 2  # what the file said is kept
    assert "num_beams=4" in caplog.text and "moved into its generation config" in caplog.text
    # saved again, the folder carries them where transformers reads them
    save_seq2seq(model, load_seq2seq(folder)[1], tmp_path / "resaved")
    reloaded = AutoModelForSeq2SeqLM.from_pretrained(tmp_path / "resaved").generation_config
    assert (reloaded.num_beams, reloaded.no_repeat_ngram_size) == (4, 3)


def test_a_generation_config_that_says_otherwise_wins(bart_dir: Path, tmp_path: Path) -> None:
    folder = barto_style_folder(bart_dir, tmp_path / "barto", generation_file=True)
    stored = json.loads((folder / "generation_config.json").read_text())
    (folder / "generation_config.json").write_text(json.dumps(stored | {"num_beams": 2}))
    assert load_seq2seq(folder)[0].generation_config.num_beams == 2
    # without a generation_config.json transformers moves them itself: nothing left to move
    bare = barto_style_folder(bart_dir, tmp_path / "bare", generation_file=False)
    model = AutoModelForSeq2SeqLM.from_pretrained(bare)
    assert model.generation_config.num_beams == 4
    assert adopt_config_generation_settings(model, str(bare)) == {}
    assert adopt_config_generation_settings(load_seq2seq(bart_dir)[0], str(bart_dir)) == {}
