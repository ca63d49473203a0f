"""Grid expansion: cells, merged settings, hashes that change only where a setting changes;
paper.yaml offline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from seq2seq_es.bench.config import BenchConfig
from seq2seq_es.bench.grid import Plan, expand, fill, format_value
from seq2seq_es.bench.runner import run_bench
from seq2seq_es.commands.bench import COMMANDS
from seq2seq_es.config import apply_overrides, load_config, parse_override
from seq2seq_es.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def grid(tmp_path: Path, **changes: Any) -> BenchConfig:
    data: dict[str, Any] = {
        "output_dir": str(tmp_path / "bench"),
        "prepare": [
            {"name": "tok", "argv": ["tokenizer", "output_dir={output}"]},
            {
                "name": "pre",
                "argv": ["pretrain", "tokenizer={prepare.tok}", "output_dir={output}"],
                "resumable": True,
                "distributed": True,
            },
            {"name": "unused", "argv": ["corpus", "output_dir={output}"]},
        ],
        "models": [
            {"name": "A", "model": "{prepare.pre}/model", "finetune": {"optim.lr": 3.0e-4}},
            {
                "name": "B",
                "model": "barto-tiny",
                "tokenizer": "{prepare.tok}",
                "tasks": ["tatoeba-en-es"],
            },
        ],
        "tasks": [
            "tatoeba-en-es",
            {"name": "squad-es-qa", "finetune": {"optim": {"steps": 7, "lr": 1.0e-2}}},
        ],
        "seeds": [1, 2],
        "axes": {"optim.batch_size": [4, 8]},
        "finetune": {"optim": {"steps": 5}, "engine.threads": 1},
        "rules": [{"model": "A", "task": "squad-*", "finetune": {"optim.warmup_steps": 0}}],
        "network": "offline",
    }
    data.update(changes)
    return BenchConfig.model_validate(data)


def settings(plan: Any, cell_id: str) -> dict[str, Any]:
    return {
        ".".join(keys): value
        for keys, value in (parse_override(t) for t in plan.job(cell_id).steps[0].argv[1:])
    }


def test_expansion_merges_settings_in_order(tmp_path: Path) -> None:
    plan = expand(grid(tmp_path), tmp_path)
    ids = [c.id for c in plan.cells]
    # A × 2 tasks × 2 seeds × 2 batch sizes; B only on tatoeba: 2 × 2
    assert len(ids) == 8 + 4 and len(set(ids)) == len(ids)
    assert not any(i.startswith("b__squad") for i in ids)
    assert [j.id for j in plan.prepare] == ["tok", "pre"], (
        "unused prepare jobs are left out, order kept"
    )
    a_squad = settings(plan, "a__squad-es-qa__s2__optim.batch_size-8")
    # grid < task < model < rule < axis
    assert (
        a_squad["optim.steps"] == 7
        and a_squad["optim.lr"] == 3.0e-4
        and a_squad["optim.warmup_steps"] == 0
    )
    assert (
        a_squad["optim.batch_size"] == 8 and a_squad["seed"] == 2 and a_squad["engine.threads"] == 1
    )
    assert a_squad["model"] == str(tmp_path / "bench/prepare/pre/output/model")
    b_cell = settings(plan, "b__tatoeba-en-es__s1__optim.batch_size-4")
    assert (
        b_cell["tokenizer"] == str(tmp_path / "bench/prepare/tok/output")
        and "optim.lr" not in b_cell
    )
    assert plan.job("a__tatoeba-en-es__s1__optim.batch_size-4").requires == ("pre",)
    score = plan.job("a__squad-es-qa__s1__optim.batch_size-4").steps[-1]
    metrics = parse_override(next(t for t in score.argv if t.startswith("metrics=")))[1]
    assert metrics == ["rouge", "qa", "rouge-paper"], (
        "task metrics + the leaderboard's paper-compatible ROUGE"
    )


def test_hash_changes_only_where_a_setting_changes(tmp_path: Path) -> None:
    before = {c.id: c.hash for c in expand(grid(tmp_path), tmp_path).cells}
    again = {c.id: c.hash for c in expand(grid(tmp_path), tmp_path).cells}
    assert before == again
    changed = grid(
        tmp_path, rules=[{"model": "A", "task": "squad-*", "finetune": {"optim.warmup_steps": 1}}]
    )
    after = {c.id: c.hash for c in expand(changed, tmp_path).cells}
    differ = sorted(k for k in before if before[k] != after[k])
    assert differ and all(k.startswith("a__squad-es-qa") for k in differ) and len(differ) == 4
    # a change in a prepare job reaches exactly the cells that use it (through the model or
    # tokenizer)
    prepare = [
        {"name": "tok", "argv": ["tokenizer", "vocab_size=999", "output_dir={output}"]},
        *grid(tmp_path).model_dump()["prepare"][1:],
    ]
    moved = {c.id: c.hash for c in expand(grid(tmp_path, prepare=prepare), tmp_path).cells}
    assert all(moved[k] != before[k] for k in before), "A needs pre (which needs tok), B needs tok"


def test_config_file_contents_are_part_of_the_hash(tmp_path: Path) -> None:
    config_file = tmp_path / "pre.yaml"
    config_file.write_text("optim: {steps: 1}\n", encoding="utf-8")
    prepare = [{"name": "pre", "argv": ["pretrain", "-c", str(config_file), "output_dir={output}"]}]
    config = grid(tmp_path, prepare=prepare, models=[{"name": "A", "model": "{prepare.pre}/model"}])
    first = expand(config, tmp_path)
    config_file.write_text("optim: {steps: 2}\n", encoding="utf-8")
    second = expand(config, tmp_path)
    assert first.prepare[0].hash != second.prepare[0].hash
    assert all(a.hash != b.hash for a, b in zip(first.cells, second.cells, strict=True))


def test_test_split_adds_an_eval_step_and_cross_domain_steps(tmp_path: Path) -> None:
    config = grid(
        tmp_path,
        evaluation={"split": "test", "max_examples": 9, "generation": {"num_beams": 2}},
        tasks=[{"name": "tatoeba-en-es", "cross_eval": ["ntrex-en-es"]}],
        axes={},
        seeds=[1],
    )
    cell = expand(config, tmp_path).job("a__tatoeba-en-es__s1")
    assert [s.name for s in cell.steps] == ["finetune", "eval", "score", "cross-ntrex-en-es"]
    evaluation = {".".join(k): v for k, v in (parse_override(t) for t in cell.steps[1].argv[1:])}
    assert (
        evaluation["split"] == "test"
        and evaluation["max_examples"] == 9
        and evaluation["generation.num_beams"] == 2
    )
    assert cell.steps[2].argv[1].endswith("/eval/predictions.jsonl"), (
        "score reads what eval decoded"
    )
    assert cell.steps[0].resumable and not cell.steps[2].resumable


@pytest.mark.parametrize(
    "value",
    [
        "plain",
        "has space",
        "1e-3",
        "true",
        "a: b",
        "[x",
        "",
        3,
        2.5e-4,
        True,
        None,
        [1, "a b"],
        {"k": [1, 2]},
        "ñandú ¿qué?",
    ],
)
def test_override_values_read_back_unchanged(value: Any) -> None:
    keys, parsed = parse_override(f"key={format_value(value)}")
    assert keys == ["key"] and parsed == value
    assert apply_overrides({}, [f"a.b={format_value(value)}"]) == {"a": {"b": value}}


def test_unknown_placeholder_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"\{prepare.nope\}"):
        fill("{prepare.nope}/model", {"prepare.tok": "x"}, "model 'A'")
    assert fill("metrics={a: 1}", {}, "x") == "metrics={a: 1}", "YAML mappings are not placeholders"


def test_paper_grid_dry_run_offline_lists_needs_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    config = load_config(
        BenchConfig,
        REPO / "configs/bench/paper.yaml",
        [f"output_dir={tmp_path / 'paper'}", "dry_run=true"],
    )
    report = run_bench(config, REPO)
    cells = [row for row in report.rows if row["kind"] == "cell"]
    assert not report.online and not (tmp_path / "paper").exists(), "a dry run writes nothing"
    assert len(cells) == 4 * 11 + 2 + 3 * 8 + 2 * 3, (
        "BARTO, T5S, mBART, mT5 × 11 tasks (EUR-Lex at 512 tokens), LEDO on XL-Sum and EUR-Lex at "
        "16k, three BERT2BERTs × 8 (no translation), two mBERT2mBERTs × 3 translation tasks"
    )
    tasks = {row["labels"]["task"] for row in cells}
    assert len(tasks) == 12 and {"eurlex-sum-es", "eurlex-sum-es-512"} <= tasks
    assert {row["state"] for row in report.rows} == {"needs network"}
    models = {row["labels"]["model"] for row in cells}
    assert models == {
        "BARTO",
        "T5S",
        "LEDO",
        "BETO2BETO (shared)",
        "BETO2BETO",
        "RoBERTa-BNE2RoBERTa-BNE (shared)",
        "mBERT2mBERT (shared)",
        "mBERT2mBERT",
        "mBART",
        "mT5",
    }
    t5s_mlsum = next(row for row in cells if row["id"] == "t5s__mlsum-es__s1")
    assert "model=vgaraujov/t5-base-spanish" in t5s_mlsum["commands"][0]
    assert "optim.lr=5.0e-05" in t5s_mlsum["commands"][0] and "epochs=6" in t5s_mlsum["commands"][0]
    beto = next(row for row in cells if row["labels"]["model"] == "BETO2BETO (shared)")
    assert "beto2beto-shared" in beto["requires"] and any(
        "data set" in n or "prepare job" in n for n in beto["network"]
    )
    console = Console(record=True, width=200)
    COMMANDS[0].show(report, console)
    assert "needs network" in console.export_text()


def test_bench_command_dry_run_flag_through_the_cli_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`seq2seq-es bench -c configs/bench/paper.yaml --dry-run`, as cli.py builds it from
    COMMANDS."""
    import typer
    from typer.testing import CliRunner

    from seq2seq_es.cli import register

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(REPO)
    app = typer.Typer()
    app.callback()(lambda: None)
    register(app, COMMANDS)
    result = CliRunner().invoke(
        app,
        [
            "bench",
            "-c",
            "configs/bench/paper.yaml",
            "--dry-run",
            "--all",
            f"output_dir={tmp_path / 'paper'}",
        ],
        env={"COLUMNS": "250"},
    )
    assert result.exit_code == 0, result.output
    assert "81 needs network" in result.output  # 76 cells + 5 warm starts
    assert "t5s__sqac__s1" in result.output
    # each cell's settings with the grid entry that set them and that entry's source
    assert "run_generativeqa.sh:3-19" in result.output and "[bleu, chrf]" in result.output
    assert not (tmp_path / "paper").exists(), "no run record for a dry run"


