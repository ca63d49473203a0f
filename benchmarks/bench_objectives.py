"""Benchmark the pretraining noise: collator throughput vs the step-by-step reference
implementations of the tests (same random draws, same batches), and the collators' share
of a barto-tiny training step; also the Spanish sentence splitter against the UD
Spanish-GSD gold segmentation.

Collators: BART with fairseq's noise (the default; baseline: our port of fairseq's
``DenoisingDataset``, tests/objectives/reference_fairseq.py), BART exact-ratio (baseline:
the per-token reference, tests/objectives/reference_noise.py), T5 span corruption.
Defaults are barto-tiny's pretraining shape (configs/pretrain/barto-tiny.yaml: 4 × 512).

    .venv/bin/python benchmarks/bench_objectives.py            # full run (~2-3 min)
    .venv/bin/python benchmarks/bench_objectives.py --quick    # a short run
    .venv/bin/python benchmarks/bench_objectives.py --smoke    # seconds: runs to its ratio lines

Numbers are printed; copy them into benchmarks/RESULTS.md (## objectives).
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import itertools
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "objectives"))

import reference_noise  # noqa: E402  (the per-token references live with the tests)
from noise_statistics import TABLE, table_statistics, touching_masks  # noqa: E402
from reference_fairseq import FairseqNoise, NumpyDraws  # noqa: E402

from seq2seq_es.models.presets import build_model  # noqa: E402
from seq2seq_es.objectives.bart_denoising import (  # noqa: E402
    NOISE_FUNCTIONS,
    BartDenoisingCollator,
    BartNoiseSettings,
)
from seq2seq_es.objectives.packing import pack_blocks  # noqa: E402
from seq2seq_es.objectives.sentence_split import sentence_spans, split_sentences  # noqa: E402
from seq2seq_es.objectives.span_corruption import SpanCorruptionCollator, t5_sentinel_ids  # noqa: E402
from seq2seq_es.objectives.token_tables import TokenTables  # noqa: E402
from seq2seq_es.tokenizer.bpe import train_byte_level_bpe  # noqa: E402

Batch = list[tuple[int, np.ndarray]]


def load_texts(path: Path, count: int) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line)["text"] for line in itertools.islice(handle, count)]


def per_second(
    function: Callable[[Batch], Any], batches: list[Batch], min_seconds: float
) -> dict[str, float]:
    """Examples per second (wall clock) and wall / CPU seconds per batch, over >= ``min_seconds``.

    CPU time (this process) is given too: on a shared machine it is what the work
    itself costs, while wall time includes waiting for other jobs.
    """
    examples, start, cpu_start = 0, time.perf_counter(), time.process_time()
    for batch in itertools.cycle(batches):
        function(batch)
        examples += len(batch)
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds and examples >= len(batches[0]) * len(batches):
            n_batches = examples / len(batch)
            return {
                "examples_per_s": examples / elapsed,
                "ms_per_batch": elapsed / n_batches * 1000,
                "cpu_ms_per_batch": (time.process_time() - cpu_start) / n_batches * 1000,
            }
    raise AssertionError("unreachable")


def reference_noise_function(
    collator: BartDenoisingCollator,
) -> Callable[[list[int], np.random.Generator], list[int]]:
    """The step-by-step reference of the collator's noise variant, drawing from ``rng``."""
    tables, settings = collator.tables, collator.settings
    if settings.noise == "exact-ratio":
        return lambda block, rng: reference_noise.bart_noise(
            block, tables, settings, collator.mask_id, rng
        )

    def fairseq(block: list[int], rng: np.random.Generator) -> list[int]:
        port = FairseqNoise(
            word_start=tables.fairseq_word_start,
            full_stop_id=tables.full_stop_id,
            mask_id=collator.mask_id,
            bos_id=collator.bos_id,
            eos_id=collator.eos_id,
            mask_ratio=settings.mask_ratio,
            random_ratio=settings.random_ratio,
            insert_ratio=settings.insert_ratio,
            permute_sentence_ratio=settings.permute_sentence_ratio,
            replace_length=settings.replace_length,
            draws=NumpyDraws(rng, settings.poisson_lambda, tables.random_ids),
        )
        return port(block)

    return fairseq


