"""Config schemas of inference: decoding options, ``predict`` on your own text, ``serve``.

Why a light module: ``seq2seq-es predict`` and ``serve`` validate their config (and a
typo in it fails) before torch, transformers, fastapi or ctranslate2 are imported. It
imports only pydantic and the project's config base.

``GenerationOptions`` is also the contract between callers and every engine
(``engines.py``, ``ct2_engine.py``): a field left at None means "the model's default"
(what its folder says, see ``folder_decoding.py``), resolved by ``resolved``.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from seq2seq_es.config import StrictModel

EngineName = Literal["transformers", "ct2"]

# Used when neither an override nor the model folder says otherwise: greedy, as
# ``transformers.GenerationConfig``; 128 new tokens, the registry's usual target length.
FALLBACK_NUM_BEAMS = 1
FALLBACK_MAX_NEW_TOKENS = 128


class GenerationOptions(StrictModel):
    """How to decode. None = the model's default; sampling is off unless ``do_sample``.

    ``top_k=0`` and ``top_p=1.0`` mean "no truncation of the distribution" (the whole
    vocabulary), in every engine: transformers' own default ``top_k=50`` is not used.
    ``seed`` makes sampling repeatable for the same inputs decoded in the same batch.
    ``output_scores`` asks engines for each output's log-probability (it costs one extra
    forward pass in the transformers engine); without it ``score`` may be None.
    """

    max_new_tokens: int | None = Field(
        None, ge=1, description="None: the model's task target length."
    )
    num_beams: int | None = Field(
        None, ge=1, description="None: the model's task setting (paper: 4)."
    )
    do_sample: bool = False
    temperature: float = Field(1.0, gt=0.0)
    top_k: int = Field(0, ge=0, description="Sample among the k most likely tokens (0: all).")
    top_p: float = Field(1.0, gt=0.0, le=1.0, description="Nucleus sampling mass (1.0: all).")
    length_penalty: float | None = None
    no_repeat_ngram_size: int | None = Field(None, ge=0)
    min_new_tokens: int | None = Field(
        None,
        ge=1,
        description="None: the model's (no minimum). The authors' BiSECT runs set "
        "min_target_length 32 (transformers' min_length, which counts the decoder start token: "
        "31 new tokens).",
    )
    seed: int | None = Field(None, ge=0)
    output_scores: bool = False

    def resolved(self, defaults: GenerationOptions) -> GenerationOptions:
        """These options with every None filled from ``defaults`` (then from the fallbacks)."""
        filled = {
            name: getattr(defaults, name)
            for name in (
                "max_new_tokens",
                "num_beams",
                "length_penalty",
                "no_repeat_ngram_size",
                "min_new_tokens",
                "seed",
            )
            if getattr(self, name) is None
        }
        result = self.model_copy(update=filled)
        return result.model_copy(
            update={
                "max_new_tokens": result.max_new_tokens or FALLBACK_MAX_NEW_TOKENS,
                "num_beams": result.num_beams or FALLBACK_NUM_BEAMS,
                "length_penalty": 1.0 if result.length_penalty is None else result.length_penalty,
                "no_repeat_ngram_size": result.no_repeat_ngram_size or 0,
            }
        )

    def overridden_by(self, overrides: GenerationOptions) -> GenerationOptions:
        """These options with every field that ``overrides`` sets explicitly (and not to None)
        replaced."""
        return self.model_copy(
            update={
                name: getattr(overrides, name)
                for name in overrides.model_fields_set
                if getattr(overrides, name) is not None
            }
        )


class TextPredictConfig(StrictModel):
    """``seq2seq-es predict model=DIR input=FILE|-``: generate for your own texts into JSONL."""

    model: str = Field(
        description="A model folder (save_pretrained, or a CTranslate2 export with engine=ct2)."
    )
    input: str = Field(
        description="A text file (one input a line), a JSONL(.gz) file, or - for stdin."
    )
    output: str | None = Field(None, description="JSONL file to write (None: stdout).")
    input_format: Literal["auto", "text", "jsonl"] = Field(
        "auto",
        description="auto: JSONL for .jsonl/.jsonl.gz files (and stdin starting with '{'), else "
        "text.",
    )
    input_key: str | None = Field(
        None, description="JSONL field with the text (default: text, else source)."
    )
    engine: EngineName = "transformers"
    threads: int | None = Field(
        None, ge=1, description="CPU threads (None: the library's default)."
    )
    batch_size: int = Field(32, ge=1, description="Texts per generate call (sorted by length).")
    max_tokens: int | None = Field(
        None,
        ge=1,
        description="Padded source tokens per generate call (None: no budget); batch_size stays "
        "the cap on texts (fairseq's --max-tokens and --batch-size).",
    )
    sort_window: int = Field(
        1024, ge=1, description="Inputs sorted by length together; output keeps input order."
    )
    scores: bool = Field(False, description="Add each output's log-probability and token count.")
    resume: bool = Field(
        False, description="Continue an interrupted run after the last id written."
    )
    progress: bool = True
    generation: GenerationOptions = GenerationOptions()

    @field_validator("input", mode="before")
    @classmethod
    def _stdin_dash(cls, value: object) -> object:
        # ``input=-`` on the command line is read as YAML, where "-" is a list of one null.
        return "-" if value == [None] else value

    @field_validator("model", "input")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value


MODEL_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class ServeLimits(StrictModel):
    """What one request may ask for; anything beyond gets a 4xx that names the limit."""

    max_request_bytes: int = Field(262_144, ge=1024, description="Request body size (413 beyond).")
    max_inputs: int = Field(32, ge=1, description="Texts in one request.")
    max_input_chars: int = Field(
        20_000, ge=1, description="Characters in one text (checked before tokenizing)."
    )
    max_input_tokens: int = Field(1024, ge=1, description="Tokens in one text.")
    max_new_tokens: int = Field(256, ge=1)
    max_num_beams: int = Field(8, ge=1)
    max_queued_inputs: int = Field(
        1024, ge=1, description="Texts waiting for the model (429 beyond)."
    )
    request_timeout_s: float = Field(
        60.0,
        gt=0.0,
        description="A request waiting longer gets 503; one that could not be answered in this "
        "time behind the queued work gets 429 at once.",
    )
    max_work: int = Field(
        16_384,
        ge=1,
        description="inputs × beams × new tokens of one request (422 beyond): one request "
        "cannot hold the model for minutes.",
    )
    degraded_queued_inputs: int = Field(
        256,
        ge=0,
        description="Texts waiting beyond which /health says degraded and /health/ready is 503.",
    )
    long_inputs: Literal["refuse", "truncate"] = Field(
        "refuse",
        description="A text longer than the model's source length: refuse it (422 naming both "
        "lengths) or cut it there as the model was trained, marking the output truncated: true.",
    )
    read_timeout_s: float = Field(
        10.0,
        gt=0.0,
        description="A request's headers, and then its body, must arrive within this time (408).",
    )
    keep_alive_timeout_s: int = Field(
        5, ge=1, description="An idle kept-alive connection is closed after this many seconds."
    )
    max_connections: int = Field(
        512, ge=1, description="Open connections; one more is answered 503 and closed."
    )
    shutdown_grace_s: float = Field(
        10.0,
        ge=0.0,
        description="On SIGTERM, in-flight work may finish this long; the rest is cancelled (503).",
    )


class BatchingConfig(StrictModel):
    """Dynamic batching: requests that arrive while the model is busy share its next generate
    call."""

    max_batch_size: int = Field(
        32, ge=1, description="Texts per generate call (1: batch-1 serving)."
    )
    max_wait_ms: float = Field(
        2.0, ge=0.0, description="How long a batch that is not full waits for more."
    )
    chunk_size: int = Field(
        8,
        ge=1,
        description="A request is decoded in chunks of this many texts, interleaved with other "
        "requests' chunks, so a large request cannot make a small one wait for all of it.",
    )


class ServeConfig(StrictModel):
    """``seq2seq-es serve model=DIR``: the HTTP API and the web page over one or more model
    folders."""

    model: str | None = Field(None, description="A model folder, served as 'default'.")
    models: dict[str, str] = Field(
        default_factory=dict, description="More folders by name (e.g. translate: DIR)."
    )
    engine: EngineName = "transformers"
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    threads: int | None = Field(
        None, ge=1, description="CPU threads (None: the library's default)."
    )
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"
    limits: ServeLimits = ServeLimits()
    batching: BatchingConfig = BatchingConfig()
    generation: GenerationOptions = GenerationOptions()

    @model_validator(mode="after")
    def _some_model(self) -> ServeConfig:
        if self.model is None and not self.models:
            raise ValueError("name a model folder: model=DIR (or models.NAME=DIR for several)")
        if self.model is not None and "default" in self.models:
            raise ValueError("model=DIR is served as 'default'; do not also set models.default")
        for name in self.models:
            if not _valid_name(name):
                raise ValueError(f"model name {name!r} must match {MODEL_NAME_PATTERN}")
        return self

    def model_folders(self) -> dict[str, str]:
        """Served name → folder, in the order given (``model`` first, as 'default')."""
        return ({"default": self.model} if self.model is not None else {}) | dict(self.models)


def _valid_name(name: str) -> bool:
    return re.fullmatch(MODEL_NAME_PATTERN, name) is not None
