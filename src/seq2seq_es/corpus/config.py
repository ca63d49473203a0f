"""The ``corpus`` command's config: sources, filter thresholds, dedup, perplexity, executor.

Every threshold lives here with its reference default (Gopher: Rae et al. 2021, table A1;
C4: Raffel et al. 2020, ``tensorflow_datasets`` ``c4_utils``; BERTIN: de la Rosa et al.
2022), so a preset YAML documents exactly what ran. The step order is fixed:
normalize → length → language → lines (C4) → repetition (Gopher) → quality (Gopher) →
exact dedup → MinHash dedup → perplexity scoring → perplexity sampling → shards.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from seq2seq_es.config import VOLATILE, Seed, StrictModel

SourceKind = Literal["auto", "jsonl", "parquet", "text", "hf"]


class SourceConfig(StrictModel):
    """One input: local files (JSONL(.gz), Parquet, a folder of .txt) or a Hub dataset id."""

    path: str = Field(description="File or folder; for kind=hf the dataset id, e.g. allenai/c4.")
    kind: SourceKind = Field(
        "auto", description="auto: from the file suffixes (jsonl, parquet, txt)."
    )
    name: str | None = Field(
        None,
        description="Tag stored in each document's metadata (corpus_source); "
        "default: the file or dataset name.",
    )
    glob: str | None = Field(None, description="Files to read inside a folder (default by kind).")
    subset: str | None = Field(None, description="kind=hf: the dataset config, e.g. 'es'.")
    split: str = "train"
    text_key: str = "text"
    id_key: str = "id"
    limit: int = Field(-1, description="Read at most this many documents per task (-1: all).")
    perplexity_sampling: bool = Field(
        True, description="Apply perplexity sampling (if enabled) to this source."
    )


class LengthConfig(StrictModel):
    min_chars: int = Field(200, ge=0)
    max_chars: int = Field(1_000_000, ge=1)


class LanguageConfig(StrictModel):
    """py3langid (offline, ships in its wheel) on the first ``prefix_chars`` characters."""

    enabled: bool = True
    language: str = "es"
    min_confidence: float = Field(0.65, ge=0, le=1)
    prefix_chars: int = Field(2000, ge=100)


class LinesConfig(StrictModel):
    """C4 line cleaning (drop lines, then documents left with too few sentences)."""

    enabled: bool = True
    terminal_punctuation: bool = Field(
        True, description="Drop lines not ending in . ! ? … » ” \" ' )"
    )
    min_words_per_line: int = Field(3, ge=0)
    max_word_length: int = Field(1000, ge=1)
    min_sentences: int = Field(5, ge=0)
    drop_javascript_lines: bool = True
    drop_policy_lines: bool = True
    drop_lorem_ipsum: bool = True
    drop_curly_bracket: bool = Field(True, description="C4 drops pages containing '{' (code).")


class RepetitionConfig(StrictModel):
    """Gopher repetition rules (fractions of lines, paragraphs and characters)."""

    enabled: bool = True
    dup_line_frac: float = 0.3
    dup_para_frac: float = 0.3
    dup_line_char_frac: float = 0.2
    dup_para_char_frac: float = 0.2
    top_n_grams: list[tuple[int, float]] = Field(
        default_factory=lambda: [(2, 0.2), (3, 0.18), (4, 0.16)]
    )
    dup_n_grams: list[tuple[int, float]] = Field(
        default_factory=lambda: [(5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10)]
    )


class QualityConfig(StrictModel):
    """Gopher quality rules, with a Spanish stop-word list."""

    enabled: bool = True
    min_words: int = 50
    max_words: int = 100_000
    min_avg_word_length: float = 3
    max_avg_word_length: float = 10
    max_symbol_word_ratio: float = 0.1
    max_bullet_lines_ratio: float = 0.9
    max_ellipsis_lines_ratio: float = 0.3
    min_alpha_words_ratio: float = 0.8
    min_stop_words: int = 2
    stop_words: list[str] | None = Field(
        None, description="Default: seq2seq_es.corpus.spanish.STOP_WORDS."
    )


class DedupConfig(StrictModel):
    """datatrove's exact dedup (hash of the text) and MinHash near-dedup (5-gram shingles)."""

    exact: bool = True
    minhash: bool = True
    # Upper bounds so that a typo is a config error before anything is written: each bucket is
    # a pipeline task with its own files, and a document's signature holds num_buckets ×
    # hashes_per_bucket 64-bit hashes (datatrove's default: 14 × 8).
    n_grams: int = Field(5, ge=1, le=1000)
    num_buckets: int = Field(14, ge=1, le=1024, description="LSH bands: one pipeline task each.")
    hashes_per_bucket: int = Field(8, ge=1, le=1024, description="Rows per band.")
    seed: Seed = 1


