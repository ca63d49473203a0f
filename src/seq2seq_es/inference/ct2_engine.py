"""Generation with a CTranslate2 export (``seq2seq-es export``): ``generate``'s outputs, faster.

Why the settings below: CTranslate2 decodes like transformers' ``generate`` only when told
what ``generate`` does by default (checked with ctranslate2 4.8.5 and transformers 5.24):

* ``min_decoding_length`` defaults to 1 in CTranslate2, 0 in transformers: we pass 0 (or
  ``min_new_tokens``: both forbid the end token for that many steps; greedy outputs are
  identical, tested; a beam search over a model that wants to stop earlier can differ).
* transformers divides a finished beam's log-probability by its length *including* ``</s>``
  (``length_penalty``); CTranslate2 counts ``</s>`` only with ``return_end_token=True``, so
  we ask for the end token and drop it when decoding.
* BART forces ``</s>`` as the last of ``max_new_tokens`` (``forced_eos_token_id``).
  CTranslate2 has no such rule, so it decodes one token fewer and the forced ``</s>`` is
  added here; in a beam search the finished hypotheses are re-ranked with the forced
  token's length (``_forced_eos_choice``).
* CTranslate2 ends a beam search once ``num_beams`` hypotheses are finished (``patience=1``),
  as ``generate(early_stopping=True)`` and fairseq do: with that setting the outputs are
  identical (tested). ``generate``'s default, ``early_stopping=False``, may search on and
  find a longer hypothesis with a better per-token score; no CTranslate2 option reproduces
  that heuristic, so beam outputs can differ from ``engine=transformers`` there (measured
  in ``tests/inference/test_ct2_parity.py`` and benchmarks/RESULTS.md).
* ``no_repeat_ngram_size`` in a beam search: CTranslate2 renormalises the log-probabilities
  over the tokens it leaves allowed, transformers does not, so beams are ranked differently;
  greedy outputs with n-gram blocking are identical (tested).
* ``score`` is computed as the transformers engine defines it (raw log-softmax, no
  sampling or n-gram processing) by a teacher-forced pass (``score_batch``) over the output.

Text goes in and out through the Hugging Face tokenizer saved with the export, the same one
``engine=transformers`` uses; the decoding defaults come from the export's
``generation_config.json`` and ``tokenizer_config.json``, read as for a model folder
(``folder_decoding``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from seq2seq_es.errors import CheckpointError
from seq2seq_es.inference.config import GenerationOptions
from seq2seq_es.inference.decode_control import NO_CONTROL, DecodeControl
from seq2seq_es.inference.folder_decoding import read_decoding_defaults, read_source_length

EXPORT_INFO_FILE = "seq2seq_es_export.json"
UNSEEDED = 2**32 - 1  # CTranslate2's "no seed": each generator draws from std::random_device


def read_export_info(folder: Path) -> dict[str, Any]:
    """The ``seq2seq_es_export.json`` of an export folder, or an error saying how to make one."""
    path = folder / EXPORT_INFO_FILE
    if not (folder / "model.bin").is_file() or not path.is_file():
        is_model = any(folder.glob("*.safetensors*"))
        source = folder if is_model else "MODEL_FOLDER"
        export = folder.parent / f"{folder.name}-ct2"
        raise CheckpointError(
            f"{folder}: not a CTranslate2 export of this project (it needs model.bin and "
            f"{EXPORT_INFO_FILE}){'; it is a transformers model folder' if is_model else ''}. "
            "Use engine=transformers with the model folder itself, or export it into a new "
            f"folder: `seq2seq-es export model={source} output_dir={export}`, then "
            f"engine=ct2 model={export}."
        )
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: unreadable ({exc}); export the model again.") from None
    if not isinstance(info, dict) or not isinstance(info.get("generation_rules"), dict):
        raise CheckpointError(
            f"{path}: no 'generation_rules' section; export the model again with "
            "`seq2seq-es export`."
        )
    return info


class CT2Engine:
    """A CTranslate2 ``Translator`` behind the engine interface of ``inference.engines``.

    ``compute_type=None`` runs the weight type of the export (int8 stays int8); ``threads``
    is CTranslate2's intra-op thread count (None: its default).
    """

    name = "ct2"

    def __init__(
        self,
        model_dir: str | Path,
        device: str = "cpu",
        compute_type: str | None = None,
        threads: int | None = None,
    ) -> None:
        import ctranslate2
        from transformers import AutoTokenizer

        folder = Path(model_dir)
        self.info = read_export_info(folder)
        self.defaults = read_decoding_defaults(folder)[0]
        self.max_source_length = read_source_length(folder)
        self.tokenizer: Any = AutoTokenizer.from_pretrained(str(folder))
        self._open = functools.partial(
            ctranslate2.Translator,
            str(folder),
            device=device,
            compute_type=compute_type or "default",
            intra_threads=threads or 0,
        )
        self.translator = self._open()
        self.forces_eos = self.info["generation_rules"].get("forced_eos_token_id") is not None

    def source_tokens(self, texts: Sequence[str]) -> list[list[str]]:
        """Token strings of each text as the model's tokenizer makes them (special tokens
        included)."""
        ids = self.tokenizer(list(texts), truncation=True, max_length=self.max_source_length)[
            "input_ids"
        ]
        return [self.tokenizer.convert_ids_to_tokens(row) for row in ids]

    def translate_options(self, settings: GenerationOptions) -> dict[str, Any]:
        """``translate_batch`` keyword arguments that reproduce ``generate`` with resolved
        ``settings``."""
        assert settings.max_new_tokens is not None and settings.num_beams is not None, (
            "resolve the options first"
        )
        options: dict[str, Any] = {
            "beam_size": settings.num_beams,
            "patience": 1.0,
            "length_penalty": settings.length_penalty,
            "no_repeat_ngram_size": settings.no_repeat_ngram_size,
            "min_decoding_length": settings.min_new_tokens or 0,
            "max_decoding_length": settings.max_new_tokens - 1
            if self.forces_eos
            else settings.max_new_tokens,
            "max_input_length": 0,  # inputs are already cut by the tokenizer, as generate's are
            "return_end_token": True,
        }
        if settings.do_sample:
            options.update(
                sampling_topk=settings.top_k,
                sampling_topp=settings.top_p,
                sampling_temperature=settings.temperature,
            )
        return options

    def generate(
        self,
        texts: Sequence[str],
        options: GenerationOptions,
        control: DecodeControl = NO_CONTROL,
    ) -> list[dict[str, Any]]:
        """Per text: ``text``, ``tokens`` (generated, ``</s>`` included) and ``score`` (see
        ``engines``). ``control`` acts through CTranslate2's step callback, which exists for
        greedy and sampled decoding only: a beam search runs to its end."""
        if not texts:
            return []
        settings = options.resolved(self.defaults)
        translate = self.translate_options(settings)
        if translate["beam_size"] == 1 and control is not NO_CONTROL:
            translate["callback"] = self._step_callback(control)
        sources = self.source_tokens(texts)
        if (
            translate["max_decoding_length"] == 0
        ):  # max_new_tokens=1 with a forced </s>: nothing to decode
            hypotheses: list[list[str]] = [[] for _ in texts]
        elif settings.do_sample and settings.seed is not None:
            hypotheses = self._seeded_sample(sources, translate, settings.seed)
        elif self.forces_eos and translate["beam_size"] > 1 and not settings.do_sample:
            translate.update(num_hypotheses=settings.num_beams, return_scores=True)
            hypotheses = [
                self._forced_eos_choice(result, translate)
                for result in self.translator.translate_batch(sources, **translate)
            ]
        else:
            hypotheses = [
                list(result.hypotheses[0])
                for result in self.translator.translate_batch(sources, **translate)
            ]
        eos = self.tokenizer.eos_token
        for tokens in hypotheses:
            if (
                self.forces_eos
                and tokens[-1:] != [eos]
                and len(tokens) == translate["max_decoding_length"]
            ):
                tokens.append(eos)  # the </s> that generate forces at the limit
        texts_out = [
            self.tokenizer.decode(
                self.tokenizer.convert_tokens_to_ids(tokens), skip_special_tokens=True
            )
            for tokens in hypotheses
        ]
        scores = (
            self._log_probs(sources, hypotheses) if settings.output_scores else [None] * len(texts)
        )
        return [
            {"text": text.strip(), "tokens": len(tokens), "score": score}
            for text, tokens, score in zip(texts_out, hypotheses, scores, strict=True)
        ]

    def _step_callback(self, control: DecodeControl) -> Any:
        def on_step(step: Any) -> bool:
            if control.on_token is not None:
                control.on_token(int(self.tokenizer.convert_tokens_to_ids(step.token)))
            return bool(control.should_stop())

        return on_step

    def _forced_eos_choice(self, result: Any, translate: dict[str, Any]) -> list[str]:
        """The finished beam ``generate`` picks when ``</s>`` is forced at the limit.

        There, each running beam gets ``</s>`` with log-probability 0 one step after
        CTranslate2 stops, so its sum is divided by one more token (``length_penalty``);
        beams that ended by themselves keep their score. The best of the kept hypotheses
        under that rule is ``generate``'s choice (the limit beams keep their order, so the
        best of them is among those CTranslate2 returns).
        """
        limit, penalty, eos = (
            translate["max_decoding_length"],
            translate["length_penalty"],
            self.tokenizer.eos_token,
        )

        def generate_score(tokens: list[str], score: float) -> float:
            if len(tokens) == limit and tokens[-1:] != [eos]:
                return score * (len(tokens) / (len(tokens) + 1)) ** penalty
            return score

        best = max(
            range(len(result.hypotheses)),
            key=lambda i: generate_score(result.hypotheses[i], result.scores[i]),
        )
        return list(result.hypotheses[best])

    def _seeded_sample(
        self, sources: list[list[str]], translate: dict[str, Any], seed: int
    ) -> list[list[str]]:
        """Sample with a fresh translator, so that the same seed gives the same outputs.

        CTranslate2 seeds each worker thread's generator once, when that thread first samples
        (a ``thread_local`` generator seeded from ``set_random_seed``): a translator that has
        sampled before cannot be reseeded. A new translator has new threads; it costs one
        model load per seeded call. The process-wide seed is reset afterwards so that
        unseeded sampling stays random.
        """
        import ctranslate2

        ctranslate2.set_random_seed(seed)
        try:
            translator = self._open()
            return [
                list(result.hypotheses[0])
                for result in translator.translate_batch(sources, **translate)
            ]
        finally:
            ctranslate2.set_random_seed(UNSEEDED)

    def _log_probs(self, sources: list[list[str]], outputs: list[list[str]]) -> list[float | None]:
        """log p(output | source): teacher-forced raw log-probabilities of the output tokens,
        ``</s>`` included."""
        eos = self.tokenizer.eos_token
        targets = [tokens[:-1] if tokens and tokens[-1] == eos else tokens for tokens in outputs]
        results = self.translator.score_batch(sources, targets, max_input_length=0)
        # score_batch always scores a final </s>; an output cut at the limit without one does not
        # have it.
        return [
            float(sum(result.log_probs[: len(tokens)]))
            for result, tokens in zip(results, outputs, strict=True)
        ]

    def token_log_probs(self, sources: Sequence[str], targets: Sequence[str]) -> list[list[float]]:
        """Teacher-forced log-probability of each target token (``</s>`` included), per pair: the
        quantity the transformers model gives for ``labels`` (used to check the conversion)."""
        target_ids = self.tokenizer(text_target=list(targets))["input_ids"]
        eos_id = self.tokenizer.eos_token_id
        target_tokens = [
            self.tokenizer.convert_ids_to_tokens(row[:-1] if row and row[-1] == eos_id else row)
            for row in target_ids
        ]
        results = self.translator.score_batch(
            self.source_tokens(sources), target_tokens, max_input_length=0
        )
        return [list(result.log_probs) for result in results]