def test_recipes_grid_ours_rows_run_tiny_quick_cells_but_for_threads_and_folder() -> None:
    """tiny-paper-recipes.yaml's "ours" rows are tiny-quick.yaml's cells with one thread.

    Why: the grid claims to compare the authors' recipe shape with tiny-quick's fine-tuning; its
    own folder (one thread a job gives other hashes) must not let the two drift apart. Every
    pretraining and cell step is the same command once the folder and thread count are set aside.
    """
    quick = expand(load_config(BenchConfig, REPO / "configs/bench/tiny-quick.yaml"), REPO)
    recipes = expand(load_config(BenchConfig, REPO / "configs/bench/tiny-paper-recipes.yaml"), REPO)

    def commands(plan: Plan, job_id: str, out: str) -> list[tuple[str, ...]]:
        """The job's command lines with its grid's folder as ``<out>``, threads left out."""
        return [
            tuple(
                word.replace(out, "<out>").replace("bart-random-init-quick", "bart-random-init")
                for word in step.argv
                if not word.startswith("engine.threads=")
            )
            for step in plan.job(job_id).steps
        ]

    shared = {job.id for job in recipes.jobs} & {job.id for job in quick.jobs}
    ours = {"barto-tiny-300-steps", "bart-random-init"}
    assert "pretrain-barto-tiny-300" in shared
    cells = {job.id for job in recipes.cells if job.id.split("__")[0] in ours}
    assert len(cells) == 8  # 2 models × 2 tasks × 2 seeds
    quick_ids = {job.id.replace("-quick", ""): job.id for job in quick.cells}
    for job_id in ["corpus", "tokenizer-bpe", "pretrain-barto-tiny-300", *sorted(cells)]:
        assert commands(recipes, job_id, "runs/bench/tiny-recipes") == commands(
            quick, quick_ids.get(job_id, job_id), "runs/bench/tiny"
        ), job_id


