"""engine.compile=true through the shared loop on CPU (inductor, the default backend), for every
family: BART fine-tuning (the copy task through ``DataCollatorForSeq2Seq``, lengths varying from
batch to batch), T5 pretraining (span corruption: fixed lengths, the preset's dropout 0) and
BERT2BERT fine-tuning (``EncoderDecoderModel`` of a BERT encoder and a cross-attending BERT
decoder, dropout 0.1). Each compiled run's losses equal eager's to float rounding over 50 steps
(dropout included), a resume from its checkpoint continues them to float rounding (not bit for
bit, see below), and the model it saves loads with plain ``from_pretrained``.

One compilation per family is the cost (about 1-2 CPU minutes with an empty inductor cache on
these sizes; seconds with a warm one), so one run answers every question. The models have their
preset's config but one encoder and one decoder layer: compilation time grows with the graph,
the code paths are the preset's.
"""

from __future__ import annotations

import itertools
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from transformers import (
    AutoModelForSeq2SeqLM,
    BartForConditionalGeneration,
    BertConfig,
    BertLMHeadModel,
    BertModel,
    DataCollatorForSeq2Seq,
    EncoderDecoderModel,
    PreTrainedModel,
    T5ForConditionalGeneration,
)

from seq2seq_es.models.presets import build_config, pretraining_objective
from seq2seq_es.objectives.collators import build_collator
from seq2seq_es.objectives.config import ObjectiveConfig
from seq2seq_es.tokenizer.save import load_tokenizer_folder
from seq2seq_es.training.batches import EpochBatches, WithoutIndex
from seq2seq_es.training.config import EngineConfig, OptimConfig
from seq2seq_es.training.loop import TrainResult, train

STEPS, CHECKPOINT_EVERY = 50, 25
# The training loss gives no labels to the model: given them, EncoderDecoderModel warns (about
# a v4.12 change) on every forward, and under torch.compile the warning was a graph break.
pytestmark = pytest.mark.filterwarnings("error:Version v4.12.0 introduces:FutureWarning")


def micro_bart(tokenizer: Any) -> PreTrainedModel:
    config = build_config("barto-tiny", tokenizer)
    config.encoder_layers = config.decoder_layers = 1
    assert config.dropout == 0.1, "the preset's dropout"
    return BartForConditionalGeneration(config)


def micro_t5(tokenizer: Any) -> PreTrainedModel:
    config = build_config("t5s-tiny", tokenizer)
    config.num_layers = config.num_decoder_layers = 1
    assert config.dropout_rate == 0.0, "the preset's pretraining dropout (T5 v1.1)"
    return T5ForConditionalGeneration(config)


def micro_bert2bert(tokenizer: Any) -> PreTrainedModel:
    """What ``warm_start_bert2bert`` builds (a BERT encoder, a BERT decoder with cross-attention
    in an ``EncoderDecoderModel``), from bert-tiny's config with one layer."""
    config = build_config("bert-tiny", tokenizer)
    config.num_hidden_layers = 1
    assert config.hidden_dropout_prob == 0.1, "the preset's dropout"
    decoder = BertConfig(**{**config.to_dict(), "is_decoder": True, "add_cross_attention": True})
    model = EncoderDecoderModel(
        encoder=BertModel(config, add_pooling_layer=False), decoder=BertLMHeadModel(decoder)
    )
    model.config.decoder_start_token_id = tokenizer.bos_token_id
    model.config.pad_token_id = tokenizer.pad_token_id
    return model


def copy_task(tiny_data: Path, tokenizer: Any, model: Any) -> EpochBatches:
    """Fine-tuning batches: 80 copy pairs padded per batch (lengths vary)."""
    rows = [json.loads(line) for line in (tiny_data / "copy" / "train.jsonl").open()][:80]
    examples = [
        {"input_ids": tokenizer(r["src"])["input_ids"], "labels": tokenizer(r["tgt"])["input_ids"]}
        for r in rows
    ]
    collate = DataCollatorForSeq2Seq(tokenizer, model=model, label_pad_token_id=-100)
    return EpochBatches(examples, WithoutIndex(collate), 8, seed=0)


