"""``seq2seq-es model info|bert2bert|to-led|merge-adapter``: inspect and convert models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from seq2seq_es.commands.base import Command, Flag, config_output_dir, no_output_dir
from seq2seq_es.commands.display import print_mapping
from seq2seq_es.models.config import (
    Bert2BertConfig,
    MergeAdapterConfig,
    ModelInfoConfig,
    ToLedConfig,
)

OUTPUT = Flag("output_dir", ("--output", "-o"), "Folder to write.")


def info(config: ModelInfoConfig) -> dict[str, Any]:
    from seq2seq_es.models.info import model_info

    return {"title": f"model: {config.path}", "rows": model_info(config.path)}


def bert2bert(config: Bert2BertConfig) -> dict[str, Any]:
    from seq2seq_es.models.bert2bert import build_bert2bert_checkpoint

    return {
        "title": "bert2bert",
        "rows": build_bert2bert_checkpoint(
            config.encoder,
            config.output_dir,
            config.decoder,
            config.share,
            config.seed,
            config.revision,
        ),
    }


def show_rows(result: dict[str, Any], console: Console) -> None:
    print_mapping(console, result["title"], result["rows"])


def to_led(config: ToLedConfig) -> dict[str, Any]:
    from seq2seq_es.models.led import convert_bart_checkpoint

    folder = convert_bart_checkpoint(
        config.bart, config.output_dir, config.max_positions, config.attention_window
    )
    return {
        "folder": str(folder),
        "positions": config.max_positions,
        "window": config.attention_window,
    }


def show_led(result: dict[str, Any], console: Console) -> None:
    console.print(
        f"LED ({result['positions']} positions, window {result['window']}): "
        f"{Path(result['folder'])}"
    )


def merge_adapter(config: MergeAdapterConfig) -> dict[str, Any]:
    from seq2seq_es.models.adapters import merge_adapter_folder

    result = merge_adapter_folder(config.adapter, config.output_dir, config.base, config.tokenizer)
    return {"title": f"merged adapter: {config.output_dir}", "rows": result}


COMMANDS = [
    Command(
        "model info",
        "Print architecture, parameters, vocabulary and special tokens of a model or preset.",
        ModelInfoConfig,
        info,
        show_rows,
        output_dir=no_output_dir,
        positional="path",
        positional_help="A model folder, a Hugging Face Hub id, or a preset name (barto-base, "
        "t5s-base, …).",
    ),
    Command(
        "model bert2bert",
        "Warm-start an encoder-decoder (BERT2BERT) from an encoder-only checkpoint.",
        Bert2BertConfig,
        bert2bert,
        show_rows,
        output_dir=config_output_dir,  # written whole by save_seq2seq's atomic swap
        replaces_folder=True,
        positional="encoder",
        positional_help="BERT/RoBERTa folder or hub id.",
        flags=(
            OUTPUT,
            Flag("decoder", ("--decoder",), "Decoder checkpoint (default: encoder)."),
            Flag("share", ("--share",), "Tie encoder and decoder weights.", "bool"),
            Flag("seed", ("--seed",), "Seed of the new cross-attention weights."),
        ),
    ),
    Command(
        "model to-led",
        "Convert a BART checkpoint to a Longformer-Encoder-Decoder for long inputs (LEDO).",
        ToLedConfig,
        to_led,
        show_led,
        output_dir=config_output_dir,  # written whole by save_seq2seq's atomic swap
        replaces_folder=True,
        positional="bart",
        positional_help="BART folder or hub id.",
        flags=(
            OUTPUT,
            Flag("max_positions", ("--max-positions",), "Encoder positions of the LED."),
            Flag("attention_window", ("--attention-window",), "Sliding-window size (even)."),
        ),
    ),
    Command(
        "model merge-adapter",
        "Merge a LoRA adapter (a peft folder) into its base: a plain transformers model.",
        MergeAdapterConfig,
        merge_adapter,
        show_rows,
        output_dir=config_output_dir,  # written whole by save_seq2seq's atomic swap
        replaces_folder=True,
        positional="adapter",
        positional_help="Adapter folder (adapter_config.json + adapter_model.safetensors).",
        flags=(
            OUTPUT,
            Flag("base", ("--base",), "Base model folder or hub id (default: the adapter's own)."),
            Flag(
                "tokenizer",
                ("--tokenizer",),
                "Tokenizer folder (default: the adapter's, else the base's).",
            ),
        ),
    ),
]
