"""Plots of a grid are written (PNG + SVG) and are real images."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from seq2seq_es.bench.config import PlotsConfig
from seq2seq_es.bench.grid import PREPARE_OUTPUT, Job, Plan
from seq2seq_es.bench.plots import (
    cross_domain_matrix,
    leaderboard_heatmap,
    plot_bench,
    pretraining_curves,
    read_curve,
    score_vs_corpus_size,
)


def cell(mean: float, best: bool = False, tied: bool = False, seeds: int = 1) -> dict[str, Any]:
    return {
        "mean": mean,
        "std": 0.5 if seeds > 1 else 0.0,
        "n_seeds": seeds,
        "ci": [mean - 1, mean + 1],
        "best": best,
        "tied": tied,
    }


def fixture_board() -> dict[str, Any]:
    columns = [
        {"id": "qa:rouge.rouge1", "task": "qa", "label": "ROUGE-1", "higher_is_better": True},
        {
            "id": "qa:rouge-paper.rouge1",
            "task": "qa",
            "label": "ROUGE-1 (paper)",
            "higher_is_better": True,
        },
        {"id": "mt:bleu.score", "task": "mt", "label": "BLEU", "higher_is_better": True},
    ]
    cells = {
        "10%": {
            "qa:rouge.rouge1": cell(3.0),
            "qa:rouge-paper.rouge1": cell(3.5),
            "mt:bleu.score": cell(10.0),
        },
        "30%": {"qa:rouge.rouge1": cell(4.0, tied=True), "mt:bleu.score": cell(12.0, tied=True)},
        "100%": {
            "qa:rouge.rouge1": cell(5.0, best=True, seeds=3),
            "qa:rouge-paper.rouge1": cell(5.5, best=True),
            "mt:bleu.score": cell(13.0, best=True),
        },
    }
    return {
        "name": "fixture",
        "split": "validation",
        "columns": columns,
        "rows": list(cells),
        "cells": cells,
        "facts": {
            "10%": {"corpus_tokens": 1e6},
            "30%": {"corpus_tokens": 3e6},
            "100%": {"corpus_tokens": 1e7},
        },
        "cross_domain": [
            {
                "row": "100%",
                "train_task": "mt",
                "eval_task": "news",
                "score": "bleu.score",
                "mean": 1.2,
                "std": 0.0,
                "n_seeds": 1,
                "ci": None,
            }
        ],
    }


def is_image(path: Path) -> bool:
    data = path.read_bytes()
    return len(data) > 1000 and (data.startswith(b"\x89PNG") or b"<svg" in data[:2000])


def test_each_plot_writes_png_and_svg(tmp_path: Path) -> None:
    board = fixture_board()
    run = tmp_path / "pretrain"
    run.mkdir()
    records = [{"step": s, "loss": 9.0 - s / 100} for s in range(10, 310, 10)]
    records += [{"step": s, "validation_loss": 8.5 - s / 120} for s in (100, 200, 300)]
    (run / "metrics.jsonl").write_text(
        "\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8"
    )
    assert len(read_curve(run)["loss"]) == 30 and len(read_curve(run)["validation_loss"]) == 3
    paths = [
        *leaderboard_heatmap(board, tmp_path / "heat", ["png", "svg"]),
        *pretraining_curves({"barto": run}, tmp_path / "curves", ["png", "svg"]),
        *score_vs_corpus_size(board, "corpus_tokens", tmp_path / "size", ["png", "svg"]),
        *cross_domain_matrix(board, tmp_path / "cross", ["png", "svg"]),
    ]
    assert [p.name for p in paths] == [
        "heat.png",
        "heat.svg",
        "curves.png",
        "curves.svg",
        "size.png",
        "size.svg",
        "cross.png",
        "cross.svg",
    ]
    assert all(is_image(p) for p in paths)


def test_plot_bench_draws_what_the_grid_has(tmp_path: Path) -> None:
    board = fixture_board()
    board["cross_domain"] = []
    plan = Plan(
        (
            Job("prepare", "pretrain", "prepare/pretrain", ()),
            Job("prepare", "tokenizer", "prepare/tok", ()),
        ),
        (),
    )
    run = tmp_path / "prepare" / "pretrain" / PREPARE_OUTPUT  # where a prepare job's command writes
    run.mkdir(parents=True)
    (run / "metrics.jsonl").write_text(
        '{"step": 10, "loss": 7.0}\n{"step": 20, "loss": 6.5}\n', encoding="utf-8"
    )
    paths = plot_bench(board, plan, tmp_path, tmp_path / "plots", PlotsConfig(formats=["png"]))
    assert sorted(p.name for p in paths) == [
        "leaderboard_heatmap.png",
        "pretraining_curves.png",
        "score_vs_corpus_size.png",
    ]
    assert all(is_image(p) for p in paths)
