"""The transformers engine and the decoding defaults a model folder implies."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from spanish_inputs import spanish_sentences
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

from seq2seq_es.errors import CheckpointError, ConfigError
from seq2seq_es.inference.config import GenerationOptions
from seq2seq_es.inference.engines import TransformersEngine, generate_kwargs, load_engine
from seq2seq_es.inference.folder_decoding import (
    GENERATION_FILE,
    read_decoding_defaults,
    read_source_length,
    write_decoding_defaults,
)

TEXTS = spanish_sentences(6, seed=11)


@pytest.fixture(scope="module", params=["bart", "t5"])
def engine(request: pytest.FixtureRequest) -> TransformersEngine:
    folder = request.getfixturevalue(f"tiny_{request.param}_folder")
    runner = load_engine(folder)
    assert isinstance(runner, TransformersEngine)
    return runner


def reference_scores(
    engine: TransformersEngine, texts: list[str], max_new_tokens: int
) -> tuple[list[str], list[float], list[int]]:
    """Greedy outputs and their log-probabilities from ``generate``'s own raw logits (cached
    decoding)."""
    batch = engine.tokenizer(
        texts,
        return_tensors="pt",
        padding=True,
        truncation=True,
        max_length=engine.max_source_length,
    )
    with torch.inference_mode():
        out = engine.model.generate(
            **batch,
            max_new_tokens=max_new_tokens,
            num_beams=1,
            do_sample=False,
            return_dict_in_generate=True,
            output_logits=True,
        )
    eos = engine.model.generation_config.eos_token_id
    log_probs = torch.stack([torch.log_softmax(step.float(), dim=-1) for step in out.logits], dim=1)
    scores, lengths = [], []
    for row, generated in enumerate(out.sequences[:, 1:].tolist()):
        length = generated.index(eos) + 1 if eos in generated else len(generated)
        lengths.append(length)
        scores.append(
            sum(float(log_probs[row, step, token]) for step, token in enumerate(generated[:length]))
        )
    texts_out = [
        t.strip() for t in engine.tokenizer.batch_decode(out.sequences, skip_special_tokens=True)
    ]
    return texts_out, scores, lengths


def test_greedy_outputs_tokens_and_scores_match_generate(engine: TransformersEngine) -> None:
    results = engine.generate(
        TEXTS, GenerationOptions(max_new_tokens=12, num_beams=1, output_scores=True)
    )
    texts, scores, lengths = reference_scores(engine, TEXTS, 12)
    assert [r["text"] for r in results] == texts
    assert [r["tokens"] for r in results] == lengths
    assert [r["score"] for r in results] == pytest.approx(scores, abs=1e-4)
    assert all(score < 0 for score in scores)


def test_scores_only_when_asked(engine: TransformersEngine) -> None:
    results = engine.generate(TEXTS[:2], GenerationOptions(max_new_tokens=5, num_beams=1))
    assert [r["score"] for r in results] == [None, None]
    assert engine.generate([], GenerationOptions()) == []


def test_beam_search_equals_generate_with_the_same_settings(engine: TransformersEngine) -> None:
    options = GenerationOptions(
        max_new_tokens=10, num_beams=3, length_penalty=0.8, no_repeat_ngram_size=2
    )
    batch = engine.tokenizer(TEXTS, return_tensors="pt", padding=True)
    with torch.inference_mode():
        expected = engine.model.generate(
            **batch, max_new_tokens=10, num_beams=3, length_penalty=0.8, no_repeat_ngram_size=2
        )
    assert [r["text"] for r in engine.generate(TEXTS, options)] == [
        t.strip() for t in engine.tokenizer.batch_decode(expected, skip_special_tokens=True)
    ]


def test_seeded_sampling_repeats_and_leaves_the_global_rng_alone(
    engine: TransformersEngine,
) -> None:
    options = GenerationOptions(max_new_tokens=12, do_sample=True, seed=5)
    torch.manual_seed(0)
    before = torch.rand(1)
    torch.manual_seed(0)
    first = engine.generate(TEXTS, options)
    assert torch.rand(1) == before  # the seed was applied in a forked RNG
    assert engine.generate(TEXTS, options) == first
    others = [engine.generate(TEXTS, options.model_copy(update={"seed": seed})) for seed in (6, 7)]
    assert any(other != first for other in others)


def test_sampling_passes_top_k_zero_to_disable_transformers_default_of_50() -> None:
    kwargs = generate_kwargs(
        GenerationOptions(do_sample=True, max_new_tokens=3, num_beams=1).resolved(
            GenerationOptions()
        )
    )
    assert kwargs["top_k"] == 0 and kwargs["top_p"] == 1.0 and kwargs["temperature"] == 1.0
    greedy = generate_kwargs(GenerationOptions(num_beams=1).resolved(GenerationOptions()))
    assert "top_k" not in greedy and "length_penalty" not in greedy


def test_options_resolve_over_defaults_then_fallbacks() -> None:
    defaults = GenerationOptions(num_beams=4, max_new_tokens=64, length_penalty=1.2)
    resolved = GenerationOptions(num_beams=2).resolved(defaults)
    assert (resolved.num_beams, resolved.max_new_tokens, resolved.length_penalty) == (2, 64, 1.2)
    assert resolved.no_repeat_ngram_size == 0
    bare = GenerationOptions().resolved(GenerationOptions())
    assert (bare.num_beams, bare.max_new_tokens, bare.length_penalty) == (1, 128, 1.0)
    server = GenerationOptions(num_beams=3)
    assert server.overridden_by(GenerationOptions(max_new_tokens=5)).num_beams == 3
    assert server.overridden_by(GenerationOptions(num_beams=1)).num_beams == 1


def copy_folder(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def test_written_defaults_are_what_the_engine_and_plain_generate_use(
    tiny_bart_folder: Path, tmp_path: Path
) -> None:
    folder = copy_folder(tiny_bart_folder, tmp_path / "model")
    options = GenerationOptions(
        num_beams=3, max_new_tokens=7, length_penalty=0.8, no_repeat_ngram_size=2, min_new_tokens=3
    )
    write_decoding_defaults(folder, options.resolved(GenerationOptions()), 9)
    read, source = read_decoding_defaults(folder)
    assert read == options and source.endswith(GENERATION_FILE)
    assert read_source_length(folder) == 9
    stored = json.loads((folder / GENERATION_FILE).read_text())
    assert stored["forced_eos_token_id"] == stored["eos_token_id"]  # the model's own rules kept
    runner = load_engine(folder)
    assert runner.max_source_length == 9
    # transformers alone, told nothing: the folder's generation config and tokenizer limit
    model = AutoModelForSeq2SeqLM.from_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    with torch.inference_mode():
        expected = model.generate(
            **tokenizer(TEXTS, truncation=True, padding=True, return_tensors="pt")
        )
    assert [r["text"] for r in runner.generate(TEXTS, GenerationOptions())] == [
        t.strip() for t in tokenizer.batch_decode(expected, skip_special_tokens=True)
    ]
    # a checkpoint's beam and sampling knobs (BERT2BERT's early_stopping, a hub do_sample) do not
    # survive greedy defaults: transformers would refuse to save them, or plain generate sample
    stored = json.loads((folder / GENERATION_FILE).read_text())
    stored.update(early_stopping=True, do_sample=True, top_k=5)
    (folder / GENERATION_FILE).write_text(json.dumps(stored))
    greedy = GenerationOptions(num_beams=1, max_new_tokens=4).resolved(GenerationOptions())
    write_decoding_defaults(folder, greedy, 9)
    rewritten = read_decoding_defaults(folder)[0]
    assert (rewritten.num_beams, rewritten.min_new_tokens) == (1, None)
    saved = json.loads((folder / GENERATION_FILE).read_text())
    assert not saved.get("do_sample") and not {"early_stopping", "length_penalty", "top_k"} & set(
        saved
    )


def test_a_broken_generation_config_names_the_file(tiny_bart_folder: Path, tmp_path: Path) -> None:
    folder = copy_folder(tiny_bart_folder, tmp_path / "model")
    (folder / GENERATION_FILE).write_text('{"num_beams": 0}', encoding="utf-8")
    with pytest.raises(CheckpointError, match=GENERATION_FILE):
        read_decoding_defaults(folder)
    (folder / GENERATION_FILE).write_text("{", encoding="utf-8")
    with pytest.raises(CheckpointError, match=GENERATION_FILE):
        read_decoding_defaults(folder)


def test_a_folder_finetuned_before_takes_its_runs_recorded_decoding(
    tiny_bart_folder: Path, tmp_path: Path
) -> None:
    """The one fallback: ``<run>/model`` without max_new_tokens, and the run's scores.json."""
    model = copy_folder(tiny_bart_folder, tmp_path / "run" / "model")
    decoding = {
        "num_beams": 2,
        "max_new_tokens": 20,
        "length_penalty": 1.0,
        "no_repeat_ngram_size": 3,
    }
    (tmp_path / "run" / "scores.json").write_text(json.dumps({"task": "x", "decoding": decoding}))
    read, source = read_decoding_defaults(model)
    assert read.model_dump(include=set(decoding)) == decoding and source.endswith("scores.json")
    # once the folder says how it decodes, the run's record is not consulted
    write_decoding_defaults(
        model, GenerationOptions(num_beams=1, max_new_tokens=5).resolved(GenerationOptions()), 64
    )
    assert read_decoding_defaults(model)[0].max_new_tokens == 5
    # a folder that is not a run's model/ never looks outside itself
    other = copy_folder(tiny_bart_folder, tmp_path / "run" / "best")
    assert read_decoding_defaults(other)[0].num_beams is None


def test_a_bare_folder_uses_generation_config_and_positions(
    tiny_bart_folder: Path, tmp_path: Path
) -> None:
    folder = copy_folder(tiny_bart_folder, tmp_path / "model")
    read, _ = read_decoding_defaults(folder)
    assert read.num_beams is None
    assert read_source_length(folder) == 512  # barto-tiny's max_positions (no tokenizer limit)
    stored = json.loads((folder / GENERATION_FILE).read_text())
    stored.update(num_beams=5, max_length=31)
    (folder / GENERATION_FILE).write_text(json.dumps(stored))
    read, _ = read_decoding_defaults(folder)
    assert (read.num_beams, read.max_new_tokens) == (5, 30)


def test_only_local_safetensors_folders_load(tiny_bart_folder: Path, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no such model folder"):
        load_engine(tmp_path / "missing")
    with pytest.raises(CheckpointError, match="no such model folder"):
        load_engine("facebook/bart-base")
    pickled = copy_folder(tiny_bart_folder, tmp_path / "pickled")
    (pickled / "model.safetensors").rename(pickled / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match="safetensors"):
        load_engine(pickled)
    with pytest.raises(ConfigError, match="Unknown engine"):
        load_engine(tiny_bart_folder, engine="onnx")
