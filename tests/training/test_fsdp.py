"""FSDP for real: ``engine.distributed=fsdp`` with 2 gloo processes on CPU (torch FSDP2).

The defaults users run (the presets' dropout 0.1): the loss curve equals DDP's on the same
data within float tolerance (both draw the same dropout masks: one stream per process,
seeded alike), checkpoints are per-process safetensors shards written by DCP (nothing
pickled), a SIGKILL mid-run resumes bit-exactly, and ``model/`` is a plain folder that
``from_pretrained`` loads.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file
from training_helpers import (
    DDP_PRETRAIN,
    DDP_REFERENCES,
    LAUNCH,
    killed_before_the_last_checkpoint,
    losses,
    run_cli,
)

from seq2seq_es.training.checkpoint import list_checkpoints

FSDP = "engine.distributed=fsdp"


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "model" / "model.safetensors"))


def _assert_like_ddp(fsdp: Path, ddp: Path, steps: int) -> None:
    """The same optimisation as DDP, dropout included: losses and weights to float rounding."""
    expected, found = losses(ddp), losses(fsdp)
    assert [s for s, _ in found] == [s for s, _ in expected] == list(range(1, steps + 1))
    assert [b for _, b in found] == pytest.approx([a for _, a in expected], rel=1e-4, abs=1e-5)
    for name, tensor in _weights(ddp).items():
        torch.testing.assert_close(_weights(fsdp)[name], tensor, rtol=1e-3, atol=1e-5)


def _assert_plain_folder(run: Path) -> None:
    """``model/`` is a plain ``save_pretrained`` folder: ``from_pretrained`` loads the weights."""
    from transformers import AutoModelForSeq2SeqLM

    saved = _weights(run)
    model = AutoModelForSeq2SeqLM.from_pretrained(run / "model")
    for name, tensor in model.state_dict().items():
        if name in saved:
            assert bool((tensor == saved[name]).all()), name


@pytest.mark.xdist_group(DDP_REFERENCES)
def test_fsdp_matches_ddp_resumes_bit_exact_and_saves_a_plain_model(
    ddp_pretrain: Path, tiny_pretrain: list[str], tmp_path: Path
) -> None:
    """barto-tiny's BART noise: FSDP against the shared 2-process DDP run of the same settings."""
    settings = [*tiny_pretrain, *DDP_PRETRAIN, FSDP]
    fsdp, killed = tmp_path / "fsdp", tmp_path / "killed"
    run_cli(["pretrain", f"output_dir={fsdp}", *settings], launcher=LAUNCH)
    _assert_like_ddp(fsdp, ddp_pretrain, steps=8)

    # sharded checkpoints: one safetensors file of shards per process, no model.safetensors
    checkpoint = list_checkpoints(fsdp / "checkpoints")[-1]
    shards = sorted(p.name for p in (checkpoint / "shards").iterdir())
    assert shards == [
        "shard-00001-model-00001-of-00001.safetensors",
        "shard-00002-model-00001-of-00001.safetensors",
    ]
    assert not (checkpoint / "model.safetensors").exists()
    for shard in shards:
        with safe_open(str(checkpoint / "shards" / shard), framework="pt") as handle:
            assert any(key.startswith("model.") for key in handle.keys())  # noqa: SIM118
            assert any(key.startswith("optimizer.") for key in handle.keys())  # noqa: SIM118
    assert all(p.suffix in (".json", ".safetensors") for p in checkpoint.rglob("*") if p.is_file())

    # SIGKILL after the step-4 checkpoint, resume: the same losses and weights, bit for bit
    args = ["pretrain", f"output_dir={killed}", *settings]
    killed_before_the_last_checkpoint(args)
    assert [p.name for p in list_checkpoints(killed / "checkpoints")] == ["step-00000004"]
    assert len(losses(killed)) == 8  # steps 5-8 were logged before the kill, then redone
    run_cli([*args, "--resume"], launcher=LAUNCH)
    assert losses(killed) == losses(fsdp)
    resumed, straight = _weights(killed), _weights(fsdp)
    assert resumed.keys() == straight.keys()
    assert all(bool((resumed[name] == straight[name]).all()) for name in straight)
    assert (
        json.loads((killed / "summary.json").read_text())["validation_loss"]
        == json.loads((fsdp / "summary.json").read_text())["validation_loss"]
    )
    _assert_plain_folder(fsdp)


