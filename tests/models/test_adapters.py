"""LoRA through peft: per-architecture defaults, checks, merging, the finetune and merge-adapter
commands.

Tiny local models only (HF_HUB_OFFLINE): a BART and a BERT saved by ``conftest.py``, the
T5S preset, and a BERT2BERT warm-started from the BERT (shared and not).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import torch
from peft import LoraConfig, PeftModel, TaskType, get_peft_model
from safetensors.torch import load_file
from typer.testing import CliRunner

from seq2seq_es.cli import app
from seq2seq_es.errors import CheckpointError, ConfigError
from seq2seq_es.models.adapters import (
    adaptable_module_names,
    apply_adapter,
    checkpoint_state,
    checkpoint_tensors,
    default_target_modules,
    merge_adapter,
    parameter_counts,
    resolve_target_modules,
    restore_checkpoint_tensors,
)
from seq2seq_es.models.bert2bert import warm_start_bert2bert
from seq2seq_es.models.config import AdapterConfig
from seq2seq_es.models.loading import load_seq2seq, save_seq2seq
from seq2seq_es.models.presets import build_model

os.environ.setdefault("HF_HUB_OFFLINE", "1")
pytestmark = pytest.mark.filterwarnings("ignore:Version v4.12.0 introduces:FutureWarning")
runner = CliRunner()
LORA = AdapterConfig(kind="lora")


def _ok(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.output


def _batch(tokenizer: Any, texts: list[str]) -> dict[str, torch.Tensor]:
    """A copy-task batch: the labels are the inputs (pads ignored)."""
    batch = tokenizer(texts, padding=True, truncation=True, max_length=32, return_tensors="pt")
    labels = batch["input_ids"].clone()
    labels[batch["attention_mask"] == 0] = -100
    return {
        "input_ids": batch["input_ids"],
        "attention_mask": batch["attention_mask"],
        "labels": labels,
    }


def _train(model: Any, batch: dict[str, torch.Tensor], steps: int, lr: float = 1e-2) -> list[float]:
    """A few real AdamW steps over the trainable weights (so every adapter's B is no longer
    zero)."""
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    losses = []
    for _ in range(steps):
        loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    return losses


@torch.no_grad()
def _logits(model: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    model.eval()
    return model(**batch).logits


def _models(kind: str, bart_dir: Path, bert_dir: Path) -> tuple[Any, Any]:
    if kind == "bart":
        return load_seq2seq(bart_dir)
    if kind == "t5s":
        _, tokenizer = load_seq2seq(bart_dir)
        return build_model("t5s-tiny", tokenizer, seed=0), tokenizer
    return warm_start_bert2bert(bert_dir, share=kind == "bert2bert-shared", seed=0)


# --------------------------------------------------------------------------------------- in process


@pytest.mark.parametrize(
    ("kind", "targets"),
    [
        ("bart", ["q_proj", "v_proj"]),
        ("t5s", ["q", "v"]),
        ("bert2bert", ["query", "value"]),
        ("bert2bert-shared", ["query", "value"]),
    ],
)
def test_merged_model_equals_the_adapter_model(
    kind: str, targets: list[str], bart_dir: Path, bert_dir: Path, corpus: list[str], tmp_path: Path
) -> None:
    model, tokenizer = _models(kind, bart_dir, bert_dir)
    assert default_target_modules(model.config) == targets
    adapted = apply_adapter(model, LORA, seed=0)
    counts = parameter_counts(adapted)
    assert 0 < counts["trainable"] < 0.2 * counts["total"]
    assert all(
        ("lora_" in name) == param.requires_grad for name, param in adapted.named_parameters()
    )
    batch = _batch(tokenizer, corpus[:8])
    _train(adapted, batch, steps=5)
    expected = _logits(adapted, batch)

    merged = merge_adapter(adapted)
    assert not any("lora" in name for name, _ in merged.named_parameters())
    torch.testing.assert_close(_logits(merged, batch), expected, atol=1e-4, rtol=0)
    save_seq2seq(merged, tokenizer, tmp_path / "merged")
    from transformers import AutoModelForSeq2SeqLM

    reloaded = AutoModelForSeq2SeqLM.from_pretrained(tmp_path / "merged")  # plain transformers
    torch.testing.assert_close(_logits(reloaded, batch), expected, atol=1e-4, rtol=0)
    if (
        kind == "bert2bert-shared"
    ):  # one adapter per side: the merged sides differ, so they are no longer shared
        assert reloaded.config.tie_encoder_decoder is False
        again, _ = load_seq2seq(tmp_path / "merged")
        torch.testing.assert_close(_logits(again, batch), expected, atol=1e-4, rtol=0)


def test_adapter_init_leaves_the_global_rng_and_starts_as_the_base(
    bart_dir: Path, corpus: list[str]
) -> None:
    model, tokenizer = load_seq2seq(bart_dir)
    batch = _batch(tokenizer, corpus[:4])
    before = _logits(model, batch)
    state = torch.get_rng_state()
    adapted = apply_adapter(model, LORA, seed=3)
    assert torch.equal(torch.get_rng_state(), state)
    torch.testing.assert_close(_logits(adapted, batch), before, atol=0, rtol=0)  # B starts at zero
    other = apply_adapter(load_seq2seq(bart_dir)[0], LORA, seed=3)
    first, second = checkpoint_tensors(adapted), checkpoint_tensors(other)
    assert first is not None and second is not None
    assert all(torch.equal(a, b) for a, b in zip(first.values(), second.values(), strict=True))


def test_bad_target_modules_name_the_valid_ones(bart_dir: Path, bert_dir: Path) -> None:
    bart, _ = load_seq2seq(bart_dir)
    with pytest.raises(
        ConfigError,
        match=r"'query' names no linear layer of this bart model\. "
        r"Valid names: fc1, fc2, k_proj, out_proj, q_proj, v_proj\.",
    ):
        resolve_target_modules(bart, AdapterConfig(kind="lora", target_modules=["q_proj", "query"]))
    with pytest.raises(ConfigError, match=r"output layer.*tied"):
        resolve_target_modules(bart, AdapterConfig(kind="lora", target_modules=["lm_head"]))
    assert "lm_head" not in adaptable_module_names(bart)
    assert resolve_target_modules(
        bart, AdapterConfig(kind="lora", target_modules=["self_attn.q_proj"])
    ) == ["self_attn.q_proj"]  # a dotted suffix selects, as in peft
    t5 = build_model("t5s-tiny", seed=0)
    assert "lm_head" in adaptable_module_names(
        t5
    )  # T5 v1.1's own (untied) head can take an adapter
    with pytest.raises(ConfigError, match=r"Valid names: k, lm_head, o, q, v, wi_0, wi_1, wo\."):
        resolve_target_modules(t5, AdapterConfig(kind="lora", target_modules=["q_proj"]))
    bert2bert, _ = warm_start_bert2bert(bert_dir, seed=0)
    config: Any = bert2bert.config
    config.encoder.model_type = "made-up"
    with pytest.raises(
        ConfigError, match="No default LoRA target modules for model type 'made-up'"
    ):
        default_target_modules(config)


def test_checkpoint_tensors_are_the_adapter_and_restore_exactly(
    bart_dir: Path, corpus: list[str]
) -> None:
    """The hook for training/checkpoint.py: only trainable tensors, restored into a freshly built
    model."""
    model, tokenizer = load_seq2seq(bart_dir)
    assert (
        checkpoint_tensors(model) is None
    )  # full fine-tuning: the checkpoint keeps the whole model
    adapted = apply_adapter(model, LORA, seed=0)
    batch = _batch(tokenizer, corpus[:8])
    _train(adapted, batch, steps=3)
    tensors = checkpoint_tensors(adapted)
    assert tensors and all("lora_" in name for name in tensors)
    assert checkpoint_state(model) is None  # the engine then stores every weight
    state = checkpoint_state(adapted)
    assert state is not None and state.content == "adapter"
    assert state.state_tensors(adapted).keys() == tensors.keys()
    assert sum(t.numel() for t in tensors.values()) == parameter_counts(adapted)["trainable"]

    fresh = apply_adapter(load_seq2seq(bart_dir)[0], LORA, seed=99)
    restore_checkpoint_tensors(fresh, {k: v.clone() for k, v in tensors.items()})
    torch.testing.assert_close(_logits(fresh, batch), _logits(adapted, batch), atol=0, rtol=0)
    smaller = apply_adapter(load_seq2seq(bart_dir)[0], AdapterConfig(kind="lora", r=4), seed=0)
    with pytest.raises(CheckpointError, match=r"adapter\.r"):
        restore_checkpoint_tensors(smaller, tensors)
    fewer = apply_adapter(
        load_seq2seq(bart_dir)[0], AdapterConfig(kind="lora", target_modules=["q_proj"]), seed=0
    )
    with pytest.raises(CheckpointError, match="does not hold this run's adapter"):
        restore_checkpoint_tensors(fewer, tensors)


# ----------------------------------------------------------------------------------------- commands


def test_merge_adapter_command_on_an_adapter_trained_with_peft(
    bart_dir: Path, corpus: list[str], tmp_path: Path
) -> None:
    """An adapter trained elsewhere: plain peft, other targets and rank; saved by peft itself."""
    model, tokenizer = load_seq2seq(bart_dir)
    torch.manual_seed(0)
    peft_model = get_peft_model(
        model,
        LoraConfig(
            task_type=TaskType.SEQ_2_SEQ_LM,
            r=4,
            lora_alpha=8,
            target_modules=["q_proj", "v_proj", "fc1"],
        ),
    )
    batch = _batch(tokenizer, corpus[:8])
    _train(peft_model, batch, steps=5)
    expected = _logits(peft_model, batch)
    peft_model.save_pretrained(
        str(tmp_path / "elsewhere")
    )  # adapter_config.json names bart_dir as the base

    output = _ok(
        [
            "model",
            "merge-adapter",
            str(tmp_path / "elsewhere"),
            "--output",
            str(tmp_path / "merged"),
        ]
    )
    assert "fc1" in output and "q_proj" in output
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    merged = AutoModelForSeq2SeqLM.from_pretrained(tmp_path / "merged")
    torch.testing.assert_close(_logits(merged, batch), expected, atol=1e-4, rtol=0)
    assert (
        AutoTokenizer.from_pretrained(tmp_path / "merged")("el niño")["input_ids"]
        == tokenizer("el niño")["input_ids"]
    )

    missing = runner.invoke(
        app, ["model", "merge-adapter", str(bart_dir), "--output", str(tmp_path / "x")]
    )
    assert (
        missing.exit_code == 2
        and "adapter_config.json" in missing.output
        and "Traceback" not in missing.output
    )
    t5_base = tmp_path / "t5"
    save_seq2seq(build_model("t5s-tiny", tokenizer, seed=0), tokenizer, t5_base)
    wrong = runner.invoke(
        app,
        [
            "model",
            "merge-adapter",
            str(tmp_path / "elsewhere"),
            "--output",
            str(tmp_path / "y"),
            "--base",
            str(t5_base),
        ],
    )
    assert wrong.exit_code == 2 and "does not fit the base model" in wrong.output, wrong.output


@pytest.fixture(scope="module")
def copy_base(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A barto-tiny fully fine-tuned on the copy task for 40 steps: the "pretrained" base LoRA
    starts from."""
    from seq2seq_es.corpus.text_files import iter_texts
    from seq2seq_es.tokenizer.bpe import train_byte_level_bpe
    from seq2seq_es.tokenizer.save import save_tokenizer

    root = tmp_path_factory.mktemp("lora_base")
    save_tokenizer(
        train_byte_level_bpe(iter_texts(tiny_data / "pretrain"), vocab_size=400), root / "tokenizer"
    )
    _ok(
        [
            "finetune",
            f"task={tiny_data / 'copy_task.yaml'}",
            f"data_dir={tiny_data}",
            "model=barto-tiny",
            f"tokenizer={root / 'tokenizer'}",
            f"output_dir={root / 'base'}",
            "optim.steps=40",
            "optim.batch_size=8",
            "optim.lr=3e-3",
            "max_eval_examples=4",
            "bootstrap_samples=0",
            "engine.measure_mfu=false",
            "engine.tensorboard=false",
        ]
    )
    return root / "base" / "model", tiny_data


