"""``seq2seq-es export`` to CTranslate2: the converter corrections, the folder it writes, its
refusals.

Decoding parity on real inputs is in ``test_ct2_parity.py``; here the random tiny presets of
``conftest.py`` are enough (each export takes about a second).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from ctranslate2.converters import TransformersConverter
from spanish_inputs import spanish_sentences
from transformers import AutoConfig, BertConfig, EncoderDecoderConfig, T5Config

from seq2seq_es.config import load_config
from seq2seq_es.errors import CheckpointError, ConfigError
from seq2seq_es.inference.config import GenerationOptions
from seq2seq_es.inference.ct2_engine import EXPORT_INFO_FILE, CT2Engine
from seq2seq_es.inference.ct2_export import converter_overrides, export_ct2
from seq2seq_es.inference.engines import TransformersEngine
from seq2seq_es.inference.export_config import ExportConfig
from seq2seq_es.inference.folder_decoding import (
    GENERATION_FILE,
    read_decoding_defaults,
    write_decoding_defaults,
)
from seq2seq_es.models.loading import load_seq2seq, save_seq2seq

TEXTS = spanish_sentences(8, seed=3)


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Tiny models decode and train faster on one thread, and far faster than on two when the
    machine is busy (threads that wait for each other); CTranslate2 gets one thread too."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def exports(
    tiny_bart_folder: Path, tiny_t5_folder: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("ct2")
    for name, folder in (("bart", tiny_bart_folder), ("t5", tiny_t5_folder)):
        export_ct2(folder, root / name, quantization="float32")
    return {"bart": root / "bart", "t5": root / "t5"}


def test_the_converter_is_told_what_transformers_5_computes(
    tiny_bart_folder: Path, tiny_t5_folder: Path
) -> None:
    # BART is post-norm; BartConfig no longer says so.
    assert converter_overrides(AutoConfig.from_pretrained(tiny_bart_folder)) == {
        "normalize_before": False
    }
    # Our untied T5 v1.1: saved as tie_word_embeddings=true, but the decoder output is not scaled.
    saved = json.loads((tiny_t5_folder / "config.json").read_text())
    assert saved["tie_word_embeddings"] is True and saved["scale_decoder_outputs"] is False
    assert converter_overrides(AutoConfig.from_pretrained(tiny_t5_folder)) == {
        "tie_word_embeddings": False
    }
    # The original T5 (tied head) does scale: the converter keeps doing so.
    assert converter_overrides(T5Config(tie_word_embeddings=True)) == {"tie_word_embeddings": True}


def test_the_plain_converter_still_needs_the_corrections(
    tiny_bart_folder: Path, tiny_t5_folder: Path, exports: dict[str, Path], tmp_path: Path
) -> None:
    """If ctranslate2 fixes these upstream, this test fails: then the subclass can go."""
    with pytest.raises(AttributeError, match="normalize_before"):
        TransformersConverter(str(tiny_bart_folder)).convert(str(tmp_path / "bart"), force=True)
    TransformersConverter(str(tiny_t5_folder)).convert(str(tmp_path / "t5"), force=True)
    for name in ("tokenizer.json", "tokenizer_config.json", GENERATION_FILE, EXPORT_INFO_FILE):
        shutil.copy(exports["t5"] / name, tmp_path / "t5" / name)
    plain, ours = CT2Engine(tmp_path / "t5", threads=1), CT2Engine(exports["t5"], threads=1)
    # Teacher-forced, not decoded: a random model's near-tied argmax may flip between BLAS kernels.
    targets = TEXTS[::-1]
    expected = teacher_forced_log_probs(
        TransformersEngine.from_folder(tiny_t5_folder), TEXTS, targets
    )
    for row, (theirs, corrected, uncorrected) in enumerate(
        zip(
            expected,
            ours.token_log_probs(TEXTS, targets),
            plain.token_log_probs(TEXTS, targets),
            strict=True,
        )
    ):
        assert corrected == pytest.approx(theirs, abs=1e-3), row
        assert uncorrected != pytest.approx(theirs, abs=0.1), row


def teacher_forced_log_probs(
    engine: TransformersEngine, sources: list[str], targets: list[str]
) -> list[list[float]]:
    """transformers' log-probability of each target token given the source, per pair."""
    batch = engine.tokenizer(sources, text_target=targets, padding=True, return_tensors="pt")
    labels = batch.pop("labels")
    pad = engine.tokenizer.pad_token_id
    with torch.inference_mode():
        logits = engine.model(**batch, labels=labels.masked_fill(labels == pad, -100)).logits
    chosen = torch.log_softmax(logits, dim=-1).gather(-1, labels.unsqueeze(-1)).squeeze(-1)
    return [chosen[row][labels[row] != pad].tolist() for row in range(len(sources))]


