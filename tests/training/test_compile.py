"""engine.compile=true through the shared loop on CPU (inductor, the default backend): the
compiled run's losses equal eager's to float rounding with the preset's dropout, a resume
from its checkpoint continues them to float rounding (not bit for bit, see below), and the
model it saves loads with plain ``from_pretrained``.

One compilation is the cost (about 2 CPU minutes with an empty inductor cache, on this test's
sizes; seconds with a warm one), so one run answers every question: it is a fine-tuning run (the
copy task through ``DataCollatorForSeq2Seq``, lengths varying from batch to batch) of a BART
with barto-tiny's config but one encoder and one decoder layer (compilation time grows with the
graph; the code paths are the preset's).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file
from transformers import AutoModelForSeq2SeqLM, BartForConditionalGeneration, DataCollatorForSeq2Seq

from seq2seq_es.models.presets import build_config
from seq2seq_es.tokenizer.save import load_tokenizer_folder
from seq2seq_es.training.batches import EpochBatches, WithoutIndex
from seq2seq_es.training.config import EngineConfig, OptimConfig
from seq2seq_es.training.loop import TrainResult, train

STEPS = 6


def micro_bart(tokenizer: object) -> BartForConditionalGeneration:
    config = build_config("barto-tiny", tokenizer)  # type: ignore[arg-type]
    config.encoder_layers = config.decoder_layers = 1
    assert config.dropout == 0.1, "the preset's dropout"
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return BartForConditionalGeneration(config)


def fine_tune(
    tiny_data: Path, tokenizer_folder: Path, folder: Path, compiled: bool, resume: bool = False
) -> TrainResult:
    tokenizer = load_tokenizer_folder(str(tokenizer_folder))
    rows = [json.loads(line) for line in (tiny_data / "copy" / "train.jsonl").open()][:80]
    examples = [
        {"input_ids": tokenizer(r["src"])["input_ids"], "labels": tokenizer(r["tgt"])["input_ids"]}
        for r in rows
    ]
    model = micro_bart(tokenizer)
    collate = WithoutIndex(DataCollatorForSeq2Seq(tokenizer, model=model, label_pad_token_id=-100))
    folder.mkdir(parents=True, exist_ok=True)
    # compile_exact_random: eager's dropout masks, so that the losses compare step by step.
    # Without it inductor draws its own masks and the losses differ from the first step (7.6e-3
    # on barto-tiny pretraining, benchmarks/RESULTS.md); the rest of the test holds either way.
    engine = EngineConfig(
        compile=compiled,
        compile_exact_random=True,
        checkpoint_every=3,
        log_every=1,
        tensorboard=False,
        measure_mfu=False,
    )
    return train(
        model,
        EpochBatches(examples, collate, 8, seed=0),
        OptimConfig(steps=STEPS, batch_size=8, lr=1e-3, warmup_steps=2),
        engine,
        folder,
        seed=0,
        resume=resume,
    )


def test_compiled_run_equals_eager_resumes_to_rounding_and_saves_a_plain_model(
    tiny_data: Path, tiny_tokenizer: Path, tmp_path: Path
) -> None:
    eager = fine_tune(tiny_data, tiny_tokenizer, tmp_path / "eager", compiled=False)
    compiled = fine_tune(tiny_data, tiny_tokenizer, tmp_path / "compiled", compiled=True)
    assert len(compiled.losses) == STEPS
    # Measured: at most 9.5e-7 apart (fused kernels round differently); 1e-5 of ~5.9.
    gaps = [abs(a - b) for a, b in zip(eager.losses, compiled.losses, strict=True)]
    assert max(gaps) < 1e-5, gaps
    assert type(compiled.model) is BartForConditionalGeneration, "unwrapped from compile"

    checkpoint = tmp_path / "compiled" / "checkpoints" / "step-00000003" / "model.safetensors"
    assert not [key for key in load_file(checkpoint) if "_orig_mod" in key]
    shutil.rmtree(tmp_path / "compiled" / "checkpoints" / "step-00000006")
    resumed = fine_tune(tiny_data, tiny_tokenizer, tmp_path / "compiled", True, resume=True)
    # Not bit-exact: in a clean-clone CI run at load ~8 the resumed step 6 differed by 4.8e-7
    # (5.556772708892822 vs 5.556772232055664; equal in the helper's run): the resumed process
    # re-enters the compiled graph, whose kernels may pick other reduction orders. Float rounding.
    resume_gaps = [abs(a - b) for a, b in zip(resumed.losses, compiled.losses, strict=True)]
    assert max(resume_gaps) < 1e-5, resume_gaps
    for (name, a), b in zip(
        resumed.model.state_dict().items(), compiled.model.state_dict().values(), strict=True
    ):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-5, msg=name)

    compiled.model.save_pretrained(tmp_path / "saved")
    loaded = AutoModelForSeq2SeqLM.from_pretrained(tmp_path / "saved")
    assert not [key for key in loaded.state_dict() if "_orig_mod" in key]
    for name, value in compiled.model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], value), name
