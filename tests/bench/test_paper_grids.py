"""The paper grids: the authors' released recipes, each setting with its source, and the
paper-fixed variant that differs from paper.yaml only in the translation warm-up."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from seq2seq_es.bench.config import BenchConfig
from seq2seq_es.bench.grid import Job, expand
from seq2seq_es.config import load_config
from seq2seq_es.tasks.config import EvalConfig, FinetuneConfig

REPO = Path(__file__).resolve().parents[2]
CITATION = re.compile(r"\w+\.(sh|py):\d+")  # run_translation.sh:3-25
RELEASED = ("T5S", "BARTO", "LEDO", "BETO2BETO", "BETO2BETO (shared)")


def cells(name: str) -> dict[str, Job]:
    plan = expand(load_config(BenchConfig, REPO / f"configs/bench/{name}.yaml"), REPO)
    return {cell.id: cell for cell in plan.cells}


def finetune_of(cell: Job) -> dict[str, Any]:
    return dict(cell.resolved["finetune"])


def test_every_cell_of_the_paper_grid_is_a_valid_finetune_and_eval_command() -> None:
    """Our finetune/eval schemas express every released setting (lengths, min length, epochs
    or steps, accumulation, warm-up, max_train_samples, fp16): each cell's command loads."""
    paper = cells("paper")
    assert len(paper) == 76
    for cell in paper.values():
        finetune = next(s for s in cell.steps if s.name == "finetune")
        config = load_config(FinetuneConfig, None, list(finetune.argv[1:]))
        evaluate = next(s for s in cell.steps if s.name == "eval")
        decoded = load_config(EvalConfig, None, list(evaluate.argv[1:]))
        assert decoded.lengths() == config.lengths(), f"{cell.id}: evaluated at its own lengths"


def test_released_cells_cite_the_authors_scripts() -> None:
    """Every setting of a cell the authors released a command line for says where it is from;
    its cell-specific settings cite a script and line."""
    for cell in cells("paper").values():
        settings = cell.resolved["settings"]
        assert all(item["source"] for item in settings.values()), cell.id
        if cell.labels["model"] in RELEASED:
            specific = [
                item["source"]
                for item in settings.values()
                if item["from"].startswith("rules[") and item["from"] != "rules[0].finetune"
            ]
            assert specific and all(CITATION.search(s) for s in specific), cell.id


@pytest.mark.parametrize(
    ("cell", "lr", "batch", "accum", "steps"),
    [
        ("t5s__wmt13-es-en__s1", 5e-3, 32, 12, 10000),
        ("barto__wmt13-en-es__s1", 5e-3, 96, 4, 5000),
        ("t5s__fapesp-es-pt__s1", 5e-3, 32, 12, 10000),
    ],
)
def test_translation_rows_keep_the_warm_up_quirk(
    cell: str, lr: float, batch: int, accum: int, steps: int
) -> None:
    """run_translation.sh: warm-up 40,000 past max_steps, so lr only rises (peak lr·steps/40k)."""
    settings = finetune_of(cells("paper")[cell])
    assert settings["optim.lr"] == lr and settings["optim.steps"] == steps
    assert settings["optim.batch_size"] == batch and settings["optim.grad_accum_steps"] == accum
    assert settings["optim.warmup_steps"] == 40000 > steps and settings["epochs"] is None
    assert settings.get("max_train_examples") == (None if "fapesp" in cell else 600000)


def test_paper_fixed_differs_from_paper_only_in_warm_up() -> None:
    paper, fixed = cells("paper"), cells("paper-fixed")
    assert len(fixed) == 6
    for cell_id, cell in fixed.items():
        row, rest = cell_id.split("__", 1)
        original = finetune_of(paper[f"{row.removesuffix('-warm-up-fixed')}__{rest}"])
        changed = finetune_of(cell)
        assert changed["optim.warmup_steps"] < changed["optim.steps"], cell_id
        assert original["optim.warmup_steps"] > original["optim.steps"], cell_id
        same = {k: v for k, v in changed.items() if k != "optim.warmup_steps"}
        assert same == {k: v for k, v in original.items() if k != "optim.warmup_steps"}, cell_id


def test_hub_rows_load_a_pinned_revision() -> None:
    """T5S is pinned before the Hub's 2024-03-06 replacement; every hub row names a revision and
    its finetune command passes it on."""
    config = load_config(BenchConfig, REPO / "configs/bench/paper.yaml")
    hub_rows = [m for m in config.models if not m.model.startswith("{prepare.")]
    assert all(m.revision for m in hub_rows)
    t5s = finetune_step(cells("paper")["t5s__sqac__s1"])
    assert "model_revision=7d85ec235a979b51032dd488ae3b2e8352451c98" in t5s
    assert all("revision=" in " ".join(p.argv) for p in config.prepare)


def finetune_step(cell: Job) -> list[str]:
    return list(next(s for s in cell.steps if s.name == "finetune").argv)
