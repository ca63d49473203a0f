"""A Hugging Face model card (``README.md`` with YAML metadata) for a trained model folder.

Why: a checkpoint folder is what users upload to the Hub, and the Hub reads the card's
YAML header (language, license, datasets, ``model-index`` results) for search and the
evaluation widget. Writing the card where the model is saved means every model we
produce says what data, objective and steps made it, how it scores (with 95% intervals
and the metric signatures) and what it cannot do. The metadata is built with
``huggingface_hub``'s own ``ModelCardData`` / ``EvalResult``, so it is the format the Hub
parses (the tests load it back with ``huggingface_hub.ModelCard``).

The card is made from a plain dict of facts, so any stage can write one::

    write_model_card("runs/finetune/model", {
        "name": "barto-tiny-squad-es-qa",
        "base_model": "runs/pretrain/model",            # or a hub id
        "datasets": ["squad-es (local: qa/squad_es_dev_small_*.jsonl.gz)"],
        "license": "apache-2.0",
        "description": "BARTO tiny fine-tuned for generative QA.",
        "architecture": {"family": "bart", "parameters": 2_100_000},
        "training": {"objective": "cross-entropy on answers", "steps": 600, "batch_size": 16, "lr":
        1e-3},
        "results": [{"task_type": HUB_TASK_TYPES["qa"], "task_name": "Generative QA",
                     "dataset_name": "SQuAD-es (small)", "dataset_type": "squad-es", "split":
                     "validation",
                     "scores": scores,                          # a scores.json dict
                     "metrics": ["rouge.rouge1", "qa.token_f1"]}],  # optional: all by default
        "limitations": ["2M parameters: answers are mostly wrong."],
    })

Known keys: ``name`` (required), ``base_model``, ``language`` (default ``["es"]``),
``license`` (default ``apache-2.0``), ``datasets``, ``pipeline_tag`` (default
``text2text-generation``), ``auto_class`` (the transformers class of the usage snippet,
default ``AutoModelForSeq2SeqLM``), ``tags``, ``description``, ``architecture`` and
``training`` (mappings shown as tables), ``results``, ``limitations``, ``intended_use``,
``citation``, ``task`` (the seq2seq-es task a model was fine-tuned on, kept in the metadata
as ``seq2seq_es: {task: NAME}``; how it decodes is in its ``generation_config.json``). The
stages that train (``pretraining``, ``tasks``) build the facts; ``size_limitations`` gives
them one honest sentence for the size of the model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from seq2seq_es.errors import ConfigError
from seq2seq_es.files import atomic_write

CARD_FILE = "README.md"
DEFAULT_LIMITATIONS = (
    "Trained and evaluated on Spanish text only; other languages and dialects are out of scope.",
    "Scores are on the split named in the results table; they are not guarantees on other data.",
    (
        "Generated text can be fluent and wrong: check facts before use, and do not use it for "
        "decisions about people."
    ),
)
# The Hub's task type for each of our task kinds (generative QA and dialogue are text2text on the
# Hub).
SMALL_MODEL_PARAMETERS = (
    30_000_000  # below this (our tiny/small presets) a card says the model is a toy
)
HUB_TASK_TYPES = {
    "summarization": "summarization",
    "translation": "translation",
    "qa": "text2text-generation",
    "dialogue": "text2text-generation",
    "split_rephrase": "text2text-generation",
    "copy": "text2text-generation",
}
METRIC_NAMES = {
    "rouge": "ROUGE (Spanish words, no stemming)",
    "rouge-paper": "ROUGE (paper-compatible rouge-score)",
    "rouge-snowball": "ROUGE (Spanish Snowball stems)",
    "bleu": "sacreBLEU",
    "chrf": "chrF",
    "sari": "SARI (EASSE)",
    "sari-evaluate": "SARI (evaluate)",
    "meteor": "METEOR (Spanish stems)",
    "unigram-f1": "unigram F1",
    "qa": "QA",
    "nll": "reference NLL",
}


def size_limitations(parameters: int | None) -> list[str]:
    """An honest sentence for a model of ``parameters`` weights (none for base-sized models).

    Why: the tiny presets exist to run the whole pipeline on a CPU in minutes; a card read
    on the Hub must not let anyone take such a model for a usable one.
    """
    if parameters is None or parameters >= SMALL_MODEL_PARAMETERS:
        return []
    return [
        (
            f"Only {parameters / 1e6:.1f}M parameters, trained for minutes to hours on a CPU: a "
            "model for testing the pipeline and for comparisons at this size, not for use. Expect "
            "frequent wrong, repetitive or near-degenerate output (see the scores)."
        )
    ]


def metric_entries(
    scores: Mapping[str, Any], wanted: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """``[{metric, score, value, ci, signature}]`` from a scores.json dict (every score, or
    ``wanted``)."""
    entries = []
    for metric, entry in scores.items():
        if not isinstance(entry, Mapping) or "signature" not in entry:
            continue
        for score, value in entry.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            dotted = f"{metric}.{score}"
            if (
                wanted is not None
                and dotted not in wanted
                and not (score == "score" and metric in wanted)
            ):
                continue
            entries.append(
                {
                    "metric": metric,
                    "score": score,
                    "value": float(value),
                    "ci": entry.get("ci", {}).get(score),
                    "signature": entry["signature"],
                }
            )
    return entries


def _score_name(metric: str, score: str) -> str:
    base = METRIC_NAMES.get(metric, metric)
    return base if score in ("score", metric) else f"{base} {score}"


def _eval_results(name: str, results: Sequence[Mapping[str, Any]]) -> list[Any]:
    from huggingface_hub import EvalResult

    found = []
    for result in results:
        for entry in metric_entries(result.get("scores", {}), result.get("metrics")):
            found.append(
                EvalResult(
                    task_type=str(result.get("task_type", "text2text-generation")),
                    task_name=result.get("task_name"),
                    dataset_type=str(
                        result.get("dataset_type", result.get("dataset_name", "unknown"))
                    ),
                    dataset_name=str(
                        result.get("dataset_name", result.get("dataset_type", "unknown"))
                    ),
                    dataset_config=result.get("dataset_config"),
                    dataset_split=result.get("split"),
                    metric_type=entry["metric"],
                    metric_name=_score_name(entry["metric"], entry["score"]),
                    metric_value=round(entry["value"], 4),
                    verified=False,
                )
            )
    return found


def card_metadata(facts: Mapping[str, Any]) -> str:
    """The YAML header (without the ``---`` lines), as ``huggingface_hub`` writes it."""
    from huggingface_hub import ModelCardData

    name = facts.get("name")
    if not name:
        raise ConfigError("A model card needs a 'name' fact (the model's name or hub id).")
    results = _eval_results(str(name), facts.get("results", []))
    data = ModelCardData(
        language=list(facts.get("language", ["es"])),
        license=facts.get("license", "apache-2.0"),
        datasets=list(facts.get("datasets", [])) or None,
        base_model=facts.get("base_model"),
        pipeline_tag=facts.get("pipeline_tag", "text2text-generation"),
        library_name="transformers",
        tags=["seq2seq-es", *facts.get("tags", [])],
        model_name=str(name),
        eval_results=results or None,
    )
    if facts.get("task"):
        data.seq2seq_es = {"task": str(facts["task"])}  # type: ignore[attr-defined]
    return str(data.to_yaml())


def _table(mapping: Mapping[str, Any]) -> list[str]:
    lines = ["| | |", "|---|---|"]
    for key, value in mapping.items():
        text = (
            f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)
        )
        lines.append(f"| {key} | {text} |")
    return lines


def _results_section(results: Sequence[Mapping[str, Any]]) -> list[str]:
    if not results:
        return ["No evaluation was run for this model."]
    lines = [
        (
            "Scores with 95% bootstrap intervals (shares ×100; NLL in nats per token); the "
            "signature says how each was computed."
        ),
        "",
        "| data set | split | n | metric | value | 95% CI | signature |",
        "|---|---|---:|---|---:|---|---|",
    ]
    for result in results:
        scores = result.get("scores", {})
        for entry in metric_entries(scores, result.get("metrics")):
            interval = f"[{entry['ci'][0]:.2f}, {entry['ci'][1]:.2f}]" if entry["ci"] else ""
            signature = entry["signature"].replace(
                "|", "\\|"
            )  # a bare | would split the table cell
            lines.append(
                f"| {result.get('dataset_name', '')} | {result.get('split', '')} | "
                f"{scores.get('n', '')} | {_score_name(entry['metric'], entry['score'])} | "
                f"{entry['value']:.2f} | {interval} | `{signature}` |"
            )
    return lines


def render_model_card(facts: Mapping[str, Any]) -> str:
    """The whole ``README.md``: YAML header, description, training, results, limitations."""
    name = str(facts.get("name", ""))
    lines = ["---", card_metadata(facts).rstrip(), "---", "", f"# {name}", ""]
    if facts.get("description"):
        lines += [str(facts["description"]).strip(), ""]
    if facts.get("base_model"):
        lines += [f"Starts from `{facts['base_model']}`.", ""]
    if facts.get("architecture"):
        architecture = facts["architecture"]
        lines += [
            "## Model",
            "",
            *(_table(architecture) if isinstance(architecture, Mapping) else [str(architecture)]),
            "",
        ]
    if facts.get("training"):
        training = facts["training"]
        lines += [
            "## Training",
            "",
            *(_table(training) if isinstance(training, Mapping) else [str(training)]),
            "",
        ]
    if facts.get("datasets"):
        lines += ["## Data", "", *[f"- {d}" for d in facts["datasets"]], ""]
    lines += ["## Evaluation", "", *_results_section(facts.get("results", [])), ""]
    if facts.get("intended_use"):
        lines += ["## Intended use", "", str(facts["intended_use"]).strip(), ""]
    limitations = [*facts.get("limitations", []), *DEFAULT_LIMITATIONS]
    lines += ["## Limitations", "", *[f"- {item}" for item in limitations], ""]
    auto_class = str(facts.get("auto_class", "AutoModelForSeq2SeqLM"))
    lines += [
        "## How to use",
        "",
        "```python",
        f"from transformers import {auto_class}, AutoTokenizer",
        f'tokenizer = AutoTokenizer.from_pretrained("{name}")',
        f'model = {auto_class}.from_pretrained("{name}")',
        "```",
        "",
    ]
    if facts.get("citation"):
        lines += ["## Citation", "", "```bibtex", str(facts["citation"]).strip(), "```", ""]
    lines += ["Card written by seq2seq-es (`seq2seq_es.models.model_card`)."]
    return "\n".join(lines) + "\n"


def _card_data(folder: str | Path) -> Any:
    """The metadata of a model folder's card (None without a card or valid YAML metadata)."""
    from huggingface_hub import ModelCard

    path = Path(folder) / CARD_FILE
    if not path.is_file():
        return None
    try:
        return ModelCard.load(path).data
    except (ValueError, OSError):  # a hand-written README without (valid) YAML metadata
        return None


def card_name(folder: str | Path) -> str | None:
    """The ``model_name`` in the card of a model folder (None without a card or a name): how a
    fine-tuned model names the pretrained model it starts from."""
    name = getattr(_card_data(folder), "model_name", None)
    return str(name) if name else None


def card_task(folder: str | Path) -> str | None:
    """The seq2seq-es task named in the card of a model folder (None: not fine-tuned here)."""
    ours = getattr(_card_data(folder), "seq2seq_es", None)
    task = ours.get("task") if isinstance(ours, dict) else None
    return str(task) if task else None


def write_model_card(folder: str | Path, facts: Mapping[str, Any]) -> Path:
    """Write ``README.md`` into the model ``folder`` (atomically) and return its path."""
    path = Path(folder) / CARD_FILE
    with atomic_write(path) as handle:
        handle.write(render_model_card(facts))
    return path
