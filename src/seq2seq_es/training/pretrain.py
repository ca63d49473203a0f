"""The ``pretrain`` stage: denoising pretraining of a preset model on corpus shards."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import torch
from pydantic import Field
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from seq2seq_es.config import StrictModel
from seq2seq_es.corpus.text_files import iter_texts
from seq2seq_es.errors import DataError
from seq2seq_es.files import atomic_dir, write_json
from seq2seq_es.models.presets import build_model, count_parameters
from seq2seq_es.objectives.packing import pack_blocks
from seq2seq_es.objectives.text_infilling import InfillingCollator, InfillingSettings
from seq2seq_es.training.config import OptimConfig
from seq2seq_es.training.loop import as_dataset, train


class ObjectiveConfig(StrictModel):
    mask_ratio: float = Field(0.3, ge=0, lt=1)
    poisson_lambda: float = Field(3.0, gt=0)


class PretrainConfig(StrictModel):
    data: str = Field("runs/corpus/shards", description="Corpus shards: a JSONL(.gz) file or folder.")
    text_key: str = "text"
    tokenizer: str = "runs/tokenizer"
    output_dir: str = "runs/pretrain"
    model: str = "barto-tiny"
    seq_len: int = Field(128, ge=8)
    max_blocks: int = Field(20_000, ge=1, description="Cap on packed blocks read from the corpus.")
    validation_blocks: int = Field(64, ge=1)
    seed: int = 1234
    objective: ObjectiveConfig = ObjectiveConfig()
    optim: OptimConfig = OptimConfig()


def load_tokenizer(path: str | Path) -> PreTrainedTokenizerBase:
    path = Path(path)
    if not (path / "tokenizer.json").is_file() and not (path / "tokenizer_config.json").is_file():
        raise DataError(f"{path}: no tokenizer here. Run `seq2seq-es tokenizer` first or fix the path.")
    return AutoTokenizer.from_pretrained(str(path))


def packed_blocks(config: PretrainConfig, tokenizer: PreTrainedTokenizerBase) -> list[list[int]]:
    """Tokenize the corpus (without specials) and pack it into blocks of seq_len - 2."""
    body = config.seq_len - 2
    need = config.max_blocks + config.validation_blocks

    def documents() -> itertools.chain[list[int]]:
        texts = iter_texts(config.data, config.text_key)
        batches = iter(lambda: list(itertools.islice(texts, 256)), [])
        return itertools.chain.from_iterable(
            tokenizer(batch, add_special_tokens=False)["input_ids"] for batch in batches)

    blocks = list(itertools.islice(pack_blocks(documents(), body, tokenizer.eos_token_id), need))
    if len(blocks) <= config.validation_blocks:
        raise DataError(f"{config.data}: corpus too small: {len(blocks)} blocks of {config.seq_len} tokens, "
                        f"need more than validation_blocks={config.validation_blocks}. Add text or lower seq_len.")
    return blocks


def run_pretrain(config: PretrainConfig) -> dict[str, float]:
    """Pretrain and save a ``save_pretrained`` folder to ``output_dir/model``."""
    tokenizer = load_tokenizer(config.tokenizer)
    blocks = packed_blocks(config, tokenizer)
    validation, training = blocks[: config.validation_blocks], blocks[config.validation_blocks:]
    model = build_model(config.model, tokenizer, seed=config.seed)
    settings = InfillingSettings(config.objective.mask_ratio, config.objective.poisson_lambda)
    collator = InfillingCollator(tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id,
                                 tokenizer.mask_token_id, tokenizer.eos_token_id, settings, config.seed)
    indexed = list(enumerate(training))

    def make_epoch(epoch: int) -> torch.utils.data.DataLoader:
        collator.epoch = epoch
        generator = torch.Generator().manual_seed(config.seed + epoch)
        return torch.utils.data.DataLoader(as_dataset(indexed), batch_size=config.optim.batch_size, shuffle=True,
                                           generator=generator, collate_fn=collator, drop_last=True)

    if len(indexed) < config.optim.batch_size:
        raise DataError(f"Only {len(indexed)} training blocks, fewer than batch_size={config.optim.batch_size}.")
    result = train(model, make_epoch, config.optim, config.output_dir, config.seed, "pretraining")
    val_loss = validation_loss(model, collator, validation, config.optim.batch_size)
    with atomic_dir(Path(config.output_dir) / "model") as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    summary = {"parameters": count_parameters(model), "train_blocks": len(training),
               "final_train_loss": float(np.mean(result.losses[-10:])), "validation_loss": val_loss,
               "seconds": result.seconds, "tokens_per_s": result.tokens / max(result.seconds, 1e-9)}
    write_json(Path(config.output_dir) / "summary.json", summary)
    return summary


@torch.no_grad()
def validation_loss(model: torch.nn.Module, collator: InfillingCollator, blocks: list[list[int]], batch_size: int) -> float:
    """Mean token loss on held-out blocks, with the noise of a fixed epoch."""
    model.eval()
    saved_epoch, collator.epoch = collator.epoch, 2**31  # an epoch training never reaches
    total, count = 0.0, 0
    for start in range(0, len(blocks), batch_size):
        batch = collator([(10**9 + start + i, b) for i, b in enumerate(blocks[start:start + batch_size])])
        n = int((batch["labels"] != -100).sum())
        total += float(model(**batch).loss) * n
        count += n
    collator.epoch = saved_epoch
    model.train()
    return total / max(count, 1)
