"""The paper's multilingual baselines, offline on tiny random models of their real classes:
mBART-50 (language codes at fine-tuning and decoding), mT5 (no codes), each loaded from a
folder, fine-tuned a few steps and decoded through the `finetune` command users run."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch
from transformers import (
    MBart50Tokenizer,
    MBartConfig,
    MBartForConditionalGeneration,
    MT5Config,
    MT5ForConditionalGeneration,
)
from typer.testing import CliRunner

from seq2seq_es.cli import app
from seq2seq_es.corpus.text_files import iter_texts
from seq2seq_es.tokenizer.unigram import train_unigram

SPANISH = ["el", "niño", "come", "pan", "con", "su", "madre", "en", "la", "casa", "grande"]
ENGLISH = ["the", "boy", "eats", "bread", "with", "his", "mother", "in", "the", "big", "house"]


@pytest.fixture(scope="module")
def translation_task(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny es→en task (local JSONL), declared with its languages as the registry's are."""
    root = tmp_path_factory.mktemp("es-en")
    rng = random.Random(0)
    for split, n in (("train", 48), ("validation", 6)):
        rows = []
        for i in range(n):
            k = rng.randint(2, 6)
            rows.append({"es": " ".join(SPANISH[:k]), "en": " ".join(ENGLISH[:k]), "id": f"{i}"})
        (root / f"{split}.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    (root / "task.yaml").write_text(
        "name: tiny-es-en\nkind: translation\nlocal: {train: train.jsonl, validation: "
        "validation.jsonl}\nsource_template: '{es}'\ntarget_field: en\nmetrics: [bleu, chrf]\n"
        "selection_metric: bleu.score\nmax_source_length: 16\nmax_target_length: 12\n"
        "source_language: es\ntarget_language: en\n",
        encoding="utf-8",
    )
    return root


def tiny_mbart(folder: Path) -> Path:
    """A random MBartForConditionalGeneration (mBART-50's config, small dims) with an
    MBart50Tokenizer built here: its pieces, then the 52 language codes and <mask>."""
    pieces = sorted({f"▁{w}" for w in SPANISH + ENGLISH})
    tokenizer = MBart50Tokenizer(
        vocab=[("<unk>", 0.0), ("<s>", 0.0), ("</s>", 0.0)] + [(p, -1.0) for p in pieces]
    )
    torch.manual_seed(0)
    config = MBartConfig(
        vocab_size=len(tokenizer), d_model=16, encoder_layers=1, decoder_layers=1,
        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32,
        decoder_ffn_dim=32, max_position_embeddings=64, pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.eos_token_id, forced_eos_token_id=tokenizer.eos_token_id,
    )  # fmt: skip
    MBartForConditionalGeneration(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def tiny_mt5(folder: Path, texts: list[str]) -> Path:
    tokenizer = train_unigram(texts, vocab_size=600, extra_ids=10)
    torch.manual_seed(0)
    config = MT5Config(
        vocab_size=len(tokenizer), d_model=16, d_ff=32, d_kv=8, num_layers=1, num_heads=2,
        decoder_start_token_id=tokenizer.pad_token_id, pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )  # fmt: skip
    MT5ForConditionalGeneration(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def finetune(model: Path, task: Path, out: Path) -> dict:
    result = CliRunner().invoke(
        app,
        [
            "finetune", f"task={task / 'task.yaml'}", f"data_dir={task}", f"model={model}",
            f"output_dir={out}", "optim.steps=3", "optim.batch_size=8", "optim.warmup_steps=0",
            "bootstrap_samples=0", "engine.measure_mfu=false", "generation.num_beams=2",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return json.loads((out / "scores.json").read_text(encoding="utf-8"))


def test_mbart50_fine_tunes_and_decodes_with_language_codes(
    translation_task: Path, tmp_path: Path
) -> None:
    model_dir = tiny_mbart(tmp_path / "mbart")
    scores = finetune(model_dir, translation_task, tmp_path / "ft")
    assert scores["n"] == 6
    trained = tmp_path / "ft" / "model"
    generation = json.loads((trained / "generation_config.json").read_text(encoding="utf-8"))
    tokenizer = MBart50Tokenizer.from_pretrained(trained)
    en, es = tokenizer.convert_tokens_to_ids("en_XX"), tokenizer.convert_tokens_to_ids("es_XX")
    assert generation["forced_bos_token_id"] == en, "decodes into English"
    tokenizer.src_lang, tokenizer.tgt_lang = "es_XX", "en_XX"
    encoded = tokenizer("el niño", text_target="the boy")
    assert encoded["input_ids"][0] == es and encoded["labels"][0] == en, "mBART-50's format"
    model = MBartForConditionalGeneration.from_pretrained(trained)
    generated = model.generate(**tokenizer(["el niño come"], return_tensors="pt"), max_new_tokens=4)
    assert generated[0, 0] == model.config.decoder_start_token_id and generated[0, 1] == en


def test_mt5_fine_tunes_and_decodes_without_codes(
    translation_task: Path, tiny_data: Path, tmp_path: Path
) -> None:
    texts = list(iter_texts(tiny_data / "pretrain")) + [" ".join(SPANISH + ENGLISH)] * 20
    model_dir = tiny_mt5(tmp_path / "mt5", texts)
    scores = finetune(model_dir, translation_task, tmp_path / "ft")
    assert scores["n"] == 6 and "bleu" in scores
    generation = json.loads(
        (tmp_path / "ft" / "model" / "generation_config.json").read_text(encoding="utf-8")
    )
    assert generation.get("forced_bos_token_id") is None, "mT5 takes no language code"


def test_untied_bert2bert_translates_with_the_authors_mbert_decoding(
    bert_dir: Path, translation_task: Path, tmp_path: Path
) -> None:
    """mBERT2mBERT (untied; bert-base-multilingual-cased is a BertModel, as this tiny one): warm
    start, fine-tune, decode with run_translation_leverage.py's settings from paper.yaml."""
    from seq2seq_es.models.bert2bert import build_bert2bert_checkpoint

    build_bert2bert_checkpoint(bert_dir, tmp_path / "b2b", share=False)
    out = tmp_path / "ft"
    result = CliRunner().invoke(
        app,
        [
            "finetune", f"task={translation_task / 'task.yaml'}", f"data_dir={translation_task}",
            f"model={tmp_path / 'b2b'}", f"output_dir={out}", "optim.steps=3",
            "optim.batch_size=8", "bootstrap_samples=0", "engine.measure_mfu=false",
            "generation.num_beams=4", "generation.length_penalty=2.0",
            "generation.no_repeat_ngram_size=3", "generation.min_new_tokens=3",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    predictions = [
        json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()
    ]
    assert len(predictions) == 6 and all(p["prediction"] for p in predictions), "min length 3"
