"""The analysis as a Markdown report a paper's appendix can quote.

Pure formatting of ``analysis.analyze``'s output: every number in the report is in
``analysis.json`` too. Undefined statistics print as "–" with the reason in a note.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from seq2seq_es.files import atomic_write, write_json

DASH = "–"


def num(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return DASH
    return f"{value:.{digits}f}"


def p_value(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return DASH
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(row) + " |" for row in rows),
        "",
    ]


def render_report(analysis: dict[str, Any], title: str | None = None) -> str:
    """Markdown: setup, exclusions, system scores, pairwise tests, agreement, consistency,
    correlations."""
    settings = analysis["settings"]
    confidence = f"{settings['confidence']:.0%}"
    labels = {c["name"]: c["label"] for c in analysis["criteria"]} | {"preference": "Preferencia"}
    lines = [
        f"# {title or 'Human evaluation report'}",
        "",
        (
            f"Study `{analysis['study']}`: protocol `{analysis['protocol']}`, {analysis['items']} "
            f"items, systems {', '.join(f'`{s}`' for s in analysis['systems'])}, "
            f"{len(analysis['annotators'])} annotators ({len(analysis['kept_annotators'])} kept), "
            f"{analysis['repeats_per_annotator']} repeated items per annotator, "
            f"{analysis['ratings']} ratings on first showings (all annotators)."
        ),
        "",
        "## Annotators and exclusions",
        "",
    ]
    rows = []
    for name, row in analysis["annotators"].items():
        rows.append(
            [
                name,
                f"{row['rated']}/{row['pages']}",
                str(row["repeated_items"]),
                num(row["repeat_exact"]),
                num(row["repeat_difference"]),
                num(row["median_seconds"], 1),
                "yes" if row["kept"] else "no: " + "; ".join(row["excluded_because"]),
            ]
        )
    lines += _table(
        [
            "annotator",
            "pages rated",
            "repeated items",
            "repeat exact agreement",
            "repeat mean abs. difference / scale width",
            "median s/page",
            "kept",
        ],
        rows,
    )
    lines += [
        (
            f"Exclusion rules: rated at least {settings['min_share_rated']:.0%} of their pages; "
            f"repeated ratings differing by at most {settings['max_repeat_difference']} of the "
            f"scale width on average (checked with at least {settings['min_repeats']} repeated "
            "items)."
        ),
        "",
    ]

    lines += [
        "## System scores",
        "",
        (
            f"Mean of per-item means over kept annotators (first showings), {confidence} bootstrap "
            f"interval over items ({settings['bootstrap_samples']} resamples)."
        ),
        "",
    ]
    systems = analysis["systems"]
    rows = []
    for criterion, scores in analysis["system_scores"].items():
        rows.append(
            [
                labels[criterion],
                *(
                    f"{num(scores[s]['value'])} [{num(scores[s]['low'])}, "
                    f"{num(scores[s]['high'])}] (n={scores[s]['n']})"
                    for s in systems
                ),
            ]
        )
    lines += _table(["criterion", *systems], rows)

    lines += [
        "## Pairwise comparisons",
        "",
        (
            "Per item, A wins when its mean score (or mean preference vote) is above B's. Win rate "
            "= wins / (wins + losses); two-sided exact sign test, ties dropped; Holm-adjusted over "
            "all rows."
        ),
        "",
    ]
    rows = [
        [
            f"{r['system_a']} vs {r['system_b']}",
            labels[r["criterion"]],
            str(r["items"]),
            f"{r['wins']}/{r['losses']}/{r['ties']}",
            num(r["win_rate"]),
            num(r["mean_difference"]),
            p_value(r["p_value"]),
            p_value(r["p_holm"]),
        ]
        for r in analysis["pairwise"]
    ]
    lines += _table(
        [
            "pair (A vs B)",
            "criterion",
            "items",
            "wins/losses/ties of A",
            "win rate of A",
            "mean A − B",
            "p",
            "p (Holm)",
        ],
        rows,
    )
    check = analysis.get("position_check")
    if check:
        lines += [
            (
                f"Position check: among {check['decided']} decided preferences, the output shown "
                f"first was chosen {num(check['first_slot_share'])} of the time (sign test p = "
                f"{p_value(check['p_value'])})."
            ),
            "",
        ]

    lines += [
        "## Inter-annotator agreement",
        "",
        (
            "Krippendorff's alpha over units (item, system) per criterion (units = items for the "
            "preference), first showings of kept annotators; Cohen's kappa for each pair of "
            "annotators (quadratic weights for the ordinal scales)."
        ),
        "",
    ]
    rows = []
    for criterion, entry in analysis["agreement"].items():
        kappas = entry["cohen_kappa"]
        kappa = (
            "; ".join(
                f"{k['annotators'][0]}–{k['annotators'][1]}: {num(k['kappa'])}"
                + (
                    f" (quadratic {num(k['kappa_quadratic'])})"
                    if not _nan(k["kappa_quadratic"])
                    else ""
                )
                for k in kappas
            )
            or DASH
        )
        ordinal = "n/a" if criterion == "preference" else num(entry["alpha_ordinal"])
        rows.append(
            [labels[criterion], str(entry["units"]), ordinal, num(entry["alpha_nominal"]), kappa]
        )
    lines += _table(
        ["criterion", "units", "alpha (ordinal)", "alpha (nominal)", "Cohen's kappa"], rows
    )

    lines += [
        "## Intra-annotator consistency",
        "",
        (
            "First vs repeated showing of the same item (system order redrawn), pooled over kept "
            "annotators."
        ),
        "",
    ]
    rows = [
        [
            labels[c],
            str(e["pairs"]),
            num(e["exact"]),
            "n/a" if c == "preference" else num(e["alpha_ordinal"]),
        ]
        for c, e in analysis["intra_agreement"].items()
    ]
    lines += _table(["criterion", "pairs", "exact agreement", "alpha (ordinal)"], rows)

    lines += ["## Human scores vs automatic metrics", ""]
    if analysis["correlations"]:
        lines += [
            (
                f"Spearman's rho between the per-output human mean and the metric on that output; "
                f"{confidence} bootstrap interval resampling items."
            ),
            "",
        ]
        rows = [
            [
                labels[r["criterion"]],
                f"`{r['metric']}`",
                str(r["n"]),
                num(r["rho"]),
                f"[{num(r['low'])}, {num(r['high'])}]",
                p_value(r["p_value"]),
            ]
            for r in analysis["correlations"]
        ]
        lines += _table(["criterion", "metric", "outputs", "rho", "interval", "p"], rows)
    else:
        lines += ["No automatic metric (the protocol lists none, or items lack references).", ""]
    lines += [
        f"{DASH} = undefined (too few ratings, or no variation to correlate or agree on).",
        "",
    ]
    return "\n".join(lines)


def _nan(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def json_safe(value: Any) -> Any:
    """NaN → None (JSON has no NaN), recursively; tuples → lists."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def write_analysis(
    analysis: dict[str, Any], output_dir: str | Path, title: str | None = None
) -> Path:
    """Write ``analysis.json`` and ``report.md`` (atomically); return the report's path."""
    output_dir = Path(output_dir)
    write_json(output_dir / "analysis.json", json_safe(analysis))
    report = output_dir / "report.md"
    with atomic_write(report) as handle:
        handle.write(render_report(analysis, title))
    return report
