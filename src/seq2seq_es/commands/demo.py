"""``make demo``: the whole pipeline, tiny, on real Spanish data, in a few CPU minutes.

corpus → tokenizer → pretrain (BART text infilling) → finetune (a task) → predict →
score. Each stage runs through the CLI's own path (``commands.base.run_command``: claim its
folder, record the run, run it) and writes its own folder under ``output_dir``, exactly as if
run alone with its own command. The same demo again continues the one in its folder: a
finished stage is kept (its result read back), a stopped training resumes from its last
checkpoint. The default task
is English → Spanish translation (Tatoeba), which a 2M-parameter model visibly learns in
the demo's budget; ``task=squad-es-qa`` (or any local task) is one override away. The
final screen shows the scores with their intervals, what each one means, five example
outputs beside their references, the loss curves as a PNG, and what to run next.
"""

from __future__ import annotations

import json
import shlex
import time
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field
from rich.console import Console
from rich.table import Table
from rich.text import Text

from seq2seq_es.commands import corpus, finetune, pretrain, tokenizer
from seq2seq_es.commands.base import NOTHING_TO_DO, Command, Flag, run_command
from seq2seq_es.commands.display import print_mapping, print_scores
from seq2seq_es.config import VOLATILE, Seed, StrictModel, apply_overrides, validate_config
from seq2seq_es.corpus.config import CorpusConfig
from seq2seq_es.errors import DataError
from seq2seq_es.files import read_jsonl
from seq2seq_es.inference.config import GenerationOptions
from seq2seq_es.pretraining.config import PretrainConfig
from seq2seq_es.tasks.config import FinetuneConfig
from seq2seq_es.tokenizer.config import TokenizerConfig
from seq2seq_es.training.config import OptimConfig
from seq2seq_es.training.run_folder import RunFolder, claim_folder


class DemoOptim(OptimConfig):
    """A stage's optimisation settings. A demo is continued, never extended, so its budget is part
    of its identity: another number of steps in the same folder is refused, not mixed in."""

    steps: int = Field(300, ge=1, description="Optimizer steps.")


class DemoConfig(StrictModel):
    data: str = Field("../shared/data", description="Folder laid out like ../shared/data.")
    corpus_file: str = "pretrain/sample.jsonl.gz"
    corpus_overrides: list[str] = Field(
        default_factory=list,
        description="key=value settings of the corpus stage, "
        "e.g. [lines.enabled=false] for text without sentence punctuation.",
    )
    output_dir: Annotated[str, VOLATILE] = "runs/demo"
    seed: Seed = 1234
    vocab_size: int = 8000
    model: str = "barto-tiny"
    seq_len: int = 128
    pretrain: DemoOptim = DemoOptim(steps=400, lr=1e-3, warmup_steps=40, batch_size=16)
    task: str = Field(
        "tatoeba-en-es", description="A local task (see `seq2seq-es tasks`), e.g. squad-es-qa."
    )
    max_train_examples: int | None = None
    max_eval_examples: int = 500
    finetune: DemoOptim = DemoOptim(steps=1500, lr=1e-3, warmup_steps=150, batch_size=32)
    examples_shown: int = Field(
        5, ge=0, description="Validation examples printed with output and reference."
    )
    generation: GenerationOptions = GenerationOptions(num_beams=1)


def final_file(stage: str) -> str:
    """The file a training stage writes last, holding its result (present: it finished)."""
    from seq2seq_es.pretraining import claim as pretrain_claim
    from seq2seq_es.tasks import claim as finetune_claim

    return {"pretrain": pretrain_claim.FINAL_FILE, "finetune": finetune_claim.FINAL_FILE}[stage]


def continues(folder: Path, stage: str) -> bool:
    """Whether a training stage's folder holds a run to continue (``--resume``): one that
    finished, or one with a checkpoint. Otherwise the stage starts (again)."""
    from seq2seq_es.training.run_folder import CHECKPOINTS, list_checkpoints

    return (folder / final_file(stage)).is_file() or bool(list_checkpoints(folder / CHECKPOINTS))