def reference_bart_collate(
    collator: BartDenoisingCollator,
) -> Callable[[Batch], dict[str, torch.Tensor]]:
    """The reference noise + list padding, as a straightforward collator would do it."""
    noise = reference_noise_function(collator)

    def collate(batch: Batch) -> dict[str, torch.Tensor]:
        rows, labels = [], []
        for index, block in batch:
            noisy = noise(
                block.tolist(), np.random.default_rng([collator.seed, collator.epoch, index])
            )
            rows.append([collator.bos_id, *noisy, collator.eos_id])
            labels.append([collator.bos_id, *block.tolist(), collator.eos_id])
        width = max(len(r) for r in rows)
        inputs = torch.tensor([r + [collator.pad_id] * (width - len(r)) for r in rows])
        target = torch.tensor(labels)
        decoder = torch.cat(
            [torch.full((len(batch), 1), collator.decoder_start_id), target[:, :-1]], dim=1
        )
        return {
            "input_ids": inputs,
            "attention_mask": (inputs != collator.pad_id).long(),
            "decoder_input_ids": decoder,
            "labels": target,
        }

    return collate


def reference_t5_collate(
    collator: SpanCorruptionCollator,
) -> Callable[[Batch], dict[str, torch.Tensor]]:
    def collate(batch: Batch) -> dict[str, torch.Tensor]:
        inputs, targets = [], []
        for index, block in batch:
            rng = np.random.default_rng([collator.seed, collator.epoch, index])
            source, target = reference_noise.span_corruption(
                block.tolist(),
                collator.sentinel_ids.tolist(),
                collator.eos_id,
                collator.noise_density,
                collator.mean_span_length,
                rng,
            )
            inputs.append(source)
            targets.append(target)
        labels = torch.tensor(targets)
        decoder = torch.cat(
            [torch.full((len(batch), 1), collator.decoder_start_id), labels[:, :-1]], dim=1
        )
        ids = torch.tensor(inputs)
        return {
            "input_ids": ids,
            "attention_mask": torch.ones_like(ids),
            "decoder_input_ids": decoder,
            "labels": labels,
        }

    return collate


def training_step_seconds(
    tokenizer: Any, batch: dict[str, torch.Tensor], steps: int
) -> tuple[float, float]:
    """Median (wall, CPU) seconds of forward + backward + AdamW step of barto-tiny on ``batch``."""
    model = build_model("barto-tiny", tokenizer, seed=0)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    times, cpu_times = [], []
    for step in range(steps + 2):
        start, cpu_start = time.perf_counter(), time.process_time()
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if step >= 2:  # warm-up
            times.append(time.perf_counter() - start)
            cpu_times.append(time.process_time() - cpu_start)
    return statistics.median(times), statistics.median(cpu_times)


def noise_table(
    tables: TokenTables, blocks: list[np.ndarray], mask_id: int
) -> dict[str, dict[str, float]]:
    """Issue 23's statistics of both BART noises (defaults) on ``blocks``, plus touching ``<mask>``
    pairs and how often a block's first token is masked (sentence permutation off for that one)."""
    marked_id = len(tables.special)  # an id outside the vocabulary marks the random replacements
    marked = dataclasses.replace(tables, random_ids=np.array([marked_id]))
    table: dict[str, dict[str, float]] = {}
    for kind, noise in NOISE_FUNCTIONS.items():
        settings = BartNoiseSettings(noise=kind)
        outputs = [
            noise(b, marked, settings, mask_id, np.random.default_rng([0, 0, i]))
            for i, b in enumerate(blocks)
        ]
        row = {
            name: float(values.mean())
            for name, values in table_statistics(blocks, outputs, mask_id, marked_id).items()
        }
        row["examples with <mask><mask>"] = touching_masks(outputs, mask_id)
        unpermuted = dataclasses.replace(settings, permute_sentence_ratio=0.0)
        row["first token masked"] = float(
            np.mean(
                [
                    noise(b, marked, unpermuted, mask_id, np.random.default_rng([0, 0, i]))[0]
                    != b[0]
                    for i, b in enumerate(blocks)
                ]
            )
        )
        table[kind] = row
    return table


