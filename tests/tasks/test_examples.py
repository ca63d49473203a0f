"""Preprocessing: templates, references, truncation, label padding, dialogue turns."""

from __future__ import annotations

from pathlib import Path

import pytest
from transformers import DataCollatorForSeq2Seq

from seq2seq_es.errors import DataError
from seq2seq_es.tasks.examples import _dialogue_turns, encode_examples, load_examples, render
from seq2seq_es.tasks.registry import TaskSpec
from seq2seq_es.tokenizer.bpe import train_byte_level_bpe


def _qa_task(tmp_path: Path, **extra: object) -> TaskSpec:
    (tmp_path / "v.jsonl").write_text(
        '{"id": "q1", "question": "¿Quién?", "context": "' + "palabra " * 200 + '", '
        '"answers": {"text": ["Ana", "Ana López"], "answer_start": [0, 0]}}\n',
        encoding="utf-8",
    )
    return TaskSpec.model_validate(
        {
            "name": "qa",
            "kind": "qa",
            "local": {"train": "v.jsonl", "validation": "v.jsonl"},
            "source_template": "question: {question} context: {context}",
            "target_field": "answers.text.0",
            "references_fields": ["answers.text"],
            "metrics": ["rouge"],
            "selection_metric": "rouge.rouge1",
            "max_source_length": 16,
            "max_target_length": 4,
            **extra,
        }
    )


def test_template_references_and_truncation(tmp_path: Path) -> None:
    task = _qa_task(tmp_path)
    [example] = load_examples(task, tmp_path, "validation")
    assert example.source.startswith("question: ¿Quién? context: palabra")
    assert example.target == "Ana" and example.references == ("Ana", "Ana López")
    tokenizer = train_byte_level_bpe(
        ["palabra Ana López ¿Quién? question context"] * 50, vocab_size=300
    )
    [features] = encode_examples([example], tokenizer, task)
    assert len(features["input_ids"]) == 16 and features["input_ids"][-1] == tokenizer.eos_token_id
    assert len(features["labels"]) <= 4
    batch = DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=-100)(
        [features, {"input_ids": features["input_ids"][:5], "labels": features["labels"][:2]}]
    )
    assert (batch["labels"][1, 2:] == -100).all(), "label padding is ignored by the loss"


def test_missing_field_names_file_line_and_field(tmp_path: Path) -> None:
    task = _qa_task(tmp_path, source_template="{pregunta}")
    with pytest.raises(DataError, match=r"v\.jsonl:1: record has no field 'pregunta'"):
        load_examples(task, tmp_path, "validation")


def test_render_nested_and_lists() -> None:
    assert (
        render(
            "{translation.es} / {context}", {"translation": {"es": "hola"}, "context": ["a", "b"]}
        )
        == "hola / a | b"
    )


def test_dialogue_turns_keep_three_previous_turns_per_dialogue() -> None:
    rows = [
        (f"r{i}", {"Dialogue_ID": d, "Speaker": s, "Utterance": u})
        for i, (d, s, u) in enumerate(
            [
                ("d1", "U", "hola"),
                ("d1", "S", "buenos días"),
                ("d1", "U", "un tren"),
                ("d1", "S", "¿a dónde?"),
                ("d1", "U", "a Valencia"),
                ("d2", "U", "otra"),
                ("d2", "S", "sí"),
            ]
        )
    ]
    records = [r for _, r in _dialogue_turns(rows)]
    assert [r["response"] for r in records] == [
        "buenos días",
        "un tren",
        "¿a dónde?",
        "a Valencia",
        "sí",
    ]
    assert records[3]["context"] == ["S: buenos días", "U: un tren", "S: ¿a dónde?"]
    assert records[4]["context"] == ["U: otra"]