def stage_configs(config: DemoConfig) -> dict[str, StrictModel]:
    out = Path(config.output_dir)
    data = Path(config.data)
    return {
        "corpus": validate_config(
            CorpusConfig,
            apply_overrides(
                {"input": str(data / config.corpus_file), "output_dir": str(out / "corpus")},
                config.corpus_overrides,
            ),
            "demo corpus_overrides",
        ),
        "tokenizer": TokenizerConfig(
            input=str(out / "corpus" / "shards"),
            output_dir=str(out / "tokenizer"),
            vocab_size=config.vocab_size,
        ),
        "pretrain": PretrainConfig(
            data=str(out / "corpus" / "shards"),
            tokenizer=str(out / "tokenizer"),
            output_dir=str(out / "pretrain"),
            model=config.model,
            seq_len=config.seq_len,
            seed=config.seed,
            optim=config.pretrain,
            resume=continues(out / "pretrain", "pretrain"),
        ),
        "finetune": FinetuneConfig(
            task=config.task,
            data_dir=str(data),
            model=str(out / "pretrain" / "model"),
            output_dir=str(out / "finetune"),
            max_train_examples=config.max_train_examples,
            max_eval_examples=config.max_eval_examples,
            seed=config.seed,
            optim=config.finetune,
            generation=config.generation,
            resume=continues(out / "finetune", "finetune"),
        ),
    }


def check_data(config: DemoConfig) -> None:
    from seq2seq_es.tasks.registry import get_task

    data = Path(config.data)
    task = get_task(config.task)
    if task.local is None:
        raise DataError(
            f"The demo runs offline on local files; task {task.name!r} is a hub task. "
            "Pick a local task (see `seq2seq-es tasks`)."
        )
    files = [
        config.corpus_file,
        *(f for f in (task.local.file, task.local.train, task.local.validation) if f),
    ]
    missing = [str(data / f) for f in files if not (data / f).is_file()]
    if missing:
        raise DataError(
            "The demo needs a data folder laid out like the project's shared data; missing: "
            f"{', '.join(missing)}. Pass it with `seq2seq-es demo --data /path/to/data` (it must "
            f"hold {', '.join(files)}), or set `data=...` in a demo config."
        )


STAGES: dict[str, Command] = {
    command.name: command
    for module in (corpus, tokenizer, pretrain, finetune)
    for command in module.COMMANDS
}


def run_stage(command: Command, config: Any) -> Any:
    """``command`` as the CLI runs it (claim → record → run); a stage an earlier run of this demo
    finished is not redone, and its result is read back from the file it wrote last."""
    result = run_command(command, config, Console(stderr=True))
    if result is NOTHING_TO_DO:
        path = Path(config.output_dir) / final_file(command.name)
        return json.loads(path.read_text(encoding="utf-8"))
    return result


def run(config: DemoConfig, folder: RunFolder) -> dict[str, Any]:
    """Run every stage as its own command would, in ``folder`` (claimed for the whole demo);
    return timings, artifact paths and the final scores."""
    from seq2seq_es.training.curves import plot_loss_curves

    check_data(config)
    stages = stage_configs(config)
    timings: dict[str, float] = {}
    results: dict[str, Any] = {}
    for name, stage_config in stages.items():
        start = time.perf_counter()
        results[name] = run_stage(STAGES[name], stage_config)
        timings[name] = time.perf_counter() - start
    out = folder.path
    artifacts = {
        "clean corpus shards": out / "corpus" / "shards",
        "corpus stats": out / "corpus" / "stats.json",
        "tokenizer": out / "tokenizer",
        "pretrained model": out / "pretrain" / "model",
        "pretraining log": out / "pretrain" / "metrics.jsonl",
        "fine-tuned model": out / "finetune" / "model",
        "predictions": out / "finetune" / "predictions.jsonl",
        "scores": out / "finetune" / "scores.json",
    }
    curves = plot_loss_curves(
        {
            "pretraining (BART denoising)": out / "pretrain",
            f"fine-tuning ({config.task})": out / "finetune",
        },
        out / "losses.png",
    )
    artifacts["loss curves"] = curves
    examples = read_jsonl(out / "finetune" / "predictions.jsonl")
    return {
        "timings": timings,
        "artifacts": {k: str(v) for k, v in artifacts.items()},
        "pretrain": results["pretrain"],
        "scores": results["finetune"],
        "examples": shown_examples(examples, config.examples_shown),
        "next": next_steps(config, examples[0]["source"] if examples else "Good morning."),
    }


