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
  fields left None take the model's defaults (what its folder says: ``folder_decoding.py``;
  ``eval`` and ``finetune`` give the task's). ``tokens`` counts the generated
  tokens, the end token included and the decoder start token not. ``score`` is
  log p(output | input) under the model: the sum of the log-softmax of the raw logits over
  those tokens, before any temperature, top-k/p or n-gram processing; an engine may leave it
  None unless ``options.output_scores``.

``generate_in_length_order`` is the one way many texts are decoded (``predict``, ``eval``,
``finetune``): batches of texts of similar length, so a batch pads little, optionally within a
token budget (``length_batches``).

Models load only from a local folder with safetensors weights, never with remote code:
a server must not unpickle files or run code that a model folder brings.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from seq2seq_es.errors import CheckpointError, ConfigError
from seq2seq_es.inference.config import GenerationOptions
from seq2seq_es.inference.decode_control import NO_CONTROL, DecodeControl
from seq2seq_es.inference.folder_decoding import read_decoding_defaults, read_source_length
from seq2seq_es.inference.length_batches import length_sorted_batches

ENGINES = ("transformers", "ct2")
KV_CACHES = ("dynamic", "static", "static-compiled")  # the transformers engine's ``cache``


class Engine(Protocol):
    """What ``predict``, ``serve`` and the benchmarks need of a model runner."""

    name: str
    tokenizer: Any
    max_source_length: int

    def generate(
        self, texts: Sequence[str], options: GenerationOptions, control: DecodeControl = ...
    ) -> list[dict[str, Any]]: ...


def load_engine(
    model_dir: str | Path, engine: str = "transformers", threads: int | None = None
) -> Engine:
    """Open ``model_dir`` with ``engine``; its decoding defaults are what the folder says.

    ``threads`` is CTranslate2's per-model thread count. torch's thread count is
    process-wide, so the transformers engine leaves it alone: the entry point (the
    ``predict``/``serve`` command, a benchmark) calls ``torch.set_num_threads``.
    """
    if engine == "transformers":
        return TransformersEngine.from_folder(model_dir)
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
    """``model.generate`` on CPU (or wherever torch puts the model), in fp32 as trained.

    Built over a loaded model (``eval`` and ``finetune`` pass theirs, with the task's
    decoding as ``defaults``) or from a folder (``from_folder``). A model in training mode
    is put in eval mode for each call and back afterwards.
    """

    name = "transformers"

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        defaults: GenerationOptions,
        max_source_length: int,
        cache: str = "dynamic",
    ) -> None:
        if cache not in KV_CACHES:
            raise ConfigError(f"Unknown cache {cache!r}. Valid caches: {', '.join(KV_CACHES)}.")
        self.model = model
        self.tokenizer = tokenizer
        self.defaults = defaults
        self.max_source_length = max_source_length
        self.cache = cache
        eos = self.model.generation_config.eos_token_id
        self._eos_ids = set(eos if isinstance(eos, list) else [eos]) - {None}
        self._pad_id = self.model.generation_config.pad_token_id

    @classmethod
    def from_folder(cls, model_dir: str | Path) -> TransformersEngine:
        """The model of a local safetensors folder, with the decoding its folder describes."""
        from seq2seq_es.models.loading import load_seq2seq

        folder = require_local_safetensors(model_dir)
        model, tokenizer = load_seq2seq(folder)
        return cls(model, tokenizer, read_decoding_defaults(folder)[0], read_source_length(folder))

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
        ).to(self.model.device)  # the tokenizer gives CPU tensors; a GPU model needs its own
        # a seeded sample must not move the training's random streams, the GPU's included
        gpu = [self.model.device] if self.model.device.type == "cuda" else []
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.inference_mode(), torch.random.fork_rng(devices=gpu):
                if settings.seed is not None:
                    torch.manual_seed(settings.seed)
                sequences = self.model.generate(
                    **batch,
                    **generate_kwargs(settings),
                    **cache_kwargs(self.cache),
                    **control_kwargs(control),
                )
                lengths = [self._generated_length(row) for row in sequences[:, 1:].tolist()]
                scores = (
                    self._log_probs(batch, sequences, lengths)
                    if settings.output_scores
                    else [None] * len(texts)
                )
        finally:
            self.model.train(was_training)
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
        device = token_log_probs.device
        scored = torch.tensor(lengths, device=device)
        positions = torch.arange(token_log_probs.shape[1], device=device)
        mask = positions.unsqueeze(0) < scored.unsqueeze(1)
        return [float(value) for value in (token_log_probs * mask).sum(dim=1)]