def test_the_export_folder_serves_on_its_own(
    exports: dict[str, Path], tiny_bart_folder: Path
) -> None:
    folder = exports["bart"]
    for name in ("model.bin", "config.json", "tokenizer.json", GENERATION_FILE, EXPORT_INFO_FILE):
        assert (folder / name).is_file(), name
    info = json.loads((folder / EXPORT_INFO_FILE).read_text())
    assert info["quantization"] == "float32" and info["source"]["model_type"] == "bart"
    assert info["converter_overrides"] == {"normalize_before": False}
    eos = json.loads((tiny_bart_folder / "generation_config.json").read_text())["eos_token_id"]
    assert (
        info["generation_rules"]["forced_eos_token_id"]
        == eos
        == info["generation_rules"]["decoder_start_token_id"]
    )
    engine = CT2Engine(folder, threads=1)
    vocabulary = json.loads((folder / "shared_vocabulary.json").read_text())
    assert vocabulary == engine.tokenizer.convert_ids_to_tokens(list(range(len(engine.tokenizer))))
    assert (
        engine.max_source_length == 512
    )  # barto-tiny's positions, carried by tokenizer_config.json


@pytest.mark.parametrize("family", ["bart", "t5"])
@pytest.mark.parametrize("num_beams", [1, 3])
def test_short_limits_decode_as_generate(
    family: str, num_beams: int, exports: dict[str, Path], request: pytest.FixtureRequest
) -> None:
    """Random models run to the limit: BART's forced </s> there is reproduced (and counted)."""
    reference = TransformersEngine.from_folder(request.getfixturevalue(f"tiny_{family}_folder"))
    engine = CT2Engine(exports[family], threads=1)
    for max_new_tokens in (1, 2, 7):
        options = GenerationOptions(
            max_new_tokens=max_new_tokens, num_beams=num_beams, output_scores=True
        )
        expected, got = reference.generate(TEXTS, options), engine.generate(TEXTS, options)
        assert [row["text"] for row in got] == [row["text"] for row in expected]
        assert [row["tokens"] for row in got] == [row["tokens"] for row in expected]
        assert [row["score"] for row in got] == pytest.approx(
            [row["score"] for row in expected], abs=1e-3
        )


def test_a_minimum_length_decodes_as_generate(tiny_bart_folder: Path, tmp_path: Path) -> None:
    """``min_new_tokens`` (the authors' BiSECT runs) forbids </s> as long in both engines, on a
    model that wants to stop at once (greedy: a beam search over such a model can differ)."""
    model, tokenizer = load_seq2seq(tiny_bart_folder)
    with torch.no_grad():
        model.final_logits_bias[0, tokenizer.eos_token_id] = 100.0
    folder = save_seq2seq(model, tokenizer, tmp_path / "eager")
    export_ct2(folder, tmp_path / "ct2", quantization="float32")
    reference = TransformersEngine.from_folder(folder)
    engine = CT2Engine(tmp_path / "ct2", threads=1)
    assert {row["tokens"] for row in engine.generate(TEXTS, GenerationOptions())} == {1}
    options = GenerationOptions(max_new_tokens=8, min_new_tokens=5, num_beams=1)
    expected, got = reference.generate(TEXTS, options), engine.generate(TEXTS, options)
    assert [row["text"] for row in got] == [row["text"] for row in expected]
    assert {row["tokens"] for row in got} == {row["tokens"] for row in expected} == {6}


@pytest.mark.parametrize("family", ["bart", "t5"])
def test_length_penalty_and_greedy_ngram_blocking_decode_as_generate(
    family: str, exports: dict[str, Path], request: pytest.FixtureRequest
) -> None:
    reference = TransformersEngine.from_folder(request.getfixturevalue(f"tiny_{family}_folder"))
    engine = CT2Engine(exports[family], threads=1)
    batch = reference.tokenizer(TEXTS, return_tensors="pt", padding=True)
    for num_beams, length_penalty, ngrams in ((3, 0.6, 0), (3, 1.5, 0), (1, 1.0, 2)):
        with torch.inference_mode():
            expected = reference.model.generate(
                **batch,
                max_new_tokens=9,
                num_beams=num_beams,
                early_stopping=True,
                length_penalty=length_penalty,
                no_repeat_ngram_size=ngrams,
            )
        options = GenerationOptions(
            max_new_tokens=9,
            num_beams=num_beams,
            length_penalty=length_penalty,
            no_repeat_ngram_size=ngrams,
        )
        assert [row["text"] for row in engine.generate(TEXTS, options)] == [
            text.strip()
            for text in reference.tokenizer.batch_decode(expected, skip_special_tokens=True)
        ]


