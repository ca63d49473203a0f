"""A study's ratings as CSV, unblinded: one row per answer, plus the outputs they judged.

Why long format: one row per (annotator, page, system, criterion) is what R, pandas and
spreadsheets pivot as they like; the system name is filled in from the recorded order, and
the slot it was shown in is kept, so position effects can be studied too.
"""

from __future__ import annotations

import csv
from pathlib import Path

from seq2seq_es.files import atomic_write
from seq2seq_es.humaneval.analysis import PREFERENCE
from seq2seq_es.humaneval.store import TIE, RatingStore
from seq2seq_es.humaneval.study import Study

RATING_COLUMNS = [
    "annotator",
    "position",
    "item",
    "id",
    "repeat_of",
    "slot",
    "system",
    "criterion",
    "value",
    "revision",
    "seconds",
    "submitted_at",
]
OUTPUT_COLUMNS = ["item", "id", "system", "source", "references", "output"]


def export_study(study: Study, output_dir: str | Path) -> dict[str, int]:
    """Write ratings.csv and outputs.csv into ``output_dir``; return their row counts."""
    output_dir = Path(output_dir)
    rows = []
    for page in RatingStore(study.database).pages():
        shown = study.queues[page.annotator][page.position]
        base = {
            "annotator": page.annotator,
            "position": page.position,
            "item": page.item,
            "id": study.items[page.item].id,
            "repeat_of": "" if shown.repeat_of is None else shown.repeat_of,
            "revision": page.revision,
            "seconds": "" if page.seconds is None else page.seconds,
            "submitted_at": page.submitted_at,
        }
        for (system, criterion), value in sorted(
            page.answers.scores.items(), key=lambda kv: (shown.order.index(kv[0][0]), kv[0][1])
        ):
            rows.append(
                {
                    **base,
                    "slot": shown.order.index(system) + 1,
                    "system": system,
                    "criterion": criterion,
                    "value": value,
                }
            )
        choice = page.answers.preference
        if choice is not None:
            rows.append(
                {
                    **base,
                    "slot": "" if choice == TIE else shown.order.index(choice) + 1,
                    "system": "",
                    "criterion": PREFERENCE,
                    "value": choice,
                }
            )
    with atomic_write(output_dir / "ratings.csv") as handle:
        writer = csv.DictWriter(handle, fieldnames=RATING_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    outputs = [
        {
            "item": item.item,
            "id": item.id,
            "system": system,
            "source": item.source,
            "references": " ||| ".join(item.references),
            "output": item.outputs[system],
        }
        for item in study.items.values()
        for system in study.systems
    ]
    with atomic_write(output_dir / "outputs.csv") as handle:
        writer = csv.DictWriter(handle, fieldnames=OUTPUT_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(outputs)
    return {"ratings": len(rows), "outputs": len(outputs)}
