"""The CLI as a user meets it: help, errors with exit code 2, and nothing half-written."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from seq2seq_es.cli import app

COMMANDS = [
    "corpus",
    "tokenizer",
    "tokenizer-report",
    "pretrain",
    "finetune",
    "predict",
    "eval",
    "eval-matrix",
    "score",
    "compare",
    "demo",
]
runner = CliRunner()


@pytest.mark.parametrize("command", COMMANDS)
def test_help_for_every_command(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "--config" in result.output


def test_top_level_help_lists_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.output


def _error(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    return result.output


def test_missing_config_file(tmp_path: Path) -> None:
    assert "not found" in _error(["pretrain", "--config", str(tmp_path / "missing.yaml")])


def test_unknown_key_and_wrong_type() -> None:
    output = _error(["pretrain", "optim.lrr=0.1"])
    assert "optim.lrr" in output and "warmup_steps" in output
    assert "optim.steps" in _error(["pretrain", "optim.steps=lots"])


def test_data_path_that_does_not_exist(tmp_path: Path) -> None:
    out = tmp_path / "corpus-out"
    output = _error(["corpus", f"input={tmp_path / 'nowhere'}", f"output_dir={out}"])
    assert "no such file or folder" in output


def test_empty_corpus(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    output = _error(["tokenizer", f"input={empty}", f"output_dir={tmp_path / 'tok'}"])
    assert "empty" in output
    assert not (tmp_path / "tok" / "tokenizer.json").exists()


def test_broken_jsonl_line_names_file_and_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"text": "hola"}\n{"text": \n', encoding="utf-8")
    output = _error(["tokenizer", f"input={broken}", f"output_dir={tmp_path / 'tok'}"])
    assert "broken.jsonl:2" in output
    assert not (tmp_path / "tok" / "tokenizer.json").exists()


def test_non_utf8_file(tmp_path: Path) -> None:
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes('{"text": "año"}\n'.encode("latin-1"))
    assert "not UTF-8" in _error(["tokenizer", f"input={latin}", f"output_dir={tmp_path / 'tok'}"])


def test_demo_without_data_says_how_to_pass_it(tmp_path: Path) -> None:
    output = _error(
        ["demo", "--data", str(tmp_path / "no-data"), f"output_dir={tmp_path / 'demo'}"]
    )
    assert "--data" in output


def test_score_bad_metric_and_count_mismatch(tmp_path: Path) -> None:
    pred = tmp_path / "p.jsonl"
    pred.write_text('{"id": "1", "prediction": "hola", "reference": "hola"}\n', encoding="utf-8")
    assert "Valid metrics" in _error(["score", "--pred", str(pred), "-m", "blue"])
    pred.write_text('{"id": "1", "prediction": "hola"}\n', encoding="utf-8")
    assert "reference" in _error(["score", "--pred", str(pred)])


def test_debug_shows_traceback(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--debug", "pretrain", "--config", str(tmp_path / "missing.yaml")])
    assert result.exit_code != 0
    assert result.exception is not None


def show_config(command: list[str], where: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """``COMMAND --show-config`` run in an empty folder: exit 0, nothing written."""
    monkeypatch.chdir(where)
    result = runner.invoke(app, [*command, "--show-config"])
    assert result.exit_code == 0, result.output
    assert list(where.iterdir()) == []  # no work done, no run folder
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= 80, [line for line in lines if len(line) > 80]
    return lines


def test_show_config_lists_nested_keys_with_this_commands_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """finetune's ``optim`` starts at lr=5e-4 and 300 steps, not at the section class's own
    defaults; a section's keys are dotted; descriptions come from the schema, wrapped."""
    from seq2seq_es.config import config_keys
    from seq2seq_es.tasks.config import FinetuneConfig

    lines = show_config(["finetune"], tmp_path, monkeypatch)
    text = "\n".join(lines)
    assert "  optim.lr = 0.0005" in lines and "  optim.steps = 300" in lines
    assert "  engine.distributed = ddp" in lines and "(one of: ddp, fsdp)" in " ".join(text.split())
    assert "      A registered task name or a task YAML file." in lines
    for key in config_keys(FinetuneConfig):
        assert f"  {key.key} " in text or f"  {key.key}:" in text, key.key


def test_show_config_of_a_subcommand_ignores_a_broken_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = show_config(["model", "bert2bert", "no_such_key=1"], tmp_path, monkeypatch)
    assert "  share = false" in lines and any(line.startswith("  encoder =") for line in lines)


