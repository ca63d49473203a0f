"""A CTranslate2 export (fp32) decodes as transformers does, on real task inputs.

Greedy search: identical outputs, token counts and scores. Beam search: identical to
``generate(early_stopping=True)``; against ``generate``'s default heuristic, outputs differ
only where that heuristic searches on (see the tests).

The models are the barto-tiny and t5s-tiny presets with tokenizers trained on Tatoeba,
briefly trained to copy English sentences: enough for outputs that differ from input to
input and end at different lengths (a random model repeats one token or stops at once,
which would let a broken conversion pass). Each side decodes the 200 first inputs of
``tatoeba-en-es`` validation with the task's lengths, through the engines ``predict`` and
``serve`` use.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from seq2seq_es.inference.config import GenerationOptions
from seq2seq_es.inference.ct2_engine import CT2Engine
from seq2seq_es.inference.ct2_export import export_ct2
from seq2seq_es.inference.engines import TransformersEngine
from seq2seq_es.models.loading import save_seq2seq
from seq2seq_es.models.presets import build_model
from seq2seq_es.tasks.examples import Example, load_examples
from seq2seq_es.tasks.registry import get_task
from seq2seq_es.tokenizer.bpe import train_byte_level_bpe
from seq2seq_es.tokenizer.unigram import train_unigram

pytestmark = pytest.mark.shared_data

TASK = get_task("tatoeba-en-es")
INPUTS = 200
# Copy-training steps: past the "same output for every input" stage, short of perfect copies.
TRAIN_STEPS = {"barto-tiny": 60, "t5s-tiny": 150}
BATCH = 50


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Tiny models decode and train faster on one thread, and far faster than on two when the
    machine is busy (threads that wait for each other); CTranslate2 gets one thread too."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def examples(shared_data: Path) -> dict[str, list[Example]]:
    return {
        "train": load_examples(TASK, shared_data, "train", limit=3000),
        "validation": load_examples(TASK, shared_data, "validation", limit=INPUTS),
    }


def train_to_copy(preset: str, tokenizer: Any, sentences: list[str], steps: int) -> Any:
    """A preset model after ``steps`` AdamW steps of copying ``sentences`` (batch 16, preset
    dropout)."""
    model = build_model(preset, tokenizer, seed=0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    rng = random.Random(0)
    model.train()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)  # dropout masks: the same model every run
        for _ in range(steps):
            batch_text = rng.sample(sentences, 16)
            batch = tokenizer(
                batch_text,
                text_target=batch_text,
                padding=True,
                truncation=True,
                max_length=TASK.max_source_length,
                return_tensors="pt",
            )
            batch["labels"][batch["labels"] == tokenizer.pad_token_id] = -100
            model(**batch).loss.backward()
            optimizer.step()
            optimizer.zero_grad()
    return model.eval()


@pytest.fixture(scope="module", params=["barto-tiny", "t5s-tiny"])
def engines(
    request: pytest.FixtureRequest,
    examples: dict[str, list[Example]],
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[TransformersEngine, CT2Engine]:
    preset = request.param
    texts = [e.source for e in examples["train"]] + [e.target for e in examples["train"]]
    tokenizer = (
        train_byte_level_bpe(texts, vocab_size=500)
        if preset.startswith("barto")
        else train_unigram(texts, vocab_size=500)
    )
    model = train_to_copy(
        preset, tokenizer, [e.source for e in examples["train"]], TRAIN_STEPS[preset]
    )
    root = tmp_path_factory.mktemp(preset)
    folder = save_seq2seq(model, tokenizer, root / "model")
    export_ct2(folder, root / "ct2", quantization="float32")
    return TransformersEngine.from_folder(folder), CT2Engine(
        root / "ct2", compute_type="float32", threads=1
    )


def decode(engine: Any, texts: list[str], options: GenerationOptions) -> list[dict[str, Any]]:
    return [
        row
        for start in range(0, len(texts), BATCH)
        for row in engine.generate(texts[start : start + BATCH], options)
    ]


def assert_outputs_vary(rows: list[dict[str, Any]], texts: list[str]) -> None:
    """Outputs that differ by input and mostly end before the limit: a broken conversion would
    show."""
    outputs = [row["text"] for row in rows]
    assert len(set(outputs)) >= len(set(texts)) // 2, (
        "outputs barely depend on the input: the test proves little"
    )
    assert sum(not text for text in outputs) <= len(texts) // 10
    assert sum(row["tokens"] < TASK.max_target_length for row in rows) >= len(texts) // 2


def test_greedy_outputs_tokens_and_scores_match_transformers(
    engines: tuple[TransformersEngine, CT2Engine], examples: dict[str, list[Example]]
) -> None:
    reference_engine, ct2_engine = engines
    texts = [e.source for e in examples["validation"]]
    options = GenerationOptions(
        num_beams=1, max_new_tokens=TASK.max_target_length, output_scores=True
    )
    reference, exported = (
        decode(reference_engine, texts, options),
        decode(ct2_engine, texts, options),
    )
    assert_outputs_vary(reference, texts)
    assert [row["text"] for row in exported] == [row["text"] for row in reference]
    assert [row["tokens"] for row in exported] == [row["tokens"] for row in reference]
    assert [row["score"] for row in exported] == pytest.approx(
        [row["score"] for row in reference], abs=1e-3
    )


def test_beam_search_is_transformers_beam_search_with_early_stopping(
    engines: tuple[TransformersEngine, CT2Engine], examples: dict[str, list[Example]]
) -> None:
    """CTranslate2 stops a beam search once num_beams hypotheses are finished, as ``generate``
    does with ``early_stopping=True`` (and fairseq): then the outputs are identical."""
    reference_engine, ct2_engine = engines
    texts = [e.source for e in examples["validation"]]
    exported = decode(
        ct2_engine, texts, GenerationOptions(num_beams=4, max_new_tokens=TASK.max_target_length)
    )
    tokenizer = reference_engine.tokenizer
    expected = []
    for start in range(0, len(texts), BATCH):
        batch = tokenizer(
            texts[start : start + BATCH],
            return_tensors="pt",
            padding=True,
            truncation=True,
            max_length=reference_engine.max_source_length,
        )
        with torch.inference_mode():
            sequences = reference_engine.model.generate(
                **batch, num_beams=4, max_new_tokens=TASK.max_target_length, early_stopping=True
            )
        expected += [
            text.strip() for text in tokenizer.batch_decode(sequences, skip_special_tokens=True)
        ]
    assert len(set(expected)) >= len(set(texts)) // 2
    assert [row["text"] for row in exported] == expected


def test_beam_search_differs_from_the_default_heuristic_only_where_it_runs_on(
    engines: tuple[TransformersEngine, CT2Engine], examples: dict[str, list[Example]]
) -> None:
    """``generate``'s default (``early_stopping=False``) may keep searching after num_beams
    hypotheses are finished and find a longer one that scores better per token: the only
    difference allowed. Every other output, with its token count and score, is the same."""
    reference_engine, ct2_engine = engines
    texts = [e.source for e in examples["validation"]]
    options = GenerationOptions(
        num_beams=4, max_new_tokens=TASK.max_target_length, output_scores=True
    )
    reference, exported = (
        decode(reference_engine, texts, options),
        decode(ct2_engine, texts, options),
    )
    assert_outputs_vary(reference, texts)
    differing = 0
    for ref, ct2 in zip(reference, exported, strict=True):
        if (ref["text"], ref["tokens"]) == (ct2["text"], ct2["tokens"]):
            assert ct2["score"] == pytest.approx(ref["score"], abs=1e-3)
        else:  # (the same text can hide special tokens: then the token counts differ)
            differing += 1
            assert ref["tokens"] > ct2["tokens"], (ref, ct2)
            if ref["tokens"] < TASK.max_target_length:
                # At the limit, generate forces ``</s>`` (log-probability 0 inside the search) while
                # the engines' scores re-score it with the model's own log-probability: not
                # comparable.
                assert ref["score"] / ref["tokens"] > ct2["score"] / ct2["tokens"], (ref, ct2)
    print(
        f"beam 4, early_stopping=False: {len(texts) - differing} of {len(texts)} outputs identical"
    )


def test_teacher_forced_log_probs_match_within_1e3(
    engines: tuple[TransformersEngine, CT2Engine], examples: dict[str, list[Example]]
) -> None:
    """Every token's log-probability of the Spanish references, both ways, on all 200 pairs."""
    reference_engine, ct2_engine = engines
    model, tokenizer = reference_engine.model, reference_engine.tokenizer
    pairs = examples["validation"]
    worst = 0.0
    for start in range(0, len(pairs), BATCH):
        chunk = pairs[start : start + BATCH]
        sources, targets = [e.source for e in chunk], [e.target for e in chunk]
        exported = ct2_engine.token_log_probs(sources, targets)
        batch = tokenizer(
            sources,
            text_target=targets,
            padding=True,
            truncation=True,
            max_length=ct2_engine.max_source_length,
            return_tensors="pt",
        )
        labels = batch.pop("labels")
        with torch.inference_mode():
            logits = model(
                **batch, labels=labels.masked_fill(labels == tokenizer.pad_token_id, -100)
            ).logits
        log_probs = torch.log_softmax(logits, dim=-1).gather(-1, labels.unsqueeze(-1)).squeeze(-1)
        for row, ours in enumerate(exported):
            theirs = log_probs[row][labels[row] != tokenizer.pad_token_id].tolist()
            assert len(ours) == len(theirs)
            worst = max(worst, max(abs(a - b) for a, b in zip(ours, theirs, strict=True)))
    assert worst < 1e-3
