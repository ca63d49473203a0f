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
    from seq2seq_es.metrics.compare_command import CompareConfig
    from seq2seq_es.metrics.score_command import ScoreConfig
    from seq2seq_es.tasks.evaluate import EvalConfig, MatrixConfig, PredictConfig
    from seq2seq_es.tasks.finetune import FinetuneConfig
    from seq2seq_es.tokenizer.config import TokenizerConfig, TokenizerReportConfig
    from seq2seq_es.training.pretrain import PretrainConfig

    return {"corpus": CorpusConfig, "tokenizer": TokenizerConfig, "tokenizer-report": TokenizerReportConfig,
            "pretrain": PretrainConfig,
            "finetune": FinetuneConfig, "predict": PredictConfig, "eval": EvalConfig, "eval-matrix": MatrixConfig, "score": ScoreConfig, "compare": CompareConfig, "demo": DemoConfig}


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
    """Clean raw Spanish text into deduplicated shards (datatrove), with stats.json and rejects/."""
    from seq2seq_es.corpus.pipeline import CorpusConfig, run_corpus
    from seq2seq_es.corpus.summary import print_summary

    cfg = _load(ctx, CorpusConfig, config, overrides)
    _record(cfg, cfg.output_dir, "corpus")
    debug = bool(ctx.obj and ctx.obj.get("debug"))
    stats = _execute(ctx, lambda: run_corpus(cfg, quiet=not debug))
    print_summary(console, stats, Path(cfg.output_dir))


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


ResumeOption = Annotated[bool, typer.Option("--resume", help="Continue from the last checkpoint in output_dir.")]


@app.command()
def pretrain(ctx: typer.Context, config: ConfigOption = None, resume: ResumeOption = False,
             overrides: Overrides = None) -> None:
    """Pretrain a preset model with a denoising objective on corpus shards."""
    from seq2seq_es.training.pretrain import PretrainConfig, run_pretrain

    cfg = _load(ctx, PretrainConfig, config, [*(overrides or []), *(["resume=true"] if resume else [])])
    _record(cfg, cfg.output_dir, "pretrain")
    summary = _execute(ctx, lambda: run_pretrain(cfg))
    _print_mapping("pretraining", summary)


@app.command()
def finetune(ctx: typer.Context, config: ConfigOption = None, resume: ResumeOption = False,
             overrides: Overrides = None) -> None:
    """Fine-tune a model on a task, decode its validation split and score it."""
    from seq2seq_es.tasks.finetune import FinetuneConfig, run_finetune

    cfg = _load(ctx, FinetuneConfig, config, [*(overrides or []), *(["resume=true"] if resume else [])])
    _record(cfg, cfg.output_dir, "finetune")
    scores = _execute(ctx, lambda: run_finetune(cfg))
    _print_scores(scores)


@app.command()
def predict(ctx: typer.Context, config: ConfigOption = None, overrides: Overrides = None) -> None:
    """Decode a task split with a trained model into predictions.jsonl."""
    from seq2seq_es.tasks.evaluate import PredictConfig, run_predict

    cfg = _load(ctx, PredictConfig, config, overrides)
    _record(cfg, Path(cfg.output).parent, "predict")
    path = _execute(ctx, lambda: run_predict(cfg))
    console.print(f"predictions: {path}")


@app.command("eval")
def evaluate(ctx: typer.Context, config: ConfigOption = None, overrides: Overrides = None) -> None:
    """Decode and score a task split with any model (cross-domain: a model fine-tuned on another task)."""
    from seq2seq_es.tasks.evaluate import EvalConfig, run_eval

    cfg = _load(ctx, EvalConfig, config, overrides)
    _record(cfg, cfg.output_dir, "eval")
    scores = _execute(ctx, lambda: run_eval(cfg))
    _print_scores(scores)
    console.print(f"scores: {Path(cfg.output_dir) / 'scores.json'}")


@app.command("eval-matrix")
def eval_matrix(ctx: typer.Context, config: ConfigOption = None, overrides: Overrides = None) -> None:
    """Evaluate every model × task pair (e.g. models=[a,b] tasks=[tatoeba-es-en,ntrex-es-en]); writes matrix.md."""
    from seq2seq_es.tasks.evaluate import MatrixConfig, run_matrix

    cfg = _load(ctx, MatrixConfig, config, overrides)
    _record(cfg, cfg.output_dir, "eval-matrix")
    result = _execute(ctx, lambda: run_matrix(cfg))
    console.print(result["table"])
    console.print(f"matrix: {Path(cfg.output_dir) / 'matrix.md'}")


@app.command()
def tasks() -> None:
    """List the registered tasks: source, lengths, metrics."""
    from seq2seq_es.tasks.registry import get_task, task_names

    table = Table(title="registered tasks")
    for column in ("task", "kind", "source", "src/tgt", "metrics", "selection"):
        table.add_column(column)
    for name in task_names():
        task = get_task(name)
        source = (f"hub {task.hub.dataset}" + (f" ({task.hub.config})" if task.hub.config else "")) if task.hub \
            else "local " + (task.local.file or task.local.validation or "") if task.local else ""
        table.add_row(name, task.kind, source, f"{task.max_source_length}/{task.max_target_length}",
                      ", ".join(task.metrics), task.selection_metric)
    console.print(table)


