"""A grid's settings are checked against the commands' schemas when it expands: a typo fails at
once, naming the grid key that set it; every shipped grid passes."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from seq2seq_es.bench.config import BenchConfig
from seq2seq_es.bench.grid import expand
from seq2seq_es.bench.step_settings import STEP_SCHEMAS
from seq2seq_es.cli import commands, register
from seq2seq_es.commands.bench import COMMANDS
from seq2seq_es.config import load_config
from seq2seq_es.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
GRIDS = sorted((REPO / "configs/bench").glob("*.yaml"))


def grid_yaml(tmp_path: Path, **changes: object) -> Path:
    data: dict[str, object] = {
        "output_dir": str(tmp_path / "bench"),
        "prepare": [
            {"name": "pre", "argv": ["pretrain", "optim.steps=3", "output_dir={output}"]},
        ],
        "models": [
            {"name": "A", "model": "{prepare.pre}/model", "finetune": {"optim": {"lr": 3e-4}}},
            {"name": "B", "model": "barto-tiny", "tokenizer": "tok"},
        ],
        "tasks": ["tatoeba-en-es", {"name": "squad-es-qa", "finetune": {"epochs": 2}}],
        "seeds": [1, 2],
        "finetune": {"engine": {"threads": 1}},
        "network": "offline",
        **changes,
    }
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def dry_run(path: Path) -> typer.testing.Result:  # type: ignore[name-defined]
    app = typer.Typer()
    app.callback()(lambda: None)
    register(app, COMMANDS)
    return CliRunner().invoke(app, ["bench", "-c", str(path), "--dry-run"], env={"COLUMNS": "200"})


def test_the_grid_without_a_typo_dry_runs(tmp_path: Path) -> None:
    result = dry_run(grid_yaml(tmp_path))
    assert result.exit_code == 0, result.output


def test_misspelt_model_key_fails_the_dry_run_naming_its_grid_key(tmp_path: Path) -> None:
    models = [
        {"name": "A", "model": "{prepare.pre}/model", "finetune": {"optim": {"lrr": 3e-4}}},
        {"name": "B", "model": "barto-tiny", "tokenizer": "tok"},
    ]
    result = dry_run(grid_yaml(tmp_path, models=models))
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "models[A].finetune: unknown key 'optim.lrr'" in text
    assert "a__tatoeba-en-es__s1 and 3 more job(s)" in text, "one line for the 4 cells of A"
    assert "Traceback" not in result.output and not (tmp_path / "bench").exists()


@pytest.mark.parametrize(
    ("changes", "origin", "key"),
    [
        ({"axes": {"optim.lr": [1e-3, -1]}}, "axes", "optim.lr"),
        ({"finetune": {"engine": {"thread": 1}}}, "finetune", "engine.thread"),
        ({"rules": [{"task": "squad-*", "finetune": {"epoch": 2}}]}, "rules[0].finetune", "epoch"),
        (
            {"evaluation": {"generation": {"num_beam": 2}}},
            "evaluation.generation",
            "generation.num_beam",
        ),
        (
            {"prepare": [{"name": "pre", "argv": ["pretrain", "optim.step=3"]}]},
            "prepare[pre].argv",
            "optim.step",
        ),
    ],
)
def test_each_grid_layer_is_named_when_it_sets_a_bad_key(
    tmp_path: Path, changes: dict[str, object], origin: str, key: str
) -> None:
    config = load_config(BenchConfig, grid_yaml(tmp_path, **changes))
    with pytest.raises(ConfigError) as caught:
        expand(config, tmp_path)
    assert f"{origin}: " in str(caught.value) and f"'{key}'" in str(caught.value)


def test_a_bad_key_in_a_steps_config_file_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "pre.yaml").write_text("optim: {stepz: 1}\n", encoding="utf-8")
    prepare = [{"name": "pre", "argv": ["pretrain", "-c", "pre.yaml", "output_dir={output}"]}]
    with pytest.raises(ConfigError, match=r"pre\.yaml: unknown key 'optim\.stepz'"):
        expand(load_config(BenchConfig, grid_yaml(tmp_path, prepare=prepare)), tmp_path)


@pytest.mark.parametrize("path", GRIDS, ids=[p.stem for p in GRIDS])
def test_every_shipped_grid_validates(path: Path) -> None:
    plan = expand(load_config(BenchConfig, path), REPO)
    assert plan.cells


def test_step_schemas_are_the_cli_commands_schemas() -> None:
    table = {command.name: command.schema for command in commands()}
    assert {name: table.get(name) for name in STEP_SCHEMAS} == STEP_SCHEMAS
