"""``predict`` on the user's own texts: reading inputs, batching, output order, resuming."""

from __future__ import annotations

import gzip
import io
import json
import re
import signal
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from spanish_inputs import spanish_sentences

from seq2seq_es.errors import ConfigError, DataError
from seq2seq_es.inference.config import GenerationOptions, TextPredictConfig
from seq2seq_es.inference.engines import (
    Engine,
    TransformersEngine,
    generate_in_length_order,
    load_engine,
    source_token_counts,
)
from seq2seq_es.inference.predict_texts import PredictionInterrupted, partial_path, predict_texts
from seq2seq_es.inference.text_inputs import read_inputs


def write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def read_records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# --- reading inputs -------------------------------------------------------------------------


def test_plain_text_is_one_input_a_line_with_line_numbers_as_ids(tmp_path: Path) -> None:
    path = write(tmp_path / "in.txt", "\ufeffel niño come\n\n  \nla casa {grande}\r\n¿dónde está?")
    assert [(i.id, i.text) for i in read_inputs(str(path))] == [
        (1, "el niño come"),
        (4, "la casa {grande}"),
        (5, "¿dónde está?"),
    ]


def test_jsonl_takes_text_then_source_or_input_key_and_the_records_id(tmp_path: Path) -> None:
    path = write(tmp_path / "in.jsonl", '{"id": "a", "text": "uno"}\n\n{"source": "dos", "x": 1}\n')
    assert [(i.id, i.text) for i in read_inputs(str(path))] == [("a", "uno"), (3, "dos")]
    keyed = write(tmp_path / "keyed.jsonl", '{"id": 7, "pregunta": "¿qué?", "text": "no"}\n')
    assert [(i.id, i.text) for i in read_inputs(str(keyed), input_key="pregunta")] == [(7, "¿qué?")]
    packed = tmp_path / "in.jsonl.gz"
    packed.write_bytes(gzip.compress(b'{"text": "tres"}\n'))
    assert [i.text for i in read_inputs(str(packed))] == ["tres"]


def test_stdin_is_read_as_jsonl_when_it_starts_with_an_object() -> None:
    as_jsonl = read_inputs("-", stdin=io.BytesIO(b'\n{"text": "hola"}\n'))
    as_text = read_inputs("-", stdin=io.BytesIO(b"hola\nadios\n"))
    assert [i.text for i in as_jsonl] == ["hola"] and [i.text for i in as_text] == ["hola", "adios"]


@pytest.mark.parametrize(
    ("name", "content", "options", "message"),
    [
        ("bad.jsonl", '{"text": "ok"}\n{"text": \n', {}, "bad.jsonl:2: not valid JSON"),
        ("list.jsonl", '["text"]\n', {}, "list.jsonl:1: expected a JSON object"),
        (
            "nokey.jsonl",
            '{"text": "ok"}\n{"body": "x"}\n',
            {},
            "nokey.jsonl:2: no 'text' or 'source' field",
        ),
        ("key.jsonl", '{"text": "ok"}\n', {"input_key": "q"}, "key.jsonl:1: no field 'q'"),
        ("number.jsonl", '{"text": 5}\n', {}, "number.jsonl:1: the text must be a string"),
        ("empty.jsonl", '{"text": "  "}\n', {}, "empty.jsonl:1: the text is empty"),
        (
            "dup.jsonl",
            '{"id": 1, "text": "a"}\n{"id": 1, "text": "b"}\n',
            {},
            "dup.jsonl:2: id 1 was already used on line 1",
        ),
        ("latin.txt", b"bien\n" + "ni\u00f1o\n".encode("latin-1"), {}, "latin.txt:2: not UTF-8"),
        ("blank.txt", "\n  \n", {}, "no input text found"),
        ("key.txt", "hola\n", {"input_key": "text"}, "applies to JSONL input"),
    ],
)
def test_bad_inputs_name_the_file_and_line(
    tmp_path: Path, name: str, content: str | bytes, options: dict[str, str], message: str
) -> None:
    with pytest.raises(DataError, match=re.escape(message)):
        read_inputs(str(write(tmp_path / name, content)), **options)  # type: ignore[arg-type]


def test_missing_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        read_inputs(str(tmp_path / "nope.txt"))