def cache_kwargs(cache: str) -> dict[str, Any]:
    """``model.generate`` arguments of a KV cache kind (``KV_CACHES``).

    ``static`` preallocates the decoder's self-attention cache at the full output length
    (transformers' ``StaticCache``, cross-attention sized to the batch's source);
    ``static-compiled`` also runs each decoding step through ``torch.compile``, which
    transformers does by itself only on accelerators (``_valid_auto_compile_criteria``):
    ``_compile_all_devices`` asks for it on CPU too. Outputs equal the dynamic cache's; the
    speed is measured in ``benchmarks/bench_decode.py`` (RESULTS.md).
    """
    if cache == "dynamic":
        return {}
    if cache == "static":
        return {"cache_implementation": "static"}
    from transformers import CompileConfig

    compiled = CompileConfig()
    compiled._compile_all_devices = True  # type: ignore[assignment]  # declared None
    return {"cache_implementation": "static", "compile_config": compiled}


def generate_kwargs(settings: GenerationOptions) -> dict[str, Any]:
    """``model.generate`` arguments for resolved options; only those that apply are passed
    (transformers warns about sampling knobs without sampling and penalties without beams)."""
    kwargs: dict[str, Any] = {
        "max_new_tokens": settings.max_new_tokens,
        "num_beams": settings.num_beams,
        "do_sample": settings.do_sample,
        "no_repeat_ngram_size": settings.no_repeat_ngram_size,
    }
    if settings.min_new_tokens:
        kwargs["min_new_tokens"] = settings.min_new_tokens
    if settings.num_beams and settings.num_beams > 1:
        kwargs["length_penalty"] = settings.length_penalty
    if settings.do_sample:
        # top_k=0 switches transformers' top-k (default 50) off: the whole vocabulary, as in ct2.
        kwargs.update(temperature=settings.temperature, top_k=settings.top_k, top_p=settings.top_p)
    return kwargs


def generate_in_length_order(
    engine: Engine,
    texts: Sequence[str],
    options: GenerationOptions,
    batch_size: int,
    advance: Callable[[int], object] | None = None,
    max_tokens: int | None = None,
) -> list[dict[str, Any]]:
    """``engine.generate`` over ``texts`` in batches of similar length; results in input order.

    Texts are sorted by length in characters (stable: equal lengths keep their order) and
    cut into batches of ``batch_size``, so a batch pads little: the speed of decoding a
    whole split. ``max_tokens`` also caps each batch's padded source tokens
    (``length_batches``): more short texts a batch, fewer long ones. ``advance(n)`` is told
    each finished batch's size (a progress bar).
    """
    counts = source_token_counts(engine, texts) if max_tokens is not None else None
    results: list[dict[str, Any]] = [{}] * len(texts)
    for chunk in length_sorted_batches(texts, batch_size, max_tokens, counts):
        for i, result in zip(
            chunk, engine.generate([texts[i] for i in chunk], options), strict=True
        ):
            results[i] = result
        if advance is not None:
            advance(len(chunk))
    return results


def source_token_counts(engine: Engine, texts: Sequence[str]) -> list[int]:
    """Each text's token count as the engine encodes it (special tokens in, cut at its source
    length): the rows of the padded source tensor."""
    encoded = engine.tokenizer(list(texts), max_length=engine.max_source_length, truncation=True)[
        "input_ids"
    ]
    return [len(ids) for ids in encoded]