def span_corruption(tiny_data: Path, tokenizer: Any, model: Any) -> EpochBatches:
    """Pretraining batches: t5s-tiny's span corruption of fixed-length blocks of the corpus."""
    collator, raw_length = build_collator(
        ObjectiveConfig(), pretraining_objective("t5s-tiny"), tokenizer, 32, seed=0
    )
    lines = (tiny_data / "pretrain" / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    ids = list(
        itertools.chain(*(tokenizer(json.loads(line)["text"])["input_ids"] for line in lines))
    )
    blocks = [np.asarray(ids[i : i + raw_length]) for i in range(0, 120 * raw_length, raw_length)]
    return EpochBatches(blocks, collator, 8, seed=0)


Batches = Callable[[Path, Any, Any], EpochBatches]
FAMILIES: dict[str, tuple[Callable[[Any], PreTrainedModel], Batches, str]] = {
    "bart-finetune": (micro_bart, copy_task, "tiny_tokenizer"),
    "t5-pretrain": (micro_t5, span_corruption, "tiny_unigram_tokenizer"),
    "bert2bert-finetune": (micro_bert2bert, copy_task, "tiny_tokenizer"),
}


def run(
    case: str,
    tiny_data: Path,
    tokenizer_folder: Path,
    folder: Path,
    compiled: bool,
    resume: bool = False,
) -> TrainResult:
    build, batches, _ = FAMILIES[case]
    tokenizer = load_tokenizer_folder(str(tokenizer_folder))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = build(tokenizer)
    folder.mkdir(parents=True, exist_ok=True)
    # compile_exact_random: eager's dropout masks, so that the losses compare step by step.
    # Without it inductor draws its own masks and the losses differ from the first step (7.6e-3
    # on barto-tiny pretraining, benchmarks/RESULTS.md); the rest of the test holds either way.
    engine = EngineConfig(
        compile=compiled,
        compile_exact_random=True,
        checkpoint_every=CHECKPOINT_EVERY,
        log_every=1,
        tensorboard=False,
        measure_mfu=False,
    )
    return train(
        model,
        batches(tiny_data, tokenizer, model),
        OptimConfig(steps=STEPS, batch_size=8, lr=1e-3, warmup_steps=2),
        engine,
        folder,
        seed=0,
        resume=resume,
    )


@pytest.mark.parametrize("case", list(FAMILIES))
def test_compiled_run_equals_eager_resumes_to_rounding_and_saves_a_plain_model(
    case: str, tiny_data: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    tokenizer: Path = request.getfixturevalue(FAMILIES[case][2])
    eager = run(case, tiny_data, tokenizer, tmp_path / "eager", compiled=False)
    compiled = run(case, tiny_data, tokenizer, tmp_path / "compiled", compiled=True)
    assert len(compiled.losses) == STEPS
    # Fused kernels round differently, and 50 optimizer steps carry the rounding on.
    torch.testing.assert_close(compiled.losses, eager.losses, rtol=1e-4, atol=1e-5)
    assert type(compiled.model) is type(eager.model), "unwrapped from compile"

    first = tmp_path / "compiled" / "checkpoints" / f"step-{CHECKPOINT_EVERY:08d}"
    assert not [key for key in load_file(first / "model.safetensors") if "_orig_mod" in key]
    shutil.rmtree(tmp_path / "compiled" / "checkpoints" / f"step-{STEPS:08d}")
    resumed = run(case, tiny_data, tokenizer, tmp_path / "compiled", True, resume=True)
    # Not bit-exact: in a clean-clone CI run at load ~8 a resumed step differed by 4.8e-7
    # (5.556772708892822 vs 5.556772232055664; equal in another run): the resumed process
    # re-enters the compiled graph, whose kernels may pick other reduction orders. Float rounding.
    torch.testing.assert_close(resumed.losses, compiled.losses, rtol=1e-5, atol=1e-5)
    for (name, a), b in zip(
        resumed.model.state_dict().items(), compiled.model.state_dict().values(), strict=True
    ):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=name)

    compiled.model.save_pretrained(tmp_path / "saved")
    loaded = AutoModelForSeq2SeqLM.from_pretrained(tmp_path / "saved")
    assert type(loaded) is type(eager.model)
    assert not [key for key in loaded.state_dict() if "_orig_mod" in key]
    for name, value in compiled.model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], value), name