@app.command()
def score(ctx: typer.Context, config: ConfigOption = None,
          pred: Annotated[Path | None, typer.Option("--pred", help="predictions.jsonl (or .txt) to score.")] = None,
          ref: Annotated[Path | None, typer.Option("--ref", help="Separate references (JSONL by id, or .txt).")] = None,
          metric: Annotated[list[str] | None, typer.Option("--metric", "-m", help="Metric (repeatable).")] = None,
          overrides: Overrides = None) -> None:
    """Score predictions into scores.json + scores.md: values, bootstrap CIs, signatures."""
    from seq2seq_es.metrics.score_command import ScoreConfig, run_score

    extra = list(overrides or [])
    if pred is not None:
        extra.append(f"predictions={pred}")
    if ref is not None:
        extra.append(f"references={json.dumps(str(ref))}")
    if metric:
        extra.append(f"metrics=[{', '.join(metric)}]")
    cfg = _load(ctx, ScoreConfig, config, extra)
    scores, output = _execute(ctx, lambda: run_score(cfg))
    _print_scores(scores)
    console.print(f"scores: {output}")


@app.command()
def compare(ctx: typer.Context,
            files: Annotated[list[str], typer.Argument(help="Prediction files, the first is the baseline; "
                                                            "then optional key=value overrides.", show_default=False)],
            config: ConfigOption = None,
            ref: Annotated[Path | None, typer.Option("--ref", help="Separate references (JSONL by id, or .txt).")] = None,
            metric: Annotated[list[str] | None, typer.Option("--metric", "-m", help="Metric (repeatable).")] = None) -> None:
    """Compare systems on the same references: CIs, paired bootstrap + randomization p-values (Holm)."""
    from seq2seq_es.metrics.compare_command import CompareConfig, run_compare
    from seq2seq_es.metrics.report import comparison_table

    extra = [item for item in files if "=" in item]
    systems = [item for item in files if "=" not in item]
    if systems:
        extra.append(f"systems=[{', '.join(json.dumps(s) for s in systems)}]")
    if ref is not None:
        extra.append(f"references={json.dumps(str(ref))}")
    if metric:
        extra.append(f"metrics=[{', '.join(metric)}]")
    cfg = _load(ctx, CompareConfig, config, extra)
    _record(cfg, cfg.output_dir, "compare")
    comparison, output_dir = _execute(ctx, lambda: run_compare(cfg))
    console.print(comparison_table(comparison))
    console.print(f"report: {output_dir / 'report.md'}")


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


model_app = typer.Typer(no_args_is_help=True, help="Inspect and convert models: info, BERT2BERT warm start, BART→LED.")
app.add_typer(model_app, name="model")


@model_app.command("info")
def model_info(ctx: typer.Context, path: Annotated[str, typer.Argument(
        help="A model folder, a Hugging Face Hub id, or a preset name (barto-base, t5s-base, …).")]) -> None:
    """Print architecture, parameters, vocabulary and special tokens of a model or preset."""
    from seq2seq_es.models.info import model_info as describe

    _print_mapping(f"model: {path}", _execute(ctx, lambda: describe(path)))


@model_app.command("bert2bert")
def model_bert2bert(ctx: typer.Context,
                    encoder: Annotated[str, typer.Argument(help="BERT/RoBERTa folder or hub id.")],
                    output: Annotated[Path, typer.Option("--output", "-o", help="Folder to write.")],
                    decoder: Annotated[str | None, typer.Option(help="Decoder checkpoint (default: encoder).")] = None,
                    share: Annotated[bool, typer.Option("--share", help="Tie encoder and decoder weights.")] = False,
                    seed: Annotated[int, typer.Option(help="Seed of the new cross-attention weights.")] = 0) -> None:
    """Warm-start an encoder-decoder (BERT2BERT) from an encoder-only checkpoint."""
    from seq2seq_es.models.bert2bert import build_bert2bert_checkpoint

    _print_mapping("bert2bert", _execute(ctx, lambda: build_bert2bert_checkpoint(encoder, output, decoder, share, seed)))


@model_app.command("to-led")
def model_to_led(ctx: typer.Context, bart: Annotated[str, typer.Argument(help="BART folder or hub id.")],
                 output: Annotated[Path, typer.Option("--output", "-o", help="Folder to write.")],
                 max_positions: Annotated[int, typer.Option(help="Encoder positions of the LED.")] = 16_384,
                 attention_window: Annotated[int, typer.Option(help="Sliding-window size (even).")] = 512) -> None:
    """Convert a BART checkpoint to a Longformer-Encoder-Decoder for long inputs (LEDO)."""
    from seq2seq_es.models.led import convert_bart_checkpoint

    folder = _execute(ctx, lambda: convert_bart_checkpoint(bart, output, max_positions, attention_window))
    console.print(f"LED ({max_positions} positions, window {attention_window}): {folder}")


def _print_mapping(title: str, mapping: dict[str, Any]) -> None:
    table = Table(title=title)
    table.add_column("key")
    table.add_column("value")
    for key, value in mapping.items():
        table.add_row(str(key), f"{value:.4g}" if isinstance(value, float) else str(value))
    console.print(table)


def _print_scores(scores: dict[str, Any]) -> None:
    from seq2seq_es.metrics.report import scores_table

    console.print(scores_table(scores))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
