"""engine.compile on CPU: what torch.compile costs at the start of a run, and what it saves a step.

Our training loop (``training/loop.py``) trains the same freshly initialised preset twice on
the same pre-noised BART pretraining examples (``bench_train.make_examples``: packed Spanish
blocks, text infilling; padded to each batch's longest, so lengths vary from batch to batch as
in ``pretrain``), once eager and once with ``engine.compile=true``. A clock on every step (the
loop's ``evaluate`` callback, ``eval_every=1``, which does nothing else) gives each step's wall
time. Reported apart: the compiled run's first steps (compilation and recompilations, until its
steps are as fast as they will be) and the median step time of the last half of each run, and
their ratio. Also: the largest loss gap between the two runs, and whether the saved model loads
with plain ``AutoModelForSeq2SeqLM.from_pretrained``.

    .venv/bin/python benchmarks/bench_compile.py --steps 30
    .venv/bin/python benchmarks/bench_compile.py --steps 30 --dropout 0
    .venv/bin/python benchmarks/bench_compile.py --steps 30 --preset t5s-tiny
    .venv/bin/python benchmarks/bench_compile.py --steps 30 --preset bert2bert-tiny
    .venv/bin/python benchmarks/bench_compile.py --smoke   # 6 steps of 4 x 32 tokens

``--smoke`` checks that the benchmark runs to its ratio line (one compilation, about a CPU
minute with an empty inductor cache); its numbers mean nothing.

``bert2bert-tiny`` is not a preset: a BERT2BERT of two randomly initialised bert-tiny BERTs (the
decoder with cross-attention), the model ``seq2seq-es model bert2bert`` makes of a bert-tiny
checkpoint, without the checkpoint.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from bench_train import DEFAULT_DATA, make_examples
from transformers import (
    AutoModelForSeq2SeqLM,
    BertConfig,
    BertLMHeadModel,
    BertModel,
    DataCollatorForSeq2Seq,
    EncoderDecoderModel,
)
from transformers.utils import logging as hf_logging

from seq2seq_es.corpus.text_files import iter_texts
from seq2seq_es.models.loading import save_seq2seq
from seq2seq_es.models.presets import build_config, build_model
from seq2seq_es.tokenizer.bpe import train_byte_level_bpe
from seq2seq_es.training.batches import EpochBatches, WithoutIndex
from seq2seq_es.training.config import EngineConfig, OptimConfig
from seq2seq_es.training.loop import train


def make_model(preset: str, tokenizer: Any, dropout: float | None) -> Any:
    """The preset's model, or for ``bert2bert-tiny`` a BERT2BERT of bert-tiny's shape."""
    if preset != "bert2bert-tiny":
        return build_model(preset, tokenizer, seed=0, dropout=dropout)
    encoder = build_config("bert-tiny", tokenizer, dropout)
    decoder = BertConfig(**{**encoder.to_dict(), "is_decoder": True, "add_cross_attention": True})
    torch.manual_seed(0)
    model = EncoderDecoderModel(
        encoder=BertModel(encoder, add_pooling_layer=False), decoder=BertLMHeadModel(decoder)
    )
    model.config.decoder_start_token_id = tokenizer.bos_token_id
    model.config.pad_token_id = tokenizer.pad_token_id
    return model


def timed_run(
    compiled: bool,
    tokenizer: Any,
    examples: list[dict[str, list[int]]],
    args: argparse.Namespace,
    folder: Path,
) -> tuple[list[float], list[float], Any]:
    """(wall seconds of each step, losses, trained model) of one run of our loop."""
    model = make_model(args.preset, tokenizer, args.dropout)
    collate = WithoutIndex(DataCollatorForSeq2Seq(tokenizer, model=model, label_pad_token_id=-100))
    batches = EpochBatches(examples, collate, args.batch, seed=0)
    optim = OptimConfig(steps=args.steps, batch_size=args.batch, lr=1e-4, warmup_steps=2)
    engine = EngineConfig(
        compile=compiled, eval_every=1, log_every=args.steps, tensorboard=False, measure_mfu=False
    )
    clock = [time.perf_counter()]

    def tick(_model: Any, _step: int) -> dict[str, float]:
        clock.append(time.perf_counter())
        return {}

    folder.mkdir(parents=True)
    clock[0] = time.perf_counter()
    result = train(model, batches, optim, engine, folder, seed=0, evaluate=tick)
    steps = [later - earlier for earlier, later in itertools.pairwise(clock)]
    return steps, result.losses, result.model


def warm_up_steps(compiled: list[float], eager: list[float]) -> int:
    """The compiled run's leading steps that took over 5x the eager median step: compilation
    (and the recompilations of the first new shapes) costs tens of eager steps each."""
    limit = 5 * statistics.median(eager)
    return next((i for i, seconds in enumerate(compiled) if seconds <= limit), len(compiled))


def later_compilations(compiled: list[float], eager: list[float], warm: int) -> list[float]:
    """Steps after the warm-up that again took over 5x the eager median (a recompilation for a
    new shape, or another job's burst on the machine)."""
    limit = 5 * statistics.median(eager)
    return [seconds for seconds in compiled[warm:] if seconds > limit]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--preset", default="barto-tiny", help="a preset, or bert2bert-tiny")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--vocab", type=int, default=8000)
    parser.add_argument(
        "--dropout", type=float, default=None, help="None: the preset's (barto-tiny: 0.1)."
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--smoke", action="store_true", help="6 steps of 4 x 32 tokens")
    args = parser.parse_args()
    texts = 2000
    if args.smoke:
        args.steps, args.batch, args.seq_len, args.vocab, texts = 6, 4, 32, 1000, 200
    if not args.data.is_file():
        sys.exit(f"{args.data} not found: pass --data with a JSONL(.gz) file of Spanish text")
    hf_logging.set_verbosity_error()
    tokenizer = train_byte_level_bpe(itertools.islice(iter_texts(args.data), texts), args.vocab)
    examples = make_examples(
        tokenizer, args.data, args.seq_len, args.batch * args.steps, seed=0, texts_read=texts
    )
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        eager, eager_losses, _ = timed_run(False, tokenizer, examples, args, Path(tmp) / "eager")
        compiled, compiled_losses, model = timed_run(
            True, tokenizer, examples, args, Path(tmp) / "compiled"
        )
        save_seq2seq(model, tokenizer, Path(tmp) / "model")
        reloaded = AutoModelForSeq2SeqLM.from_pretrained(str(Path(tmp) / "model"))
        keys = list(reloaded.state_dict())
        plain = not any("_orig_mod" in key for key in keys)
        same = all(
            torch.equal(reloaded.state_dict()[key], value)
            for key, value in model.state_dict().items()
            if key in reloaded.state_dict()
        )
    warm = warm_up_steps(compiled, eager)
    half = args.steps // 2
    eager_step = statistics.median(eager[half:])
    compiled_step = statistics.median(compiled[half:])
    gap = max(abs(a - b) for a, b in zip(eager_losses, compiled_losses, strict=True))
    print(
        f"\npreset {args.preset}, batch {args.batch} x seq_len {args.seq_len}, {args.steps} steps, "
        f"dropout {'preset' if args.dropout is None else args.dropout}, "
        f"torch threads {torch.get_num_threads()}, load average {load_before:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end"
    )
    print(f"compiled run, first {warm} steps (compilation): {sum(compiled[:warm]):.1f} s")
    print(f"  eager, the same steps: {sum(eager[:warm]):.2f} s")
    print(f"  compiled, first steps: {' '.join(f'{s:.2f}' for s in compiled[: warm + 2])} s")
    later = later_compilations(compiled, eager, warm)
    print(f"  later steps over 5x the eager median: {len(later)} ({sum(later):.1f} s)")
    print(f"median step, last {args.steps - half} steps: eager {eager_step * 1e3:.1f} ms, ", end="")
    print(f"compiled {compiled_step * 1e3:.1f} ms")
    print(f"whole run: eager {sum(eager):.1f} s, compiled {sum(compiled):.1f} s")
    print(
        f"largest loss gap, compiled vs eager: {gap:.2e} (first losses {eager_losses[0]:.5f} ",
        end="",
    )
    print(f"/ {compiled_losses[0]:.5f})")
    print(f"saved compiled model loads plainly: {plain and same} ({len(keys)} tensors)")
    print(f"\nratio eager / compiled step time (after warm-up): {eager_step / compiled_step:.2f}x")


if __name__ == "__main__":
    main()
