"""``predict`` on your own texts: inputs in, one JSONL record per input out, resumable.

Why this shape:

* **Length-sorted batches, output in input order.** Inputs are taken in windows of
  ``sort_window`` (in file order); inside a window they are sorted by length and cut into
  batches of ``batch_size``, so a batch pads little; a finished window is written in input
  order. The output file therefore always holds a prefix of the inputs.
* **Resumable, never duplicated.** Records go to ``<output>.partial`` window by window
  (flushed and synced), renamed to ``<output>`` at the end. ``resume=true`` checks that the
  records already written are exactly the first inputs (same ids, same texts), drops a
  line cut by a crash, and continues after the last written id. Without ``resume`` a run
  starts over; ``<output>`` is only ever replaced by a complete file.
* **Inputs are read and checked before the model loads**, so a bad line costs a second.

A record is ``{"id", "input", "output"}``, plus ``score`` (log-probability) and
``tokens`` when ``scores=true``.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from seq2seq_es.errors import ConfigError, DataError, Seq2SeqEsError
from seq2seq_es.inference.config import TextPredictConfig
from seq2seq_es.inference.engines import Engine, generate_in_length_order, load_engine
from seq2seq_es.inference.text_inputs import TextInput, read_inputs
from seq2seq_es.progress import progress_bar

PARTIAL_SUFFIX = ".partial"


class PredictionInterrupted(Seq2SeqEsError):
    """Ctrl-C during decoding: the finished windows are kept, and the message says where and
    how to continue (the CLI's generic "discarded" would be wrong here)."""

    exit_code = 130

    def __init__(self, config: TextPredictConfig, kept: int, total: int) -> None:
        said = f"interrupted (Ctrl-C) after {kept} of {total} inputs."
        if config.output is None:
            advice = (
                f" The {kept} finished records were written to stdout; stdout cannot be resumed, "
                "so give output=FILE to be able to continue a run with resume=true."
            )
        else:
            advice = (
                f" The {kept} finished records are kept in {partial_path(config.output)}; the same "
                f"command with resume=true decodes only the other {total - kept} and then writes "
                f"{config.output}."
            )
        super().__init__(said + advice)


def partial_path(output: str | Path) -> Path:
    """Where an unfinished run writes (``<output>.partial``)."""
    output = Path(output)
    return output.with_name(output.name + PARTIAL_SUFFIX)


def predict_texts(
    config: TextPredictConfig,
    engine: Engine | None = None,
    stdin: IO[bytes] | None = None,
    stdout: IO[str] | None = None,
) -> dict[str, Any]:
    """Decode every input of ``config.input``; write JSONL to ``config.output`` (or ``stdout``).

    ``engine`` is opened from ``config.model`` when not given (with the decoding its folder
    describes, see ``folder_decoding``).
    Returns a summary: counts, where the output went, time and tokens per second.
    """
    if config.resume and config.output is None:
        raise ConfigError(
            "resume=true needs output=FILE: output written to stdout cannot be resumed."
        )
    inputs = read_inputs(config.input, config.input_format, config.input_key, stdin)
    done = (
        _resume_point(Path(config.output), inputs)
        if config.resume and config.output is not None
        else 0
    )
    if config.output is not None and done == len(inputs):
        os.replace(partial_path(config.output), config.output)
        return _summary(config, inputs, done, 0, 0, 0.0)
    runner = engine or load_engine(config.model, config.engine, config.threads)
    started = time.perf_counter()
    kept = done
    try:
        with _output(config, done, stdout) as sink, _bar(config) as bar:
            task = bar.add_task("generating", total=len(inputs), completed=done, status="")
            tokens = 0
            for start in range(done, len(inputs), config.sort_window):
                window = inputs[start : start + config.sort_window]
                records, window_tokens = _decode_window(
                    runner, window, config, lambda n: bar.update(task, advance=n)
                )
                tokens += window_tokens
                sink.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
                sink.flush()
                if config.output is not None:
                    os.fsync(sink.fileno())
                kept = start + len(window)
    except KeyboardInterrupt:
        raise PredictionInterrupted(config, kept, len(inputs)) from None
    if config.output is not None:
        os.replace(partial_path(config.output), config.output)
    return _summary(config, inputs, done, len(inputs) - done, tokens, time.perf_counter() - started)


def _decode_window(
    runner: Engine, window: Sequence[TextInput], config: TextPredictConfig, advance: Any
) -> tuple[list[dict[str, Any]], int]:
    """Records of ``window`` in its order, decoded in length-sorted batches; and the tokens
    generated."""
    options = config.generation.model_copy(
        update={"output_scores": config.scores or config.generation.output_scores}
    )
    results = generate_in_length_order(
        runner,
        [item.text for item in window],
        options,
        config.batch_size,
        advance,
        max_tokens=config.max_tokens,
    )
    records = []
    for item, result in zip(window, results, strict=True):
        record: dict[str, Any] = {"id": item.id, "input": item.text, "output": result["text"]}
        if config.scores:
            record["score"] = result["score"]
            record["tokens"] = result["tokens"]
        records.append(record)
    return records, sum(int(result["tokens"]) for result in results)


def _resume_point(output: Path, inputs: Sequence[TextInput]) -> int:
    """How many inputs are already written (checked against the inputs); prepares ``.partial``."""
    partial = partial_path(output)
    if not partial.exists():
        if not output.exists():
            return 0
        os.replace(output, partial)  # a finished output is resumed as its own prefix
    data = partial.read_bytes()
    complete = data[: data.rfind(b"\n") + 1]  # a line without its newline was cut by a crash
    count = 0
    for count, raw in enumerate(complete.splitlines(), start=1):
        _check_written(partial, count, raw, inputs)
    if len(complete) < len(data):
        with open(partial, "r+b") as handle:
            handle.truncate(len(complete))
    return count


def _check_written(partial: Path, line: int, raw: bytes, inputs: Sequence[TextInput]) -> None:
    where = f"{partial}:{line}"
    hint = "it was written for other inputs; delete it or run without resume=true to start over."
    try:
        record = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise DataError(f"{where}: not a JSON record; {hint}") from None
    if line > len(inputs):
        raise DataError(f"{where}: more records than the {len(inputs)} inputs; {hint}")
    expected = inputs[line - 1]
    if (
        not isinstance(record, dict)
        or record.get("id") != expected.id
        or record.get("input") != expected.text
    ):
        got = record.get("id") if isinstance(record, dict) else record
        raise DataError(
            f"{where}: record id {got!r} does not match input {expected.id!r} "
            f"(line {expected.line} of the input); {hint}"
        )


@contextlib.contextmanager
def _output(config: TextPredictConfig, done: int, stdout: IO[str] | None) -> Iterator[IO[str]]:
    """The sink of records: ``<output>.partial`` (appended to when resuming) or stdout."""
    if config.output is None:
        yield stdout or sys.stdout
        return
    path = partial_path(config.output)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a" if done else "w", encoding="utf-8") as handle:
        yield handle


def _bar(config: TextPredictConfig) -> Any:
    """The project's progress bar; on stderr when the records go to stdout, so they never mix."""
    from rich.console import Console

    if not config.progress:
        return progress_bar(Console(quiet=True))
    return progress_bar(Console(stderr=True) if config.output is None else None)


def _summary(
    config: TextPredictConfig,
    inputs: Sequence[TextInput],
    done: int,
    written: int,
    tokens: int,
    seconds: float,
) -> dict[str, Any]:
    return {
        "inputs": len(inputs),
        "resumed_after": done,
        "written": written,
        "output": config.output or "stdout",
        "engine": config.engine,
        "generated_tokens": tokens,
        "seconds": round(seconds, 3),
        "tokens_per_s": round(tokens / seconds, 1) if seconds else 0.0,
    }