# --- predicting -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def engine(tiny_bart_folder: Path) -> TransformersEngine:
    runner = load_engine(tiny_bart_folder)
    assert isinstance(runner, TransformersEngine)
    return runner


def config(model: Path, **values: Any) -> TextPredictConfig:
    return TextPredictConfig.model_validate(
        {"model": str(model), "progress": False, "generation": {"max_new_tokens": 6}} | values
    )


TEXTS = spanish_sentences(11, seed=31)


def test_outputs_are_in_input_order_and_decoded_as_eval_decodes(
    engine: TransformersEngine, tiny_bart_folder: Path, tmp_path: Path
) -> None:
    """predict on texts and eval on a task split send the same batches to the same engine."""
    from seq2seq_es.tasks.decode import decode_examples
    from seq2seq_es.tasks.examples import Example

    source = write(tmp_path / "in.txt", "\n".join(TEXTS) + "\n")
    output = tmp_path / "out" / "predictions.jsonl"
    options = GenerationOptions(max_new_tokens=6, num_beams=2)
    predicting = CountingEngine(engine)
    summary = predict_texts(
        config(
            tiny_bart_folder,
            input=str(source),
            output=str(output),
            batch_size=4,
            generation=options.model_dump(exclude_unset=True),
        ),
        predicting,
    )
    records = read_records(output)
    assert [(r["id"], r["input"]) for r in records] == [
        (i + 1, text) for i, text in enumerate(TEXTS)
    ]
    evaluating = CountingEngine(engine)
    examples = [Example(str(i), text, text, (text,)) for i, text in enumerate(TEXTS)]
    decode_examples(evaluating, examples, options, 4, tmp_path / "eval.jsonl")
    assert predicting.calls == evaluating.calls and len(predicting.calls) == 3
    lengths = [len(text) for batch, _ in predicting.calls for text in batch]
    assert lengths == sorted(lengths)  # length-sorted batches: the eval speed path
    evaluated = [r["prediction"] for r in read_records(tmp_path / "eval.jsonl")]
    assert [r["output"] for r in records] == evaluated
    assert evaluated == [r["text"] for r in generate_in_length_order(engine, TEXTS, options, 4)]
    assert set(records[0]) == {"id", "input", "output"}
    assert summary["written"] == len(TEXTS) and summary["generated_tokens"] > 0
    assert not partial_path(output).exists()


def test_scores_add_log_probability_and_token_count(
    engine: TransformersEngine, tiny_bart_folder: Path, tmp_path: Path
) -> None:
    source = write(
        tmp_path / "in.jsonl",
        "".join(json.dumps({"id": f"x{i}", "text": t}) + "\n" for i, t in enumerate(TEXTS[:3])),
    )
    output = tmp_path / "scored.jsonl"
    predict_texts(
        config(tiny_bart_folder, input=str(source), output=str(output), scores=True), engine
    )
    records = read_records(output)
    alone = engine.generate(TEXTS[:3], GenerationOptions(max_new_tokens=6, output_scores=True))
    assert [r["id"] for r in records] == ["x0", "x1", "x2"]
    assert [r["score"] for r in records] == pytest.approx([a["score"] for a in alone], abs=1e-4)
    assert [r["tokens"] for r in records] == [a["tokens"] for a in alone]


@pytest.mark.usefixtures("one_thread")
def test_max_tokens_cuts_batches_by_padded_tokens_and_keeps_the_records(
    engine: TransformersEngine, tiny_bart_folder: Path, tmp_path: Path
) -> None:
    source = write(tmp_path / "in.txt", "\n".join(TEXTS) + "\n")
    plain, budgeted = tmp_path / "plain.jsonl", tmp_path / "budgeted.jsonl"
    predict_texts(config(tiny_bart_folder, input=str(source), output=str(plain)), engine)
    counting = CountingEngine(engine)
    predict_texts(
        config(tiny_bart_folder, input=str(source), output=str(budgeted), max_tokens=40),
        counting,
    )
    assert read_records(budgeted) == read_records(plain)
    for batch, _ in counting.calls:
        padded = len(batch) * max(source_token_counts(engine, batch))
        assert len(batch) == 1 or padded <= 40
    assert len(counting.calls) > 1  # the 11 texts fit one batch of 32 without a budget