@pytest.mark.parametrize(
    "ablation",
    ["ablation-corpus-size", "ablation-corpus-quality", "ablation-objective"],
)
def test_shipped_ablations_share_tiny_grid_jobs(ablation: str) -> None:
    """The ablation grids reuse tiny.yaml's jobs (same folder → same hash), so nothing runs twice.

    Why: they share output_dir with tiny.yaml and say "keep the settings identical"; a budget
    edited in one file only would give a shared folder two hashes, and each grid would redo the
    other's pretraining and cells in turn.
    """
    tiny = expand(load_config(BenchConfig, REPO / "configs/bench/tiny.yaml"), REPO)
    other = expand(load_config(BenchConfig, REPO / f"configs/bench/{ablation}.yaml"), REPO)
    tiny_hashes = {job.folder: job.hash for job in tiny.jobs}
    shared = [job for job in other.jobs if job.folder in tiny_hashes]
    assert any(job.id == "pretrain-barto-tiny" for job in shared), (
        "the 100% / cleaned BARTO arm is tiny.yaml's"
    )
    assert any(job.kind == "cell" for job in shared), "the BARTO tiny cells are tiny.yaml's"
    assert {job.id: job.hash for job in shared} == {
        job.id: tiny_hashes[job.folder] for job in shared
    }
