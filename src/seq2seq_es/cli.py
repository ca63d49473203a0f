"""The ``seq2seq-es`` command: one sub-command per pipeline stage.

Every stage command takes ``--config FILE.yaml`` (optional: the schema defaults are a
complete config) plus ``key=value`` overrides, writes ``config.yaml`` and
``run_info.json`` next to its outputs, and turns user errors into a short message and
exit code 2 (``--debug`` shows the traceback).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from seq2seq_es import __version__
from seq2seq_es.config import ConfigT, load_config
from seq2seq_es.errors import Seq2SeqEsError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Spanish sequence-to-sequence models end to end: corpus → tokenizer → pretrain → "
                       "finetune → predict → score.")
console = Console()
error_console = Console(stderr=True)
T = TypeVar("T")

ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="YAML config file (default: built-in defaults).")]
Overrides = Annotated[list[str] | None, typer.Argument(help="Overrides such as optim.steps=100 or output_dir=runs/x.",
                                                      show_default=False)]


def config_schemas() -> dict[str, type]:
    """Config schema of each command: ``configs/<command>/*.yaml`` validate against these."""
    from seq2seq_es.corpus.pipeline import CorpusConfig
    from seq2seq_es.demo import DemoConfig
    from seq2seq_es.metrics.score_command import ScoreConfig
    from seq2seq_es.tasks.finetune import FinetuneConfig, PredictConfig
    from seq2seq_es.tokenizer.config import TokenizerConfig, TokenizerReportConfig
    from seq2seq_es.training.pretrain import PretrainConfig

    return {"corpus": CorpusConfig, "tokenizer": TokenizerConfig, "tokenizer-report": TokenizerReportConfig,
            "pretrain": PretrainConfig,
            "finetune": FinetuneConfig, "predict": PredictConfig, "score": ScoreConfig, "demo": DemoConfig}


def _quiet_libraries() -> None:
    """Keep the terminal for our progress bars: silence library chatter unless --debug."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        from loguru import logger

        logger.remove()
        logger.add(lambda m: error_console.print(m, end=""), level="WARNING")
    except ImportError:
        pass
    logging.getLogger("datatrove").setLevel(logging.WARNING)


def _execute(ctx: typer.Context, work: Callable[[], T]) -> T:
    """Run ``work``; print user errors as one paragraph and exit 2."""
    debug = bool(ctx.obj and ctx.obj.get("debug"))
    if not debug:
        _quiet_libraries()
    try:
        return work()
    except Seq2SeqEsError as exc:
        if debug:
            raise
        error_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=exc.exit_code) from None


def _load(ctx: typer.Context, schema: type[ConfigT], config: Path | None, overrides: list[str] | None) -> ConfigT:
    return _execute(ctx, lambda: load_config(schema, config, overrides or []))


def _record(config: Any, output_dir: str | Path, command: str) -> None:
    from seq2seq_es.run_record import write_run_record

    write_run_record(output_dir, config, command)


@app.callback()
def main_options(ctx: typer.Context,
                 debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and library logs.")] = False,
                 version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False) -> None:
    ctx.obj = {"debug": debug}
    if version:
        console.print(f"seq2seq-es {__version__}")
        raise typer.Exit()


@app.command()
def corpus(ctx: typer.Context, config: ConfigOption = None, overrides: Overrides = None) -> None:
    """Clean raw Spanish JSONL into shards (datatrove), with stats.json and rejects/."""
    from seq2seq_es.corpus.pipeline import CorpusConfig, run_corpus

    cfg = _load(ctx, CorpusConfig, config, overrides)
    _record(cfg, cfg.output_dir, "corpus")
    stats = _execute(ctx, lambda: run_corpus(cfg))
    _print_mapping("corpus stats", {step: json.dumps(c, ensure_ascii=False) for step, c in stats.items()})
    console.print(f"shards: {Path(cfg.output_dir) / 'shards'}")


@app.command()
def tokenizer(ctx: typer.Context, config: ConfigOption = None, overrides: Overrides = None) -> None:
    """Train a tokenizer on corpus shards: byte-level BPE (kind=bpe) or T5 unigram (kind=unigram)."""
    from seq2seq_es.tokenizer.config import TokenizerConfig
    from seq2seq_es.tokenizer.train import run_tokenizer

    cfg = _load(ctx, TokenizerConfig, config, overrides)
    _record(cfg, cfg.output_dir, "tokenizer")
    summary = _execute(ctx, lambda: run_tokenizer(cfg))
    _print_mapping(f"tokenizer: {cfg.output_dir}",
                   {key: json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else value
                    for key, value in summary.items()})


@app.command("tokenizer-report")
def tokenizer_report(ctx: typer.Context, config: ConfigOption = None, overrides: Overrides = None) -> None:
    """Compare trained tokenizers and an English BPE on held-out text (fertility, splits, <unk>, round trip)."""
    from seq2seq_es.tokenizer.config import TokenizerReportConfig
    from seq2seq_es.tokenizer.report import REPORT_FILE, report_table, run_tokenizer_report

    cfg = _load(ctx, TokenizerReportConfig, config, overrides)
    _record(cfg, cfg.output_dir, "tokenizer-report")
    report = _execute(ctx, lambda: run_tokenizer_report(cfg))
    console.print(report_table(report))
    console.print(f"report: {Path(cfg.output_dir) / REPORT_FILE}")


@app.command()
def pretrain(ctx: typer.Context, config: ConfigOption = None, overrides: Overrides = None) -> None:
    """Pretrain a preset model with a denoising objective on corpus shards."""
    from seq2seq_es.training.pretrain import PretrainConfig, run_pretrain

    cfg = _load(ctx, PretrainConfig, config, overrides)
    _record(cfg, cfg.output_dir, "pretrain")
    summary = _execute(ctx, lambda: run_pretrain(cfg))
    _print_mapping("pretraining", summary)


@app.command()
def finetune(ctx: typer.Context, config: ConfigOption = None, overrides: Overrides = None) -> None:
    """Fine-tune a model on a task, decode its validation split and score it."""
    from seq2seq_es.tasks.finetune import FinetuneConfig, run_finetune

    cfg = _load(ctx, FinetuneConfig, config, overrides)
    _record(cfg, cfg.output_dir, "finetune")
    scores = _execute(ctx, lambda: run_finetune(cfg))
    _print_scores(scores)


@app.command()
def predict(ctx: typer.Context, config: ConfigOption = None, overrides: Overrides = None) -> None:
    """Decode a task split with a trained model into predictions.jsonl."""
    from seq2seq_es.tasks.finetune import PredictConfig, run_predict

    cfg = _load(ctx, PredictConfig, config, overrides)
    _record(cfg, Path(cfg.output).parent, "predict")
    path = _execute(ctx, lambda: run_predict(cfg))
    console.print(f"predictions: {path}")


@app.command()
def score(ctx: typer.Context, config: ConfigOption = None,
          pred: Annotated[Path | None, typer.Option("--pred", help="predictions.jsonl to score.")] = None,
          metric: Annotated[list[str] | None, typer.Option("--metric", "-m", help="Metric (repeatable).")] = None,
          overrides: Overrides = None) -> None:
    """Score a predictions.jsonl file (BLEU, chrF, ROUGE) into scores.json."""
    from seq2seq_es.metrics.score_command import ScoreConfig, run_score

    extra = list(overrides or [])
    if pred is not None:
        extra.append(f"predictions={pred}")
    if metric:
        extra.append(f"metrics=[{', '.join(metric)}]")
    cfg = _load(ctx, ScoreConfig, config, extra)
    scores, output = _execute(ctx, lambda: run_score(cfg))
    _print_scores(scores)
    console.print(f"scores: {output}")


@app.command()
def demo(ctx: typer.Context, config: ConfigOption = None,
         data: Annotated[str | None, typer.Option("--data", help="Data folder (default ../shared/data).")] = None,
         overrides: Overrides = None) -> None:
    """Run the whole pipeline tiny and end to end; print artifacts and scores."""
    from seq2seq_es.demo import DemoConfig, run_demo

    extra = list(overrides or []) + ([f"data={data}"] if data else [])
    cfg = _load(ctx, DemoConfig, config, extra)
    _record(cfg, cfg.output_dir, "demo")
    report = _execute(ctx, lambda: run_demo(cfg))
    table = Table(title="seq2seq-es demo: artifacts")
    table.add_column("artifact")
    table.add_column("path")
    for name, path in report["artifacts"].items():
        table.add_row(name, path)
    console.print(table)
    _print_mapping("stage time (s)", {k: f"{v:.1f}" for k, v in report["timings"].items()})
    _print_scores(report["scores"])


def _print_mapping(title: str, mapping: dict[str, Any]) -> None:
    table = Table(title=title)
    table.add_column("key")
    table.add_column("value")
    for key, value in mapping.items():
        table.add_row(str(key), f"{value:.4g}" if isinstance(value, float) else str(value))
    console.print(table)


def _print_scores(scores: dict[str, Any]) -> None:
    table = Table(title=f"scores ({scores.get('task', 'predictions')}, n={scores.get('n')})")
    for column in ("metric", "value", "signature"):
        table.add_column(column)
    for name, result in scores.items():
        if not isinstance(result, dict):
            continue
        signature = result.get("signature", "")
        for key, value in result.items():
            if key != "signature":
                label = name if key == "score" else key
                table.add_row(label, f"{value:.2f}", signature)
    console.print(table)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
