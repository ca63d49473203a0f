"""KenLM perplexity per document and BERTIN's Gaussian perplexity sampling.

BERTIN (de la Rosa et al. 2022) sampled mC4-es by the perplexity a KenLM model trained
on Spanish Wikipedia gives each document (cc_net's model, Wenzek et al. 2020), keeping
a document with probability ``factor * exp(-((ppl - median) / median)^2 / width)``:
mid-perplexity text is kept, both very "Wikipedia-like" (often boilerplate, lists) and
very unusual text are thinned out. Perplexity is computed as cc_net does: per line,
``10 ** (-sum(log10 scores) / sum(words + 1))`` on normalized text.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.writers.disk_base import DiskWriter

from seq2seq_es.corpus.steps import CharCountingFilter
from seq2seq_es.errors import ConfigError

_DIGITS = re.compile(r"\d")
# cc_net's text_normalizer.UNICODE_PUNCT (subset that matters for Spanish text).
_UNICODE_PUNCT = str.maketrans(
    {
        "，": ",",
        "。": ".",
        "、": ",",
        "„": '"',
        "”": '"',
        "“": '"',
        "«": '"',
        "»": '"',
        "：": ":",
        "？": "?",
        "！": "!",
        "（": "(",
        "）": ")",
        "；": ";",
        "–": "-",
        "—": " - ",
        "．": ". ",
        "～": "~",
        "’": "'",
        "…": "...",
        "━": "-",
        "〈": "<",
        "〉": ">",
        "【": "[",
        "】": "]",
        "％": "%",
        "►": "-",
    }
)


def cc_net_normalize(line: str) -> str:
    """cc_net's ``normalize(line, accent=True, case=True, numbers=True, punct=1)``.

    Lower case, accents stripped (NFD, combining marks removed), every digit → 0,
    Unicode punctuation mapped to ASCII: the text the cc_net/BERTIN models were trained on.
    """
    line = line.strip().lower()
    line = "".join(
        ch for ch in unicodedata.normalize("NFD", line) if unicodedata.category(ch) != "Mn"
    )
    line = _DIGITS.sub("0", line)
    return line.translate(_UNICODE_PUNCT)


def document_perplexity(score: Callable[[str], float], lines: Iterable[str]) -> float:
    """cc_net's document perplexity from a KenLM ``score(sentence)`` (log10, with <s> and </s>)."""
    log_score, length = 0.0, 0
    for line in lines:
        if not line:
            continue
        log_score += score(line)
        length += len(line.split()) + 1
    return 10.0 ** (-log_score / length) if length else math.inf


def gaussian_keep_probability(
    perplexity: float, median: float, width: float = 4.5, factor: float = 0.78
) -> float:
    """BERTIN's "Gaussian" sampling weight for a document of this perplexity."""
    return factor * math.exp(-(((perplexity - median) / median) ** 2) / width)


def uniform_from_id(doc_id: str, seed: int) -> float:
    """A uniform number in [0, 1) fixed by (seed, document id).

    Why not a running RNG: a document's fate must not depend on which task read it or
    in what order, so a resumed or re-sharded run samples exactly the same documents.
    """
    digest = hashlib.blake2b(f"{seed}:{doc_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") / 2**64


class PerplexityScorer(PipelineStep):
    """Add ``metadata["perplexity"]`` from a KenLM model (optionally after SentencePiece)."""

    type = "📉 - SCORER"
    name = "📉 perplexity (KenLM)"

    def __init__(
        self,
        model: str,
        sentencepiece_model: str | None = None,
        normalize: bool = True,
        values_folder: str | None = None,
    ) -> None:
        super().__init__()
        self.values_folder = (
            values_folder  # per-rank .npy of perplexities, for the quartiles in stats.json
        )
        for path in (model, sentencepiece_model):
            if path is not None and not Path(path).is_file():
                raise ConfigError(
                    f"perplexity model file {path} not found. Pass a KenLM .arpa/.bin model "
                    "(e.g. BERTIN's/cc_net's es.arpa.bin) and, for it, es.sp.model."
                )
        self.model_path, self.sp_path, self.normalize = model, sentencepiece_model, normalize
        self._model: Any = None
        self._sp: Any = None

    def _load(self) -> None:
        import kenlm

        self._model = kenlm.Model(self.model_path)
        if self.sp_path:
            import sentencepiece

            self._sp = sentencepiece.SentencePieceProcessor(model_file=self.sp_path)

    def _prepare(self, line: str) -> str:
        if self.normalize:
            line = cc_net_normalize(line)
        if self._sp is not None and line:
            line = " ".join(self._sp.encode(line, out_type=str))
        return line

    def perplexity(self, text: str) -> float:
        if self._model is None:
            self._load()
        return document_perplexity(
            self._model.score, (self._prepare(line) for line in text.split("\n"))
        )

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        values: list[float] = []
        for doc in data:
            with self.track_time():
                perplexity = self.perplexity(doc.text)
                doc.metadata["perplexity"] = round(perplexity, 2)
                if math.isfinite(perplexity):
                    self.stat_update("perplexity", value=perplexity)
                    values.append(perplexity)
            yield doc
        if self.values_folder is not None:
            folder = Path(self.values_folder)
            folder.mkdir(parents=True, exist_ok=True)
            np.save(folder / f"{rank:05d}.npy", np.asarray(values, dtype=np.float64))


class GaussianPerplexitySampler(CharCountingFilter):
    """Keep a document with BERTIN's Gaussian probability of its perplexity (seeded per id).

    Only sources listed in ``sources`` are sampled (BERTIN sampled mC4, not curated text);
    ``None`` samples all. Drop reason: ``perplexity_sampling``.
    """

    name = "🎲 perplexity sampling"

    def __init__(
        self,
        median: float,
        width: float,
        factor: float,
        seed: int,
        sources: set[str] | None = None,
        exclusion_writer: DiskWriter | None = None,
    ) -> None:
        super().__init__(exclusion_writer)
        self.median, self.width, self.factor, self.seed, self.sources = (
            median,
            width,
            factor,
            seed,
            sources,
        )

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        if self.sources is not None and doc.metadata.get("corpus_source") not in self.sources:
            return True
        keep = gaussian_keep_probability(
            doc.metadata["perplexity"], self.median, self.width, self.factor
        )
        return (
            True
            if uniform_from_id(str(doc.id), self.seed) < keep
            else (False, "perplexity_sampling")
        )
