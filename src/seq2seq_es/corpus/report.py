"""``stats.json``: documents and characters in and out of every step, per drop reason.

Built from the per-task stats files datatrove writes (``logs/<stage>/stats/*.json``),
so it works the same under every executor: it runs as the pipeline's last stage.
Rows come from the ``Tally`` steps around each filter (see ``steps.Tally``), drop
reasons from the filters' ``dropped_<reason>`` / ``chars_dropped_<reason>`` counters.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from seq2seq_es.corpus.steps import TALLY_PREFIX
from seq2seq_es.files import write_json

# datatrove's dedup filters count "dropped" without a reason.
DEFAULT_REASONS = {"exact_dedup": "exact_duplicate", "minhash_dedup": "near_duplicate"}


def _total(value: Any) -> float:
    if isinstance(value, dict):
        return float(value.get("total", 0))
    return float(value or 0)


def merge_stage_stats(stats_dir: Path) -> list[dict[str, Any]]:
    """Sum the per-task stats of one stage: ``[{name, seconds, counters}]`` in pipeline order."""
    merged: list[dict[str, Any]] = []
    for path in sorted(stats_dir.glob("*.json")):
        for index, step in enumerate(json.loads(path.read_text(encoding="utf-8"))):
            if index == len(merged):
                merged.append({"name": step["name"], "seconds": 0.0, "counters": {}})
            entry = merged[index]
            entry["seconds"] += _total(step.get("time_stats"))
            for key, value in step.get("stats", {}).items():
                entry["counters"][key] = entry["counters"].get(key, 0) + _total(value)
                if isinstance(value, dict) and key == "perplexity":
                    entry.setdefault("perplexity", []).append(value)
    return merged


def _reasons(counters: dict[str, float], prefix: str) -> dict[str, dict[str, int]]:
    reasons: dict[str, dict[str, int]] = {}
    for key, value in counters.items():
        if key.startswith(f"{prefix}_"):
            reason = key[len(prefix) + 1 :]
            reasons.setdefault(reason, {"docs": 0, "chars": 0})["docs"] = int(value)
    for reason, entry in reasons.items():
        entry["chars"] = int(counters.get(f"chars_{prefix}_{reason}", 0))
    return reasons


def stage_rows(
    stage: str, steps: list[dict[str, Any]], previous: dict[str, Any] | None = None
) -> tuple[dict[str, dict[str, Any]], dict[str, Any] | None]:
    """One row per ``Tally``-delimited step of a stage (plus a time-only row for the rest).

    ``previous`` is the last tally of the earlier stages: a stage that reads back
    ``work/`` files starts from the documents the previous stage kept. Returns the rows
    and this stage's last tally.
    """
    rows: dict[str, dict[str, Any]] = {}
    pending: list[dict[str, Any]] = []
    for step in steps:
        if not step["name"].startswith(TALLY_PREFIX):
            pending.append(step)
            continue
        key = step["name"].split(": ", 1)[1]
        counters: dict[str, float] = {}
        for member in pending:
            for name, value in member["counters"].items():
                counters[name] = counters.get(name, 0) + value
        docs_out, chars_out = (
            int(step["counters"].get("docs", 0)),
            int(step["counters"].get("chars", 0)),
        )
        dropped = _reasons(counters, "dropped") | _reasons(counters, "rejected")
        if (
            previous is None
        ):  # the readers: their input is what they yielded plus what they rejected
            docs_in = docs_out + sum(r["docs"] for r in dropped.values())
            chars_in = chars_out + sum(r["chars"] for r in dropped.values())
        else:
            docs_in, chars_in = (
                int(previous["counters"].get("docs", 0)),
                int(previous["counters"].get("chars", 0)),
            )
        unexplained = docs_in - docs_out - sum(r["docs"] for r in dropped.values())
        if unexplained > 0 and key in DEFAULT_REASONS:
            dropped[DEFAULT_REASONS[key]] = {"docs": unexplained, "chars": chars_in - chars_out}
        extra = {
            name: int(value)
            for name, value in counters.items()
            if name.startswith("lines_removed_")
        }
        rows[key] = {
            "stage": stage,
            "docs_in": docs_in,
            "docs_out": docs_out,
            "chars_in": chars_in,
            "chars_out": chars_out,
            "dropped": dropped,
            "seconds": round(sum(member["seconds"] for member in pending), 3),
        } | extra
        perplexity = [m for member in pending for m in member.get("perplexity", [])]
        if perplexity:
            rows[key]["perplexity_mean"] = round(
                sum(p["total"] for p in perplexity)
                / max(1, sum(p.get("n", 1) for p in perplexity)),
                2,
            )
        previous, pending = step, []
    if pending:
        rows[f"{stage}: other"] = {
            "stage": stage,
            "seconds": round(sum(m["seconds"] for m in pending), 3),
            "steps": [m["name"] for m in pending],
        }
    return rows, previous


def build_report(
    stages: list[tuple[str, Path]], perplexity_dir: Path | None = None
) -> dict[str, Any]:
    """The whole ``stats.json`` document from the stages' logging folders, in run order."""
    rows: dict[str, dict[str, Any]] = {}
    previous: dict[str, Any] | None = None
    for stage, logging_dir in stages:
        stage_table, previous = stage_rows(
            stage, merge_stage_stats(logging_dir / "stats"), previous
        )
        rows |= stage_table
    counted = [row for row in rows.values() if "docs_in" in row]
    first, last = (counted[0], counted[-1]) if counted else ({}, {})
    report: dict[str, Any] = {
        "input": {
            "docs": first.get("docs_in", 0),
            "chars": first.get("chars_in", 0),
            "unreadable": first.get("dropped", {}),
        },
        "output": {"docs": last.get("docs_out", 0), "chars": last.get("chars_out", 0)},
        "seconds": round(sum(row["seconds"] for row in rows.values()), 3),
        "steps": rows,
    }
    if report["input"]["chars"]:
        report["output"]["kept_chars_fraction"] = round(
            report["output"]["chars"] / report["input"]["chars"], 4
        )
    if perplexity_dir is not None and perplexity_dir.is_dir():
        parts = [np.load(path) for path in sorted(perplexity_dir.glob("*.npy"))]
        values = np.concatenate(parts) if parts else np.array([])
        values = values[np.isfinite(values)]
        if values.size:
            q1, q2, q3 = np.quantile(values, [0.25, 0.5, 0.75]).tolist()
            report["perplexity_quartiles"] = [round(q1, 2), round(q2, 2), round(q3, 2)]
    return report


class WriteReport(PipelineStep):
    """Last stage (one task): write ``stats.json`` from every earlier stage's stats."""

    type = "📊 - REPORT"
    name = "📊 stats.json"

    def __init__(
        self, stages: list[tuple[str, str]], output: str, perplexity_dir: str | None = None
    ) -> None:
        super().__init__()
        self.stages, self.output, self.perplexity_dir = stages, output, perplexity_dir

    def run(
        self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1
    ) -> DocumentsPipeline:
        stages = [(stage, Path(folder)) for stage, folder in self.stages]
        write_json(
            self.output,
            build_report(stages, Path(self.perplexity_dir) if self.perplexity_dir else None),
        )
        yield from ()