def shown_examples(rows: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    """``count`` predictions with distinct inputs, spread evenly over the split.

    Why: validation files are often sorted (Tatoeba's first inputs are "No way!" four times
    with four references); the first rows would show one input again and again.
    """
    first_per_input: dict[str, dict[str, Any]] = {}
    for row in rows:
        first_per_input.setdefault(row["source"], row)
    distinct = list(first_per_input.values())
    if count <= 0 or not distinct:
        return []
    stride = max(1, len(distinct) // count)
    return distinct[::stride][:count]


def next_steps(config: DemoConfig, sample_input: str) -> list[str]:
    """Commands that continue from the demo's outputs (each one exists and takes these keys).

    ``sample_input`` is a validation input of the task, so the predict line runs as printed.
    """
    out = Path(config.output_dir)
    model = out / "finetune" / "model"
    steps = [
        (
            f"seq2seq-es finetune task={config.task} model={out / 'pretrain' / 'model'} "
            f"optim.steps=4000 output_dir=runs/{config.task}   # train longer"
        ),
        (
            f"seq2seq-es eval task={config.task} model={model} output_dir=runs/eval   # score the "
            "whole split"
        ),
        (
            f"echo {shlex.quote(sample_input)} | seq2seq-es predict model={model} input=-   # your "
            "own text"
        ),
    ]
    from seq2seq_es.models.families import get_family
    from seq2seq_es.models.presets import get_preset

    if get_family(get_preset(config.model).family).ct2_export:
        steps.append(
            f"seq2seq-es export model={model} output_dir={out / 'ct2'} quantization=int8   "
            "# CTranslate2, several times faster"
        )
    steps += [
        (
            f"seq2seq-es serve model={model} port=8000   # HTTP API + a web page at "
            "http://127.0.0.1:8000/"
        ),
        (
            "seq2seq-es tasks --wide   # other tasks: task=squad-es-qa, legal-ar-sum, "
            "parlamint-dialogue"
        ),
    ]
    return steps


def metric_meanings(scores: dict[str, Any]) -> dict[str, str]:
    """One line per metric in ``scores``: what the number measures (the registry's description)."""
    from seq2seq_es.metrics.scoring import METRICS

    meanings = {name: spec.description for name, spec in METRICS.items() if name in scores}
    if "nll" in scores:
        meanings["nll"] = (
            "cross-entropy of the reference per target token, teacher-forced (lower is better; "
            "perplexity = e^nll)"
        )
    return meanings


def show(report: dict[str, Any], console: Console) -> None:
    table = Table(title="seq2seq-es demo: artifacts")
    table.add_column("artifact")
    table.add_column("path")
    for name, path in report["artifacts"].items():
        table.add_row(name, path)
    console.print(table)
    print_mapping(console, "stage time (s)", {k: f"{v:.1f}" for k, v in report["timings"].items()})
    if report["examples"]:
        examples = Table(title="validation examples (greedy decoding)", show_lines=True)
        for column in ("input", "model output", "reference"):
            examples.add_column(column, overflow="fold")
        for row in report["examples"]:
            examples.add_row(
                row["source"], row["prediction"] or Text("(empty)", "dim"), row["reference"]
            )
        console.print(examples)
    print_scores(console, report["scores"])
    for name, meaning in metric_meanings(report["scores"]).items():
        console.print(Text.assemble("  ", (name, "bold"), f": {meaning}"), highlight=False)
    console.print(
        "  [...] = 95% bootstrap interval: the range the score would take on other samples of this "
        "size."
    )
    console.print(f"loss curves: {report['artifacts']['loss curves']}")
    console.print("what next:")
    for line in report["next"]:
        console.print(f"  {line}", highlight=False, markup=False)


def prepare_output(config: DemoConfig) -> RunFolder:
    """One folder, one demo: the same settings continue it (each stage's own claim decides
    what is left to do); other settings are refused, so a changed demo never overwrites the
    earlier one's outputs (choose another output_dir)."""
    return claim_folder(config.output_dir, "demo", config)


COMMANDS = [
    Command(
        "demo",
        "Run the whole pipeline tiny and end to end; print artifacts and scores.",
        DemoConfig,
        run,
        show,
        prepare_output=prepare_output,
        flags=(Flag("data", ("--data",), "Data folder (default ../shared/data)."),),
    )
]