def test_stdin_to_stdout(engine: TransformersEngine, tiny_bart_folder: Path) -> None:
    out = io.StringIO()
    predict_texts(
        config(tiny_bart_folder, input="-"),
        engine,
        stdin=io.BytesIO("\n".join(TEXTS[:2]).encode()),
        stdout=out,
    )
    assert [json.loads(line)["input"] for line in out.getvalue().splitlines()] == TEXTS[:2]


class Interrupted(Exception):
    pass


class CountingEngine:
    """A real engine that records what it decodes and can stop the run after some calls."""

    def __init__(self, engine: Engine, fail_after_calls: int | None = None) -> None:
        self.engine, self.fail_after_calls = engine, fail_after_calls
        self.name, self.tokenizer, self.max_source_length = (
            engine.name,
            engine.tokenizer,
            engine.max_source_length,
        )
        self.decoded: list[str] = []
        self.calls: list[tuple[list[str], GenerationOptions]] = []

    def generate(self, texts: Sequence[str], options: GenerationOptions) -> list[dict[str, Any]]:
        self.calls.append((list(texts), options))
        if self.fail_after_calls is not None and self.fail_after_calls == 0:
            raise Interrupted("killed")
        if self.fail_after_calls is not None:
            self.fail_after_calls -= 1
        self.decoded.extend(texts)
        return self.engine.generate(texts, options)


def windows_of_four(tmp_path: Path) -> dict[str, Any]:
    """TEXTS to predictions.jsonl in windows of 4 (batches of 2): a stop at the engine's fifth
    call leaves two windows, 8 records, written."""
    source = write(tmp_path / "in.txt", "\n".join(TEXTS) + "\n")
    output = tmp_path / "predictions.jsonl"
    return {"input": str(source), "output": str(output), "batch_size": 2, "sort_window": 4}


def test_resume_continues_after_the_last_written_id_without_duplicates(
    engine: TransformersEngine, tiny_bart_folder: Path, tmp_path: Path
) -> None:
    settings = windows_of_four(tmp_path)
    output = Path(settings["output"])
    with pytest.raises(Interrupted):  # windows of 4: two written, the third interrupted
        predict_texts(
            config(tiny_bart_folder, **settings), CountingEngine(engine, fail_after_calls=5)
        )
    assert not output.exists()
    partial = partial_path(output)
    assert [r["id"] for r in read_records(partial)] == list(range(1, 9))
    with open(partial, "a", encoding="utf-8") as handle:
        handle.write('{"id": 9, "input": "cut by the cr')  # a line a crash cut short
    resumed = CountingEngine(engine)
    summary = predict_texts(config(tiny_bart_folder, resume=True, **settings), resumed)
    assert sorted(resumed.decoded) == sorted(TEXTS[8:])  # only what was missing
    assert summary["resumed_after"] == 8 and summary["written"] == 3
    records = read_records(output)
    fresh = tmp_path / "fresh.jsonl"
    predict_texts(config(tiny_bart_folder, **settings | {"output": str(fresh)}), engine)
    assert records == read_records(fresh)
    again = CountingEngine(engine)
    assert predict_texts(config(tiny_bart_folder, resume=True, **settings), again)["written"] == 0
    assert again.decoded == [] and read_records(output) == records


class CtrlCEngine(CountingEngine):
    """A real engine, and a real Ctrl-C (SIGINT to this process) at its call ``press_at``."""

    def __init__(self, engine: Engine, press_at: int) -> None:
        super().__init__(engine)
        self.press_at = press_at

    def generate(self, texts: Sequence[str], options: GenerationOptions) -> list[dict[str, Any]]:
        if len(self.calls) == self.press_at:
            signal.raise_signal(signal.SIGINT)
        return super().generate(texts, options)


def test_ctrl_c_keeps_the_finished_records_and_says_how_to_continue(
    engine: TransformersEngine, tiny_bart_folder: Path, tmp_path: Path
) -> None:
    """Issue 39: the message said output was discarded while the finished lines were kept."""
    # Ctrl-C as a terminal delivers it: pytest-xdist's workers ignore SIGINT (their controller
    # takes it), so the test gives this process Python's own handler while it runs.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _ctrl_c_keeps_the_finished_records(engine, tiny_bart_folder, tmp_path)
    finally:
        signal.signal(signal.SIGINT, previous)


