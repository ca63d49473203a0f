"""Engines: one interface over the ways we run a model (transformers ``generate``, CTranslate2).

Why an interface: ``predict`` on your own text, the HTTP server and the benchmarks
decode with whichever engine the user picks (``engine=ct2`` for the int8 export) and must
not care which. The contract every engine keeps:

* attributes ``name``, ``tokenizer`` (a transformers tokenizer) and ``max_source_length``
  (inputs are cut to this many tokens);
* ``generate(texts, options, control)`` decodes all ``texts`` in one call (callers batch; the
  optional ``decode_control.DecodeControl`` stops it between steps or streams one text's
  tokens) and returns,
  per text and in order, ``{"text": str, "tokens": int, "score": float | None}``. ``options``
  fields left None take the model's defaults (its task's decoding: ``model_defaults.py`` for
  a model folder, the export's record for CTranslate2). ``tokens`` counts the generated
  tokens, the end token included and the decoder start token not. ``score`` is
  log p(output | input) under the model: the sum of the log-softmax of the raw logits over
  those tokens, before any temperature, top-k/p or n-gram processing; an engine may leave it
  None unless ``options.output_scores``.

Models load only from a local folder with safetensors weights, never with remote code:
a server must not unpickle files or run code that a model folder brings.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from seq2seq_es.errors import CheckpointError, ConfigError
from seq2seq_es.inference.config import GenerationOptions
from seq2seq_es.inference.decode_control import NO_CONTROL, DecodeControl
from seq2seq_es.inference.model_defaults import ModelDefaults, TaskLookup, read_model_defaults

ENGINES = ("transformers", "ct2")


class Engine(Protocol):
    """What ``predict``, ``serve`` and the benchmarks need of a model runner."""

    name: str
    tokenizer: Any
    max_source_length: int

    def generate(
        self, texts: Sequence[str], options: GenerationOptions, control: DecodeControl = ...
    ) -> list[dict[str, Any]]: ...


def load_engine(
    model_dir: str | Path,
    engine: str = "transformers",
    threads: int | None = None,
    task_defaults: TaskLookup | None = None,
) -> Engine:
    """Open ``model_dir`` with ``engine``.

    ``task_defaults`` looks up a task's decoding settings, for a fine-tuned folder whose run
    names its task (``model_defaults.read_model_defaults``); a CTranslate2 export carries the
    settings it was exported with.

    ``threads`` is CTranslate2's per-model thread count. torch's thread count is
    process-wide, so the transformers engine leaves it alone: the entry point (the
    ``predict``/``serve`` command, a benchmark) calls ``torch.set_num_threads``.
    """
    if engine == "transformers":
        defaults = read_model_defaults(require_local_safetensors(model_dir), task_defaults)
        return TransformersEngine(model_dir, defaults=defaults)
    if engine == "ct2":
        from seq2seq_es.inference.ct2_engine import CT2Engine

        return CT2Engine(model_dir, threads=threads)
    raise ConfigError(f"Unknown engine {engine!r}. Valid engines: {', '.join(ENGINES)}.")


def require_local_safetensors(model_dir: str | Path) -> Path:
    """``model_dir`` as a local folder holding a config and safetensors weights, or a
    CheckpointError."""
    folder = Path(model_dir).expanduser()
    if not folder.is_dir():
        raise CheckpointError(
            f"{folder}: no such model folder. Pass a folder written by `seq2seq-es finetune` "
            "or `save_pretrained` (hub ids are not served: download the folder first)."
        )
    if not (folder / "config.json").is_file():
        raise CheckpointError(
            f"{folder}: config.json missing, so this is not a model folder. Pass the folder "
            "that holds config.json and model.safetensors (e.g. runs/finetune/model)."
        )
    if not any(
        (folder / name).is_file() for name in ("model.safetensors", "model.safetensors.index.json")
    ):
        if (folder / "model.bin").is_file() and (folder / "seq2seq_es_export.json").is_file():
            raise CheckpointError(
                f"{folder} is a CTranslate2 export (model.bin, seq2seq_es_export.json): decode "
                "it with engine=ct2."
            )
        raise CheckpointError(
            f"{folder}: no model.safetensors. Only safetensors weights are loaded (pickled "
            "*.bin files can run code); re-save the model with `save_pretrained` "
            "(safetensors is its default)."
        )
    return folder


class TransformersEngine:
    """``model.generate`` on CPU (or wherever torch puts the model), in fp32 as trained."""

    name = "transformers"

    def __init__(self, model_dir: str | Path, defaults: ModelDefaults | None = None) -> None:
        from seq2seq_es.models.loading import load_seq2seq

        folder = require_local_safetensors(model_dir)
        self.model, self.tokenizer = load_seq2seq(folder)
        self.model.eval()
        implied = defaults or read_model_defaults(folder)
        self.defaults = implied.generation
        self.max_source_length = implied.max_source_length
        self.task = implied.task
        eos = self.model.generation_config.eos_token_id
        self._eos_ids = set(eos if isinstance(eos, list) else [eos]) - {None}
        self._pad_id = self.model.generation_config.pad_token_id

    def generate(
        self,
        texts: Sequence[str],
        options: GenerationOptions,
        control: DecodeControl = NO_CONTROL,
    ) -> list[dict[str, Any]]:
        """See ``engines``; ``control`` may stop the decoding between steps or stream its tokens
        (one text, no beam search: transformers streams only those)."""
        import torch

        from seq2seq_es.inference.transformers_control import control_kwargs

        if not texts:
            return []
        settings = options.resolved(self.defaults)
        batch = self.tokenizer(
            list(texts),
            max_length=self.max_source_length,
            truncation=True,
            padding=True,
            return_tensors="pt",
        )
        with torch.inference_mode(), torch.random.fork_rng(devices=[]):
            if settings.seed is not None:
                torch.manual_seed(settings.seed)
            sequences = self.model.generate(
                **batch, **generate_kwargs(settings), **control_kwargs(control)
            )
            lengths = [self._generated_length(row) for row in sequences[:, 1:].tolist()]
            scores = (
                self._log_probs(batch, sequences, lengths)
                if settings.output_scores
                else [None] * len(texts)
            )
        decoded = self.tokenizer.batch_decode(sequences, skip_special_tokens=True)
        return [
            {"text": text.strip(), "tokens": length, "score": score}
            for text, length, score in zip(decoded, lengths, scores, strict=True)
        ]

    def _generated_length(self, generated: list[int]) -> int:
        """Tokens up to and including the first end token (the rest is padding)."""
        for position, token in enumerate(generated):
            if token in self._eos_ids:
                return position + 1
        while generated and generated[-1] == self._pad_id:
            generated = generated[:-1]
        return len(generated)

    def _log_probs(self, batch: Any, sequences: Any, lengths: list[int]) -> list[float]:
        """Teacher-forced log p(output | input): one forward pass over the generated sequences."""
        import torch

        logits = self.model(**batch, decoder_input_ids=sequences[:, :-1]).logits
        token_log_probs = (
            torch.log_softmax(logits.float(), dim=-1)
            .gather(-1, sequences[:, 1:].unsqueeze(-1))
            .squeeze(-1)
        )
        scored = torch.tensor(lengths)
        mask = torch.arange(token_log_probs.shape[1]).unsqueeze(0) < scored.unsqueeze(1)
        return [float(value) for value in (token_log_probs * mask).sum(dim=1)]


def generate_kwargs(settings: GenerationOptions) -> dict[str, Any]:
    """``model.generate`` arguments for resolved options; only those that apply are passed
    (transformers warns about sampling knobs without sampling and penalties without beams)."""
    kwargs: dict[str, Any] = {
        "max_new_tokens": settings.max_new_tokens,
        "num_beams": settings.num_beams,
        "do_sample": settings.do_sample,
        "no_repeat_ngram_size": settings.no_repeat_ngram_size,
    }
    if settings.num_beams and settings.num_beams > 1:
        kwargs["length_penalty"] = settings.length_penalty
    if settings.do_sample:
        # top_k=0 switches transformers' top-k (default 50) off: the whole vocabulary, as in ct2.
        kwargs.update(temperature=settings.temperature, top_k=settings.top_k, top_p=settings.top_p)
    return kwargs
