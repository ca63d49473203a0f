"""Settings of the training engine, shared by pretraining and fine-tuning.

Two sections: ``optim`` (what is optimised and how fast: batch, steps, optimizer,
schedule) and ``engine`` (how the loop runs: precision, compile, logging,
checkpoints). ``batch_size`` is the *global* micro-batch, split across processes, so a
run on 2 processes sees exactly the examples a single-process run sees.

Fields marked ``VOLATILE`` may change when a run is resumed: how long it trains, how often it
logs or checkpoints, where it reports, how many CPU threads and loader workers it uses. None of
them changes a step's result, so they are not part of the run's identity.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from seq2seq_es.config import VOLATILE, StrictModel


class OptimConfig(StrictModel):
    steps: Annotated[int, VOLATILE] = Field(300, ge=1, description="Optimizer steps.")
    batch_size: int = Field(
        16, ge=1, description="Global micro-batch (examples), split across processes."
    )
    grad_accum_steps: int = Field(1, ge=1, description="Micro-batches per optimizer step.")
    optimizer: Literal["adamw", "adamwscale", "adafactor"] = Field(
        "adamw",
        description="adamwscale: nanoT5's AdamW with updates scaled by each tensor's RMS; "
        "adafactor: factored second moments, no momentum, updates scaled by the parameter's RMS "
        "(t5x's T5 1.1 pretraining; betas/eps unused).",
    )
    decay_rate: float = Field(
        0.8,
        gt=0,
        le=1,
        description="adafactor: second-moment decay 1 - t^-decay_rate at step t (t5x base.gin: "
        "0.8).",
    )
    z_loss: float = Field(
        0.0,
        ge=0,
        description="Adds z_loss × log(Z)² per target token to the loss, Z the softmax "
        "normaliser: keeps logits from drifting (t5x/mesh; T5 1.1 base.gin: 1e-4). 0: off.",
    )
    lr: float = Field(1e-3, gt=0)
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = Field(1e-8, gt=0)
    weight_decay: float = Field(0.01, ge=0)
    warmup_steps: int = Field(30, ge=0)
    schedule: Literal["linear", "cosine", "inverse_sqrt", "rsqrt", "constant"] = Field(
        "linear",
        description="rsqrt: t5x's 'constant * rsqrt_decay', lr × sqrt(warmup / max(step, "
        "warmup)): constant for warmup_steps, no ramp, then 1/sqrt decay.",
    )
    min_lr_ratio: float = Field(
        0.0, ge=0, le=1, description="Floor of the decay, as a share of lr."
    )
    max_grad_norm: float = Field(1.0, gt=0)


def optim_facts(optim: OptimConfig) -> dict[str, Any]:
    """The optimisation settings as rows of a model card's training table (pretraining and
    fine-tuning)."""
    moments = (
        f"decay rate {optim.decay_rate:g}, no momentum"
        if optim.optimizer == "adafactor"
        else f"betas {optim.betas[0]:g}/{optim.betas[1]:g}"
    )
    return {
        "optimizer": f"{optim.optimizer} ({moments}, weight decay {optim.weight_decay:g}, "
        f"gradient clipping {optim.max_grad_norm:g}"
        + (f", z-loss {optim.z_loss:g}" if optim.z_loss else "")
        + ")",
        "learning rate": f"{optim.lr:g}, {optim.schedule} schedule, {optim.warmup_steps} warm-up "
        "steps" + (f", floor {optim.min_lr_ratio:g} × lr" if optim.min_lr_ratio else ""),
        "batch (examples per step)": f"{optim.batch_size * optim.grad_accum_steps}"
        + (
            f" ({optim.batch_size} × {optim.grad_accum_steps} accumulated)"
            if optim.grad_accum_steps > 1
            else ""
        ),
    }


class EngineConfig(StrictModel):
    mixed_precision: Literal["auto", "no", "bf16", "fp16"] = Field(
        "auto", description="auto: bf16 on a GPU that supports it, fp32 on CPU."
    )
    distributed: Literal["ddp", "fsdp"] = Field(
        "ddp",
        description=(
            "With several processes: ddp (each holds the whole model; gradients averaged) or "
            "fsdp (torch FSDP2: each holds 1/N of every weight, gradient and optimizer state; "
            "checkpoints sharded, the final model/ whole). One process: no difference."
        ),
    )
    compile: bool = Field(
        False,
        description="torch.compile the model (inductor; one graph with dynamic lengths). The "
        "first step compiles: ~1-2 CPU minutes for a tiny preset on an empty inductor cache.",
    )
    compile_exact_random: bool = Field(
        False,
        description="With compile: draw dropout masks from torch's random stream as eager does "
        "(inductor's fallback_random), so a compiled run's losses equal eager's to float "
        "rounding; slower dropout. False: inductor's own masks (resume stays exact).",
    )
    attn_implementation: Literal["sdpa", "eager"] = Field(
        "sdpa",
        description="sdpa: torch's fused scaled_dot_product_attention (transformers' default for "
        "BART, T5, BERT2BERT); eager: the plain matmul-softmax reference. An architecture "
        "without SDPA in transformers (LED) runs eager; run_info.json records what ran.",
    )
    tf32: bool = Field(True, description="Allow TF32 matmuls on Ampere+ GPUs (no effect on CPU).")
    threads: Annotated[int | None, VOLATILE] = Field(
        None, ge=1, description="torch CPU threads per process (None: torch default)."
    )
    num_workers: Annotated[int, VOLATILE] = Field(
        0, ge=0, description="DataLoader worker processes."
    )
    log_every: Annotated[int, VOLATILE] = Field(10, ge=1)
    eval_every: int | None = Field(
        None, ge=1, description="Validation every N steps (None: only at the end)."
    )
    checkpoint_every: Annotated[int | None, VOLATILE] = Field(
        None,
        ge=1,
        description=(
            "Checkpoint every N steps and at the last step (None: no checkpoints, except one on "
            "Ctrl-C or SIGTERM)."
        ),
    )
    keep_checkpoints: Annotated[int, VOLATILE] = Field(
        2, ge=1, description="Keep the last N checkpoints."
    )
    tensorboard: Annotated[bool, VOLATILE] = True
    trackio: Annotated[bool, VOLATILE] = Field(
        False, description="Also log to trackio (local-first; pip install trackio)."
    )
    measure_mfu: Annotated[bool, VOLATILE] = Field(
        True,
        description=(
            "Log MFU = achieved FLOP/s ÷ peak, naming the peak and its source. The peak: "
            "engine.peak_flops, else a GPU's data sheet (dense bf16), else this CPU's fp32 GEMM "
            "peak as `seq2seq-es bench-peak` measured and cached it (a run never probes; without "
            "a peak, MFU is unknown)."
        ),
    )
    peak_flops: Annotated[float | None, VOLATILE] = Field(
        None,
        gt=0,
        description=(
            "Peak FLOP/s of one process's device (one GPU, or the CPU threads of one process) for "
            "MFU; set it when you know the hardware. None: data sheet or bench-peak's cache."
        ),
    )
