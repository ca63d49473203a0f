"""``make demo``: the whole pipeline, tiny, on real Spanish data, in a few CPU minutes.

corpus → tokenizer → pretrain (BART text infilling) → finetune (a task) → predict →
score. Each stage writes its own folder under ``output_dir`` with its resolved
config and run record, exactly as if run alone with its own command.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from pydantic import Field
from rich.console import Console
from rich.table import Table

from seq2seq_es.commands import corpus, finetune, pretrain, tokenizer
from seq2seq_es.commands.base import Command, Flag
from seq2seq_es.commands.display import print_mapping, print_scores
from seq2seq_es.config import StrictModel
from seq2seq_es.corpus.config import CorpusConfig
from seq2seq_es.errors import DataError
from seq2seq_es.pretraining.config import PretrainConfig
from seq2seq_es.tasks.config import DecodingConfig, FinetuneConfig
from seq2seq_es.tokenizer.config import TokenizerConfig
from seq2seq_es.training.config import OptimConfig


class DemoConfig(StrictModel):
    data: str = Field("../shared/data", description="Folder laid out like ../shared/data.")
    corpus_file: str = "pretrain/sample.jsonl.gz"
    output_dir: str = "runs/demo"
    seed: int = 1234
    vocab_size: int = 8000
    model: str = "barto-tiny"
    seq_len: int = 128
    pretrain: OptimConfig = OptimConfig(steps=400, lr=1e-3, warmup_steps=40, batch_size=16)
    task: str = "squad-es-qa"
    max_train_examples: int | None = None
    max_eval_examples: int = 200
    finetune: OptimConfig = OptimConfig(steps=300, lr=5e-4, warmup_steps=30, batch_size=16)
    generation: DecodingConfig = DecodingConfig(num_beams=1)


def stage_configs(config: DemoConfig) -> dict[str, StrictModel]:
    out = Path(config.output_dir)
    data = Path(config.data)
    return {
        "corpus": CorpusConfig(input=str(data / config.corpus_file), output_dir=str(out / "corpus")),
        "tokenizer": TokenizerConfig(input=str(out / "corpus" / "shards"), output_dir=str(out / "tokenizer"),
                                     vocab_size=config.vocab_size),
        "pretrain": PretrainConfig(data=str(out / "corpus" / "shards"), tokenizer=str(out / "tokenizer"),
                                   output_dir=str(out / "pretrain"), model=config.model, seq_len=config.seq_len,
                                   seed=config.seed, optim=config.pretrain),
        "finetune": FinetuneConfig(task=config.task, data_dir=str(data), model=str(out / "pretrain" / "model"),
                                   output_dir=str(out / "finetune"), max_train_examples=config.max_train_examples,
                                   max_eval_examples=config.max_eval_examples, seed=config.seed,
                                   optim=config.finetune, generation=config.generation),
    }


def check_data(config: DemoConfig) -> None:
    from seq2seq_es.tasks.registry import get_task

    data = Path(config.data)
    task = get_task(config.task)
    if task.local is None:
        raise DataError(f"The demo runs offline on local files; task {task.name!r} is a hub task. "
                        "Pick a local task (see `seq2seq-es tasks`).")
    files = [config.corpus_file, *(f for f in (task.local.file, task.local.train, task.local.validation) if f)]
    missing = [str(data / f) for f in files if not (data / f).is_file()]
    if missing:
        raise DataError(
            f"The demo needs a data folder laid out like the project's shared data; missing: {', '.join(missing)}. "
            f"Pass it with `seq2seq-es demo --data /path/to/data` (it must hold {', '.join(files)}), "
            "or set `data=...` in a demo config."
        )


STAGES: dict[str, Command] = {command.name: command for module in (corpus, tokenizer, pretrain, finetune)
                               for command in module.COMMANDS}


def run(config: DemoConfig) -> dict[str, Any]:
    """Run every stage as its own command would; return timings, artifact paths and the final scores."""
    from seq2seq_es.run_record import write_run_record

    check_data(config)
    stages = stage_configs(config)
    timings: dict[str, float] = {}
    results: dict[str, Any] = {}
    for name, stage_config in stages.items():
        output_dir = Path(stage_config.output_dir)  # type: ignore[attr-defined]
        write_run_record(output_dir, stage_config, name)
        start = time.perf_counter()
        results[name] = STAGES[name].run(stage_config)
        timings[name] = time.perf_counter() - start
    out = Path(config.output_dir)
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
    return {"timings": timings, "artifacts": {k: str(v) for k, v in artifacts.items()},
            "pretrain": results["pretrain"], "scores": results["finetune"]}


def show(report: dict[str, Any], console: Console) -> None:
    table = Table(title="seq2seq-es demo: artifacts")
    table.add_column("artifact")
    table.add_column("path")
    for name, path in report["artifacts"].items():
        table.add_row(name, path)
    console.print(table)
    print_mapping(console, "stage time (s)", {k: f"{v:.1f}" for k, v in report["timings"].items()})
    print_scores(console, report["scores"])


COMMANDS = [Command("demo", "Run the whole pipeline tiny and end to end; print artifacts and scores.", DemoConfig,
                    run, show, flags=(Flag("data", ("--data",), "Data folder (default ../shared/data)."),))]