def _ctrl_c_keeps_the_finished_records(
    engine: TransformersEngine, tiny_bart_folder: Path, tmp_path: Path
) -> None:
    settings = windows_of_four(tmp_path)
    output = Path(settings["output"])
    with pytest.raises(PredictionInterrupted) as stopped:  # one window written, the second cut
        predict_texts(config(tiny_bart_folder, **settings), CtrlCEngine(engine, press_at=2))
    message = str(stopped.value)
    assert stopped.value.exit_code == 130 and "discarded" not in message
    assert "after 4 of 11 inputs" in message and str(partial_path(output)) in message
    assert "resume=true" in message and "the other 7" in message
    assert [r["id"] for r in read_records(partial_path(output))] == [1, 2, 3, 4]
    out = io.StringIO()
    with pytest.raises(PredictionInterrupted, match="stdout cannot be resumed") as stopped:
        predict_texts(
            config(tiny_bart_folder, **settings | {"output": None}),
            CtrlCEngine(engine, press_at=0),
            stdout=out,
        )
    assert "after 0 of 11 inputs" in str(stopped.value) and out.getvalue() == ""


def test_resume_refuses_a_partial_output_of_other_inputs(
    engine: TransformersEngine, tiny_bart_folder: Path, tmp_path: Path
) -> None:
    source = write(tmp_path / "in.txt", "\n".join(TEXTS) + "\n")
    output = tmp_path / "predictions.jsonl"
    write(partial_path(output), json.dumps({"id": 1, "input": "otra cosa", "output": "x"}) + "\n")
    with pytest.raises(
        DataError, match=re.escape("predictions.jsonl.partial:1: record id 1 does not match")
    ):
        predict_texts(
            config(tiny_bart_folder, input=str(source), output=str(output), resume=True), engine
        )
    with pytest.raises(ConfigError, match="resume=true needs output=FILE"):
        predict_texts(config(tiny_bart_folder, input=str(source), resume=True), engine)


def test_a_bad_input_fails_before_the_model_loads(tmp_path: Path) -> None:
    source = write(tmp_path / "in.jsonl", '{"text": "ok"}\n{"txt": "x"}\n')
    with pytest.raises(DataError, match=re.escape("in.jsonl:2")):
        predict_texts(config(tmp_path / "no-model-here", input=str(source)))


def test_the_predict_command_reads_stdin_and_writes_only_jsonl_to_stdout(
    tiny_bart_folder: Path, tmp_path: Path
) -> None:
    import os
    import sys

    import warm_python

    env = os.environ | {"HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    done = warm_python.run(
        [
            sys.executable,
            "-m",
            "seq2seq_es.cli",
            "predict",
            f"model={tiny_bart_folder}",
            "input=-",
            "generation.max_new_tokens=4",
            "scores=true",
        ],
        input="\n".join(TEXTS[:3]) + "\n",
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(r["id"], r["input"]) for r in records] == [(1, TEXTS[0]), (2, TEXTS[1]), (3, TEXTS[2])]
    assert all(r["tokens"] <= 4 and r["score"] < 0 for r in records)
    assert "predicted 3 of 3 inputs" in done.stderr
    bad = warm_python.run(
        [
            sys.executable,
            "-m",
            "seq2seq_es.cli",
            "predict",
            f"model={tiny_bart_folder}",
            f"input={tmp_path / 'missing.txt'}",
        ],
        timeout=300,
        env=env,
    )
    assert (
        bad.returncode == 2
        and "missing.txt: file not found" in bad.stderr
        and "Traceback" not in bad.stderr
    )


def test_predict_with_engine_ct2_on_an_export(
    engine: TransformersEngine, tiny_bart_folder: Path, tmp_path: Path
) -> None:
    from seq2seq_es.inference.ct2_export import export_ct2

    export_ct2(tiny_bart_folder, tmp_path / "ct2", quantization="float32")
    source = write(tmp_path / "in.txt", "\n".join(TEXTS[:4]) + "\n")
    output = tmp_path / "ct2.jsonl"
    summary = predict_texts(
        config(
            tmp_path / "ct2",
            input=str(source),
            output=str(output),
            engine="ct2",
            generation={"max_new_tokens": 6, "num_beams": 1},
        )
    )
    assert summary["engine"] == "ct2"
    expected = engine.generate(TEXTS[:4], GenerationOptions(max_new_tokens=6, num_beams=1))
    assert [r["output"] for r in read_records(output)] == [e["text"] for e in expected]