@torch.no_grad()
def _mean_loss(model: Any, tokenizer: Any, data: Path) -> float:
    """Teacher-forced loss over the first 64 training pairs, in batches of 16 (eval mode)."""
    texts = [
        json.loads(line)["src"]
        for line in (data / "copy" / "train.jsonl").read_text().splitlines()[:64]
    ]
    model.eval()
    return (
        sum(model(**_batch(tokenizer, texts[i : i + 16])).loss.item() for i in range(0, 64, 16)) / 4
    )


def test_lora_finetune_trains_only_the_adapters_and_writes_adapter_and_merged_model(
    copy_base: tuple[Path, Path], tmp_path: Path
) -> None:
    """``finetune adapter.kind=lora`` with the defaults (r 8, alpha 16, dropout 0.05, q/v),
    selection on."""
    base_dir, data = copy_base
    out = tmp_path / "lora"
    _ok(
        [
            "finetune",
            f"task={data / 'copy_task.yaml'}",
            f"data_dir={data}",
            f"model={base_dir}",
            f"output_dir={out}",
            "adapter.kind=lora",
            "optim.steps=30",
            "optim.warmup_steps=3",
            "optim.batch_size=8",
            "optim.lr=1e-2",
            "engine.eval_every=10",
            "selection_examples=8",
            "engine.checkpoint_every=30",
            "max_eval_examples=4",
            "bootstrap_samples=0",
            "engine.measure_mfu=false",
            "engine.tensorboard=false",
        ]
    )
    from transformers import AutoModelForSeq2SeqLM

    base, tokenizer = load_seq2seq(base_dir)
    merged = AutoModelForSeq2SeqLM.from_pretrained(out / "model")  # plain transformers, no peft
    assert _mean_loss(merged, tokenizer, data) < _mean_loss(base, tokenizer, data) - 0.05, (
        "LoRA learned"
    )

    base_state, merged_state = base.state_dict(), merged.state_dict()
    assert set(base_state) == set(merged_state)
    changed = {k for k in base_state if not torch.equal(base_state[k], merged_state[k])}
    adapted = {k for k in base_state if k.endswith(("q_proj.weight", "v_proj.weight"))}
    assert changed == adapted, (
        "exactly the adapted weights changed (every q/v projection, nothing else)"
    )

    adapter = out / "adapter"
    assert (adapter / "adapter_model.safetensors").is_file()
    assert json.loads((adapter / "adapter_config.json").read_text())[
        "base_model_name_or_path"
    ] == str(base_dir.resolve())
    with_peft = PeftModel.from_pretrained(load_seq2seq(base_dir)[0], str(adapter))
    batch = _batch(tokenizer, ["el niño come pan", "¿dónde está el perro?"])
    torch.testing.assert_close(_logits(merged, batch), _logits(with_peft, batch), atol=1e-4, rtol=0)

    scores = json.loads((out / "scores.json").read_text())
    assert scores["training"]["selection"]["best"] is not None and not (out / "best_model").exists()
    checkpoint = out / "checkpoints" / "step-00000030"
    adapter_bytes = (adapter / "adapter_model.safetensors").stat().st_size
    moments = load_file(str(checkpoint / "optimizer.safetensors"))
    assert (
        sum(t.numel() for t in moments.values())
        <= 2
        * sum(t.numel() for t in load_file(str(adapter / "adapter_model.safetensors")).values())
        + 64
    ), "the optimizer keeps moments of the adapters only"
    assert adapter_bytes < 0.05 * (out / "model" / "model.safetensors").stat().st_size


def test_bad_adapter_settings_through_the_cli(copy_base: tuple[Path, Path], tmp_path: Path) -> None:
    base_dir, data = copy_base
    common = [
        f"task={data / 'copy_task.yaml'}",
        f"data_dir={data}",
        f"model={base_dir}",
        "optim.steps=2",
        "adapter.kind=lora",
        "engine.measure_mfu=false",
    ]
    wrong = runner.invoke(
        app, ["finetune", *common, f"output_dir={tmp_path / 'a'}", "adapter.target_modules=[query]"]
    )
    assert wrong.exit_code == 2, wrong.output
    assert "'query' names no linear layer" in wrong.output and "q_proj, v_proj" in wrong.output
    assert "Traceback" not in wrong.output
    zero = runner.invoke(app, ["finetune", *common, f"output_dir={tmp_path / 'b'}", "adapter.r=0"])
    assert zero.exit_code == 2 and "adapter.r" in zero.output and "greater than 0" in zero.output, (
        zero.output
    )
