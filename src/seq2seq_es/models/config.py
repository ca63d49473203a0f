"""Config schemas of the ``model`` commands (light: pydantic only)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from seq2seq_es.config import Seed, StrictModel


class ModelInfoConfig(StrictModel):
    path: str = Field(
        description="A model folder, a Hugging Face Hub id, or a preset name (barto-base, "
        "t5s-base, …)."
    )


# docs/naming.md: a folder a command writes is `output_dir`; these three said `output`.
OUTPUT_RENAMED = {"output": "output_dir"}


class Bert2BertConfig(StrictModel):
    RENAMED = OUTPUT_RENAMED
    encoder: str = Field(description="BERT/RoBERTa folder or hub id.")
    output_dir: str = Field(description="Folder to write.")
    decoder: str | None = Field(None, description="Decoder checkpoint (default: the encoder).")
    share: bool = Field(False, description="Tie encoder and decoder weights.")
    seed: Seed = Field(0, description="Seed of the new cross-attention weights.")
    revision: str | None = Field(
        None, description="Hub commit, tag or branch of `encoder` (None: main). Pin it."
    )


class ToLedConfig(StrictModel):
    RENAMED = OUTPUT_RENAMED
    bart: str = Field(description="BART folder or hub id.")
    output_dir: str = Field(description="Folder to write.")
    max_positions: int = Field(16_384, description="Encoder positions of the LED.")
    attention_window: int = Field(512, description="Sliding-window size (even).")


class AdapterConfig(StrictModel):
    """Parameter-efficient fine-tuning: ``kind: lora`` trains low-rank adapters (Hu et al. 2021,
    arXiv 2106.09685) through peft and freezes every other weight (``models/adapters.py``)."""

    kind: Literal["none", "lora"] = Field(
        "none", description="none: train every weight; lora: only LoRA adapters."
    )
    r: int = Field(
        8, gt=0, description="Rank of each adapter's update (B·A, with B: d×r and A: r×k)."
    )
    alpha: int = Field(16, gt=0, description="Scale of the update: it is multiplied by alpha / r.")
    dropout: float = Field(0.05, ge=0.0, lt=1.0, description="Dropout on the adapters' inputs.")
    target_modules: list[str] | None = Field(
        None,
        min_length=1,
        description="Names of the linear layers that get an adapter (a layer matches when its "
        "name is this or ends with '.' + this); None: the architecture's default "
        "(query and value projections: q_proj/v_proj for BART, q/v for T5, "
        "query/value for BERT2BERT).",
    )


class MergeAdapterConfig(StrictModel):
    RENAMED = OUTPUT_RENAMED
    adapter: str = Field(
        description="Adapter folder written by peft (adapter_config.json + "
        "adapter_model.safetensors)."
    )
    output_dir: str = Field(
        description="Folder to write: the merged model, loadable with AutoModelForSeq2SeqLM."
    )
    base: str | None = Field(
        None,
        description="Base model folder or hub id (default: the adapter's base_model_name_or_path).",
    )
    tokenizer: str | None = Field(
        None, description="Tokenizer folder (default: the adapter folder's, else the base's)."
    )
