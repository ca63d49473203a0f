"""The four commands' ``run`` and ``show``, end to end on a small study (the CLI calls exactly
these)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from rich.console import Console

from seq2seq_es.commands.humaneval import COMMANDS
from seq2seq_es.humaneval.config import AnalyzeConfig, CreateConfig, ExportConfig
from seq2seq_es.humaneval.store import Answers, RatingStore

from .conftest import make_predictions


def test_create_analyze_export(tmp_path: Path) -> None:
    commands = {c.name: c for c in COMMANDS}
    assert set(commands) == {
        "humaneval create",
        "humaneval serve",
        "humaneval analyze",
        "humaneval export",
    }
    console = Console(record=True, width=200)
    paths = [str(p) for p in make_predictions(tmp_path / "systems", n=10)]
    create = commands["humaneval create"]
    config = CreateConfig(
        predictions=paths,
        protocol="summarization",
        output_dir=str(tmp_path / "study"),
        n_items=8,
        annotators=["ana", "luis"],
    )
    assert (
        create.output_dir(config) is None
    )  # the study writes its own record, inside the atomic folder
    result = create.run(config)
    create.show(result, console)
    assert "annotators.json" in console.export_text() and result.items == 8

    store = RatingStore(result.path / "ratings.sqlite")
    study_file = json.loads((result.path / "study.json").read_text(encoding="utf-8"))
    for who, score in (("ana", 4), ("luis", 5)):
        for page in study_file["queues"][who][:3]:
            store.submit(
                who,
                page["position"],
                page["item"],
                0,
                Answers(
                    {
                        (s, c): score
                        for s in page["order"]
                        for c in ("fluency", "faithfulness", "coverage")
                    },
                    "tie",
                ),
            )

    analyze = commands["humaneval analyze"]
    analysis_config = AnalyzeConfig(
        study=str(result.path), bootstrap_samples=200, min_share_rated=0.3
    )
    assert analyze.output_dir(analysis_config) == result.path / "analysis"
    report = analyze.run(analysis_config)
    analyze.show(report, console)
    text = report.report.read_text(encoding="utf-8")
    for heading in (
        "## System scores",
        "## Pairwise comparisons",
        "## Inter-annotator agreement",
        "## Intra-annotator consistency",
        "## Human scores vs automatic metrics",
    ):
        assert heading in text
    assert "| Fidelidad |" in text and "`rouge.rougeL`" in text
    saved = json.loads((result.path / "analysis" / "analysis.json").read_text(encoding="utf-8"))
    assert saved["kept_annotators"] == ["ana", "luis"]

    export = commands["humaneval export"]
    exported = export.run(ExportConfig(study=str(result.path)))
    export.show(exported, console)
    with open(result.path / "export" / "ratings.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert (
        len(rows) == exported["ratings"] == 2 * 3 * (2 * 3 + 1)
    )  # pages × (systems × criteria + preference)
    assert {r["system"] for r in rows} == {"base", "mejor", ""}
    assert {r["value"] for r in rows if r["criterion"] == "preference"} == {"tie"}
    assert all(r["slot"] in ("1", "2") for r in rows if r["criterion"] != "preference")
    with open(result.path / "export" / "outputs.csv", encoding="utf-8", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 16