def test_seeded_sampling_repeats(exports: dict[str, Path]) -> None:
    engine = CT2Engine(exports["t5"], threads=1)
    options = GenerationOptions(max_new_tokens=10, do_sample=True, seed=3)
    first = engine.generate(TEXTS, options)
    assert engine.generate(TEXTS, options) == first
    assert any(
        engine.generate(TEXTS, options.model_copy(update={"seed": seed})) != first
        for seed in (4, 5)
    )
    assert engine.generate([], options) == []


def test_int8_export_is_smaller_and_decodes(
    tiny_t5_folder: Path, exports: dict[str, Path], tmp_path: Path
) -> None:
    export_ct2(tiny_t5_folder, tmp_path / "int8", quantization="int8")
    engine = CT2Engine(tmp_path / "int8", threads=1)
    assert engine.translator.compute_type.startswith("int8")
    assert (tmp_path / "int8" / "model.bin").stat().st_size < 0.5 * (
        exports["t5"] / "model.bin"
    ).stat().st_size
    rows = engine.generate(TEXTS, GenerationOptions(max_new_tokens=6))
    assert len(rows) == len(TEXTS) and all(1 <= row["tokens"] <= 6 for row in rows)


def test_a_folder_without_tokenizer_is_refused_and_the_old_export_kept(
    tiny_t5_folder: Path, tmp_path: Path
) -> None:
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in ("config.json", "generation_config.json", "model.safetensors"):
        shutil.copy(tiny_t5_folder / name, bare / name)
    output = tmp_path / "out"
    output.mkdir()
    (output / "keep.txt").write_text("previous export")
    with pytest.raises(CheckpointError, match="no tokenizer"):
        export_ct2(bare, output)
    assert (output / "keep.txt").read_text() == "previous export"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []
    export_ct2(bare, output, tokenizer_dir=tiny_t5_folder)  # the tokenizer named explicitly
    assert not (output / "keep.txt").exists() and (output / "tokenizer.json").is_file()


def test_another_models_tokenizer_is_refused(
    tiny_t5_folder: Path, tiny_bart_folder: Path, tmp_path: Path
) -> None:
    with pytest.raises(CheckpointError, match="does not belong to this model"):
        export_ct2(
            tiny_bart_folder, tmp_path / "out", tokenizer_dir=tiny_t5_folder
        )  # 500 tokens, 400 rows


def test_bert2bert_and_led_say_they_are_served_with_transformers(
    tiny_bart_folder: Path, tmp_path: Path
) -> None:
    from seq2seq_es.models.led import convert_bart_checkpoint

    led = convert_bart_checkpoint(tiny_bart_folder, tmp_path / "led", max_encoder_positions=1024)
    with pytest.raises(CheckpointError, match=r"LED.*engine=transformers"):
        export_ct2(led, tmp_path / "out")
    bert = BertConfig(
        hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64
    )
    bert2bert = tmp_path / "bert2bert"
    EncoderDecoderConfig.from_encoder_decoder_configs(bert, bert).save_pretrained(bert2bert)
    with pytest.raises(CheckpointError, match=r"BERT2BERT.*engine=transformers"):
        export_ct2(bert2bert, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_the_engine_refuses_a_folder_that_is_not_an_export(tiny_bart_folder: Path) -> None:
    with pytest.raises(CheckpointError, match="seq2seq-es export"):
        CT2Engine(tiny_bart_folder, threads=1)


def test_the_command_carries_the_folders_decoding_and_records_the_run(
    tiny_bart_folder: Path, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from seq2seq_es.cli import app
    from seq2seq_es.tasks.registry import get_task

    model = Path(shutil.copytree(tiny_bart_folder, tmp_path / "run" / "model"))
    task = get_task("tatoeba-en-es")  # as finetune leaves it: beam 4, 64 target tokens, 64 source
    write_decoding_defaults(model, task.decoding_defaults(), task.max_source_length)
    done = CliRunner().invoke(app, ["export", f"model={model}", f"output_dir={tmp_path / 'ct2'}"])
    assert done.exit_code == 0 and "int8" in done.output, done.output
    for name in ("config.yaml", "run_info.json"):
        assert (tmp_path / "ct2" / name).is_file()
    engine = CT2Engine(tmp_path / "ct2", threads=1)
    assert (
        engine.defaults.num_beams,
        engine.defaults.max_new_tokens,
        engine.max_source_length,
    ) == (4, 64, 64)
    assert read_decoding_defaults(tmp_path / "ct2")[0] == read_decoding_defaults(model)[0]


def test_a_quantization_typo_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="quantization"):
        load_config(ExportConfig, None, ["quantization=int4"])