class PerplexityConfig(StrictModel):
    """KenLM perplexity per document and BERTIN's Gaussian perplexity sampling.

    With ``model`` unset both are skipped. BERTIN's keep probability is
    ``factor * exp(-((ppl - median) / median)^2 / width)``; their mC4-es values
    (median 662247.5, width 4.5, factor 0.78) belong to the cc_net Spanish Wikipedia
    model with its SentencePiece tokenizer and cc_net normalization.
    """

    model: str | None = Field(
        None, description="KenLM model (.arpa or .bin), e.g. BERTIN's/cc_net's es.arpa.bin."
    )
    sentencepiece_model: str | None = Field(
        None,
        description="Tokenize with this SentencePiece model "
        "first (cc_net's es.sp.model), as the model was trained.",
    )
    cc_net_normalize: bool = Field(
        True,
        description="cc_net's normalization before scoring (lower case, "
        "no accents, digits → 0), as BERTIN.",
    )
    sampling: bool = False
    median: float | None = Field(
        None, gt=0, description="Perplexity median of the corpus; required with sampling."
    )
    width: float = Field(4.5, gt=0)
    factor: float = Field(0.78, gt=0, le=1)
    seed: Seed = 1234

    @model_validator(mode="after")
    def _sampling_needs_median(self) -> PerplexityConfig:
        if self.sampling and (self.model is None or self.median is None):
            raise ValueError(
                "perplexity.sampling needs perplexity.model and perplexity.median (run once with "
                "sampling off: stats.json reports the perplexity quartiles of the kept documents)"
            )
        return self


class SlurmConfig(StrictModel):
    """Passed to datatrove's SlurmPipelineExecutor (one job array per stage)."""

    partition: str = "cpu"
    time: str = "24:00:00"
    cpus_per_task: int = 1
    mem_per_cpu_gb: int = 2
    qos: str = "normal"
    job_name: str = "seq2seq-es-corpus"
    venv_path: str | None = Field(
        None, description="Activate this venv in each job (e.g. .venv/bin/activate)."
    )
    env_command: str | None = None
    sbatch_args: dict[str, str] = Field(default_factory=dict)


class RayConfig(StrictModel):
    """Passed to datatrove's RayPipelineExecutor (needs the `ray` extra)."""

    cpus_per_task: int = 1
    mem_per_cpu_gb: float = 2


class CorpusConfig(StrictModel):
    input: str | None = Field(
        "../shared/data/pretrain/sample.jsonl.gz",
        description="Shorthand for one source: a file or folder (kind from suffixes).",
    )
    sources: list[SourceConfig] = Field(
        default_factory=list, description="Several inputs (replaces `input`)."
    )
    text_key: str = "text"
    id_key: str = "id"
    limit: int = Field(
        -1,
        description="Read at most this many documents per task of each source (-1: all); a "
        "source's own smaller limit wins.",
    )
    output_dir: Annotated[str, VOLATILE] = "runs/corpus"
    output_format: Literal["jsonl.gz", "parquet"] = "jsonl.gz"
    gzip_level: int = Field(
        3,
        ge=1,
        le=9,
        description="jsonl.gz shards: 1 fastest, 9 smallest (level 3: 4x "
        "faster than 9, files 9% larger; benchmarks/RESULTS.md).",
    )
    # How the stages run, not what they produce (VOLATILE): they may differ between a run and
    # its continuation.
    executor: Annotated[Literal["local", "slurm", "ray"], VOLATILE] = "local"
    tasks: int = Field(
        1,
        ge=1,
        description="Parallel tasks of the per-document stages. JSONL files are split "
        "into line pieces across them (corpus/pieces.py); Parquet and text "
        "files are read whole, so at most one task per file.",
    )
    workers: Annotated[int, VOLATILE] = Field(
        1, ge=1, description="local: tasks running at once (processes)."
    )
    slurm: Annotated[SlurmConfig, VOLATILE] = SlurmConfig()
    ray: Annotated[RayConfig, VOLATILE] = RayConfig()
    normalize: bool = True
    length: LengthConfig = LengthConfig()
    language: LanguageConfig = LanguageConfig()
    lines: LinesConfig = LinesConfig()
    repetition: RepetitionConfig = RepetitionConfig()
    quality: QualityConfig = QualityConfig()
    dedup: DedupConfig = DedupConfig()
    perplexity: PerplexityConfig = PerplexityConfig()

    def resolved_sources(self) -> list[SourceConfig]:
        """``sources`` (each capped at ``limit``), or the single source that ``input`` stands
        for."""
        if self.sources:
            return [self._capped(source) for source in self.sources]
        if self.input is None:
            return []
        return [
            SourceConfig(
                path=self.input, text_key=self.text_key, id_key=self.id_key, limit=self.limit
            )
        ]

    def _capped(self, source: SourceConfig) -> SourceConfig:
        """``source`` reading at most ``limit`` documents per task: why a cap, not a default, is
        that ``corpus -c paper-mix.yaml limit=1000`` is a quick try of every source (it was
        ignored with ``sources:``)."""
        if self.limit == -1 or -1 < source.limit <= self.limit:
            return source
        return source.model_copy(update={"limit": self.limit})

    @model_validator(mode="after")
    def _one_kind_of_input(self) -> CorpusConfig:
        if not self.sources and self.input is None:
            raise ValueError("give `input` (a file or folder) or `sources` (a list)")
        # keys of the `input` shorthand, set beside `sources:`, would be silently ignored; a
        # default (or null) is not refused, so a dumped config (config.yaml) validates again
        fields = type(self).model_fields
        shorthand = [
            key
            for key in ("input", "text_key", "id_key")
            if key in self.model_fields_set
            and getattr(self, key) not in (None, fields[key].default)
        ]
        if self.sources and shorthand:
            raise ValueError(
                f"{', '.join(shorthand)} {'is' if len(shorthand) == 1 else 'are'} for the "
                "single `input`, and `sources:` replaces it: set the path and keys on each "
                "source instead (sources: [{path: ..., text_key: ..., id_key: ...}])"
            )
        return self