def test_fsdp_span_corruption_matches_ddp_and_saves_a_plain_model(
    tiny_pretrain: list[str], tiny_unigram_tokenizer: Path, tmp_path: Path
) -> None:
    """t5s-tiny's span corruption (T5 blocks are the FSDP units here): the same optimisation as
    DDP. Its sharded checkpoints and resume are the code the BART test above kills and resumes:
    nothing in them depends on the family."""
    settings = [*tiny_pretrain, "model=t5s-tiny", f"tokenizer={tiny_unigram_tokenizer}"]
    settings += ["optim.steps=8", "engine.checkpoint_every=4"]
    run_cli(["pretrain", f"output_dir={tmp_path / 'ddp'}", *settings], launcher=LAUNCH)
    run_cli(["pretrain", f"output_dir={tmp_path / 'fsdp'}", *settings, FSDP], launcher=LAUNCH)
    _assert_like_ddp(tmp_path / "fsdp", tmp_path / "ddp", steps=8)
    assert (list_checkpoints(tmp_path / "fsdp" / "checkpoints")[-1] / "shards").is_dir()
    _assert_plain_folder(tmp_path / "fsdp")


@pytest.mark.xdist_group(DDP_REFERENCES)
def test_fsdp_finetune_selects_like_ddp(
    ddp_finetune: tuple[Path, str], finetune_settings: list[str], tmp_path: Path
) -> None:
    """Fine-tuning's selection decodes with the main process's gathered copy and saves
    ``best_model/`` from it: the same evaluations, best step and final model as DDP (dropout
    0.1, early stopping), within float tolerance."""
    ddp_run, _ = ddp_finetune
    settings = ["finetune", "model=barto-tiny", *finetune_settings]
    run_cli([*settings, f"output_dir={tmp_path / 'fsdp'}", FSDP], launcher=LAUNCH)
    ddp, fsdp = (
        json.loads((run / "scores.json").read_text(encoding="utf-8"))
        for run in (ddp_run, tmp_path / "fsdp")
    )
    assert fsdp["training"]["steps"] == ddp["training"]["steps"]
    selection, expected = fsdp["training"]["selection"], ddp["training"]["selection"]
    assert selection["best_step"] == expected["best_step"]
    assert selection["best"] == pytest.approx(expected["best"], abs=1e-6)
    assert fsdp["nll"]["nll_per_token"] == pytest.approx(ddp["nll"]["nll_per_token"], rel=1e-4)
    for name, tensor in _weights(ddp_run).items():
        torch.testing.assert_close(_weights(tmp_path / "fsdp")[name], tensor, rtol=1e-3, atol=1e-5)


def test_a_sharded_checkpoint_with_dcp_pickles_or_a_truncated_shard_is_refused(
    tmp_path: Path,
) -> None:
    """DCP's default index (``.metadata``, pickled) is never read, and a truncated shard under
    ``shards/`` is caught before anything is written, like a truncated ``model.safetensors``."""
    from safetensors.torch import save_file

    from seq2seq_es.errors import CheckpointError
    from seq2seq_es.training.run_folder import FORMAT, STATE_FILE, check_checkpoint_files

    checkpoint = tmp_path / "step-00000004"
    (checkpoint / "shards").mkdir(parents=True)
    (checkpoint / STATE_FILE).write_text(json.dumps({"format": FORMAT, "step": 4}))
    shard = checkpoint / "shards" / "shard-00001-model-00001-of-00001.safetensors"
    save_file({"model.weight": torch.ones(64)}, str(shard))
    assert check_checkpoint_files(checkpoint)["step"] == 4
    (checkpoint / "shards" / ".metadata").write_bytes(b"\x80\x04N.")  # pickle.dumps(None)
    with pytest.raises(CheckpointError, match=r"holds pickle files \(\.metadata\)"):
        check_checkpoint_files(checkpoint)
    (checkpoint / "shards" / ".metadata").unlink()
    shard.write_bytes(shard.read_bytes()[:-10])
    with pytest.raises(CheckpointError, match="truncated"):
        check_checkpoint_files(checkpoint)