def test_every_command_shows_its_config_in_80_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from seq2seq_es.cli import commands

    for command in commands():
        lines = show_config(command.name.split(" "), tmp_path, monkeypatch)
        assert lines[0].startswith(f"{command.name}: every config key"), lines[0]


@pytest.mark.parametrize(
    "args",
    [
        ["corpus", "output_dir=runs/a\x00b"],
        ["tokenizer", "output_dir=runs/a\x00b"],
        ["score", "--pred", "p.jsonl", "output=s\x00.json"],
    ],
)
def test_a_nul_character_in_a_value_is_a_config_error(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by tests/test_cli_fuzz.py: a NUL in a path was a ValueError traceback (exit 1)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.jsonl").write_text('{"id": "1", "prediction": "a", "reference": "a"}\n')
    output = _error(args)
    assert "holds a NUL character" in output and ("output_dir" in output or "output'" in output)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.jsonl"]


@pytest.mark.parametrize(
    "args",
    [
        ["score", "bootstrap_samples=1000000000000"],
        ["compare", "randomization_trials=1000000000000", "a.jsonl", "b.jsonl"],
        ["eval", "bootstrap_samples=1000000000000"],
        ["humaneval", "analyze", "study", "bootstrap_samples=1000000000000"],
        ["bench", "leaderboard.samples=1000000000000"],
    ],
)
def test_resamples_beyond_a_million_are_refused_before_the_work(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by fuzzing: score with bootstrap_samples=10**12 on 3 lines ran for over 10
    minutes (and would end out of memory); the key is now bounded, exit 2 naming it."""
    monkeypatch.chdir(tmp_path)
    output = _error(args)
    key = args[1] if args[0] != "humaneval" else args[3]
    assert f"'{key.partition('=')[0]}'" in output and "1000000" in output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "key"),
    [
        (["score", "--pred", "p.jsonl", "seed=-1", "output=s.json"], "seed"),
        (["compare", "p.jsonl", "q.jsonl", "seed=-1", "output_dir=c"], "seed"),
        (
            ["tokenizer", "input=p.jsonl", "output_dir=t", "vocab_size=10000000000000000000"],
            "vocab_size",
        ),
        (
            ["tokenizer", "input=p.jsonl", "output_dir=t", "min_frequency=10000000000000000000"],
            "min_frequency",
        ),
        # exit 2 came only after the pipeline had written its work files into output_dir
        (
            ["corpus", "input=p.jsonl", "output_dir=c", "dedup.num_buckets=" + "1" + "0" * 20],
            "dedup.num_buckets",
        ),
        (
            ["corpus", "input=p.jsonl", "output_dir=c", "dedup.hashes_per_bucket=1000000000"],
            "dedup.hashes_per_bucket",
        ),
    ],
)
def test_a_negative_seed_or_a_size_beyond_32_bits_is_a_config_error(
    args: list[str], key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by fuzzing: numpy's ValueError (seed=-1) and the tokenizers library's
    OverflowError (sizes of 10**19) were tracebacks, exit 1, after reading the inputs."""
    monkeypatch.chdir(tmp_path)
    line = '{"id": "1", "prediction": "el niño", "reference": "el niño come", "text": "hola"}\n'
    for name in ("p.jsonl", "q.jsonl"):
        (tmp_path / name).write_text(line, encoding="utf-8")
    output = _error(args)
    assert f"key '{key}'" in output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.jsonl", "q.jsonl"]


def test_a_yaml_value_that_holds_itself_is_a_config_error() -> None:
    """Found by fuzzing: ``&a [*a]`` (a list holding itself) recursed until RecursionError."""
    assert "path" in _error(["model", "info", "path=&a [*a]"])


def test_eval_names_missing_task_data_before_it_loads_a_model(tmp_path: Path) -> None:
    """The data is read first: with no data and a model folder that cannot load, the error is
    the data's (it was the model's, reported only after the load)."""
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}", encoding="utf-8")  # not a loadable model
    result = CliRunner().invoke(
        app,
        [
            "eval",
            f"model={model}",
            "task=tatoeba-es-en",
            f"data_dir={tmp_path / 'no-data'}",
            f"output_dir={tmp_path / 'out'}",
        ],
    )
    assert result.exit_code == 2, result.output
    assert "no-data" in " ".join(result.output.split()).replace(" ", ""), result.output