def cross_evaluation(runs: list[Path], threads: int) -> dict[str, dict[str, dict[str, float]]]:
    """Validation loss and encoder gain of pretrained BART runs under *each* noise variant.

    Why: a run's own ``validation_loss`` is measured on its own noise, and the exact-ratio
    variant masks more than fairseq's; scoring every model on both noises separates the
    model from the task. Same held-out blocks as the run (the tail of its token stream).
    """
    import yaml

    from seq2seq_es.models.loading import load_seq2seq
    from seq2seq_es.pretraining.config import PretrainConfig
    from seq2seq_es.pretraining.pretrain import validation_losses
    from seq2seq_es.training.token_stream import TokenBlocks

    torch.set_num_threads(threads)
    table: dict[str, dict[str, dict[str, float]]] = {}
    for run in runs:
        config = PretrainConfig(**yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8")))
        model, tokenizer = load_seq2seq(run / "model")
        meta = json.loads((run / "data" / "tokens.json").read_text(encoding="utf-8"))
        stream = run / "data" / "tokens.bin"
        total = len(TokenBlocks(stream, meta["dtype"], config.seq_len - 2))
        validation = TokenBlocks(
            stream, meta["dtype"], config.seq_len - 2, total - config.validation_blocks
        )
        table[run.name] = {}
        for kind in NOISE_FUNCTIONS:
            settings = dataclasses.replace(BartNoiseSettings(), noise=kind)
            collator = BartDenoisingCollator.from_tokenizer(tokenizer, settings, config.seed)
            table[run.name][kind] = validation_losses(
                model, collator, validation, config.optim.batch_size
            )
            print(
                f"{run.name} (trained on {config.objective.noise}) evaluated on {kind} noise: "
                f"validation loss {table[run.name][kind]['validation_loss']:.4f}, encoder gain "
                f"{table[run.name][kind]['validation_encoder_gain']:.4f}"
            )
    return table


def ud_scores(path: Path, tokenizer: Any, tables: TokenTables) -> dict[str, float]:
    rows = [json.loads(line) for line in path.open(encoding="utf-8")]
    found = correct = gold_total = agree = 0
    for row in rows:
        text, gold, position = row["text"], set(), 0
        for sentence in row["sentences"][:-1]:
            position = text.index(sentence, position) + len(sentence)
            gold.add(position)
        predicted = {end for _, end in sentence_spans(text)[:-1]}
        found, correct, gold_total = (
            found + len(predicted),
            correct + len(predicted & gold),
            gold_total + len(gold),
        )
        ids = np.asarray(tokenizer(text, add_special_tokens=False)["input_ids"])
        starts = np.flatnonzero(tables.sentences.sentence_starts(ids, tables.word_starts(ids)))
        pieces = [tokenizer.decode(piece).strip() for piece in np.split(ids, starts[1:])]
        agree += pieces == split_sentences(text)
    precision, recall = correct / found, correct / gold_total
    return {
        "windows": len(rows),
        "gold_boundaries": gold_total,
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall),
        "token_level_same_as_text_level": agree / len(rows),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--documents", type=int, default=600)
    parser.add_argument("--vocab-size", type=int, default=8000)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument(
        "--seq-len", type=int, default=512, help="BART example length (<s> and </s> included)"
    )
    parser.add_argument("--t5-input-length", type=int, default=512)
    parser.add_argument("--seconds", type=float, default=5.0, help="minimum timing per collator")
    parser.add_argument("--steps", type=int, default=10, help="timed training steps")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--stat-blocks", type=int, default=2000, help="blocks for the noise statistics"
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--smoke", action="store_true", help="Tiny sizes, seconds.")
    parser.add_argument(
        "--runs",
        type=Path,
        nargs="+",
        help="only evaluate these pretrained BART runs (output "
        "folders of `seq2seq-es pretrain`) under both noises, then exit",
    )
    args = parser.parse_args()
    if args.runs:
        print(json.dumps(cross_evaluation(args.runs, args.threads), indent=1))
        return
    if args.quick:
        args.documents, args.seconds, args.steps, args.vocab_size, args.stat_blocks = (
            150,
            0.5,
            2,
            2000,
            100,
        )
    if args.smoke:  # 128-token examples, 1 thread; its numbers mean nothing
        args.documents, args.seconds, args.steps, args.vocab_size, args.stat_blocks = (
            60,
            0.1,
            1,
            500,
            20,
        )
        args.seq_len, args.t5_input_length, args.threads = 128, 128, 1
    torch.set_num_threads(args.threads)

    texts = load_texts(args.data / "pretrain" / "sample.jsonl.gz", args.documents)
    tokenizer = train_byte_level_bpe(texts, args.vocab_size)
    ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
    bart = BartDenoisingCollator.from_tokenizer(tokenizer, BartNoiseSettings(), seed=0)
    exact = BartDenoisingCollator.from_tokenizer(
        tokenizer, BartNoiseSettings(noise="exact-ratio"), seed=0
    )
    t5 = SpanCorruptionCollator(
        args.t5_input_length,
        t5_sentinel_ids(len(tokenizer)),
        eos_id=tokenizer.eos_token_id,
        decoder_start_id=tokenizer.pad_token_id,
        seed=0,
    )
    bart_blocks = list(pack_blocks(ids, args.seq_len - 2, tokenizer.eos_token_id))
    t5_blocks = list(pack_blocks(ids, t5.raw_length, tokenizer.eos_token_id))
    size = args.batch_size

    def batches(blocks: list[np.ndarray]) -> list[Batch]:
        return [
            list(enumerate(blocks))[i : i + size] for i in range(0, len(blocks) - size + 1, size)
        ][:20]

    print(
        f"corpus: {len(texts)} documents of pretrain/sample.jsonl.gz, byte-level BPE vocab "
        f"{len(tokenizer)}, {len(bart_blocks)} BART blocks of {args.seq_len}, {len(t5_blocks)} T5 "
        f"blocks of {t5.raw_length}; batch {size}, torch threads {args.threads}"
    )
    results: dict[str, Any] = {}
    for name, collator, reference, blocks in (
        ("bart-fairseq", bart, reference_bart_collate(bart), bart_blocks),
        ("bart-exact-ratio", exact, reference_bart_collate(exact), bart_blocks),
        ("t5", t5, reference_t5_collate(t5), t5_blocks),
    ):
        sample = batches(blocks)
        for a, b in zip(collator(sample[0]).values(), reference(sample[0]).values(), strict=True):
            assert torch.equal(a, b), f"{name}: vectorized and reference batches differ"
        fast = per_second(collator, sample, args.seconds)
        slow = per_second(reference, sample, args.seconds)
        speedup = fast["examples_per_s"] / slow["examples_per_s"]
        results[name] = {"collator": fast, "reference": slow, "speedup": speedup}
        print(
            f"{name:16s} collator {fast['examples_per_s']:7.0f} examples/s "
            f"({fast['ms_per_batch']:6.2f} ms wall, {fast['cpu_ms_per_batch']:6.2f} ms CPU per "
            f"batch of {size}) | reference {slow['examples_per_s']:6.0f} examples/s "
            f"({slow['cpu_ms_per_batch']:6.2f} ms CPU)"
        )
        print(f"ratio {name} collator / reference (examples/s): {speedup:.2f}x")

    step, step_cpu = training_step_seconds(tokenizer, bart(batches(bart_blocks)[0]), args.steps)
    print(
        f"barto-tiny training step on {size}x{args.seq_len}: {step * 1000:.0f} ms wall, "
        f"{step_cpu * 1000:.0f} ms CPU (median of {args.steps})"
    )
    results["train_step"] = {"ms": step * 1000, "cpu_ms": step_cpu * 1000}
    for name in ("bart-fairseq", "bart-exact-ratio"):
        share = results[name]["collator"]["ms_per_batch"] / 1000 / step
        share_cpu = results[name]["collator"]["cpu_ms_per_batch"] / 1000 / step_cpu
        print(
            f"  {name} collator = {share:.2%} of a step by wall time, {share_cpu:.2%} by CPU time "
            "(target < 5%)"
        )
        results["train_step"][f"{name}_share"], results["train_step"][f"{name}_share_cpu"] = (
            share,
            share_cpu,
        )

    stats_blocks = bart_blocks[: args.stat_blocks]
    table = noise_table(bart.tables, stats_blocks, bart.mask_id)
    print(
        f"BART noise statistics on {len(stats_blocks)} blocks of {args.seq_len - 2} tokens "
        "(defaults):"
    )
    for name in [*TABLE, "examples with <mask><mask>", "first token masked"]:
        print(
            f"  {name:30s} " + "  ".join(f"{kind} {row[name]:7.3f}" for kind, row in table.items())
        )
    results["noise_statistics"] = table

    ud = args.data / "ud" / "es_gsd_test_groups.jsonl"
    if ud.is_file():
        scores = ud_scores(ud, tokenizer, bart.tables)
        print(
            f"UD Spanish-GSD test ({scores['windows']} windows of 5 sentences, "
            f"{scores['gold_boundaries']} gold boundaries): precision {scores['precision']:.3f} "
            f"recall {scores['recall']:.3f} F1 {scores['f1']:.3f}; token-level split == text-level "
            f"split in {scores['token_level_same_as_text_level']:.1%} of windows"
        )
        results["ud"] = scores
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
