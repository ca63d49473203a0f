"""The ``corpus`` stage: raw Spanish text → clean, deduplicated shards, on datatrove.

Stages (each a datatrove executor run, chained with ``depends``; every one resumes):

1. ``filter``: read → normalize → length → language ID → C4 lines → Gopher repetition
   → Gopher quality → ``work/filtered/`` (+ exact-dedup signatures)
2. ``exact_find``: find exact duplicates
3. ``minhash_signatures`` (of the documents exact dedup keeps), ``minhash_buckets``,
   ``minhash_cluster``: find near-duplicates
4. ``write``: drop exact and near duplicates → (KenLM perplexity → Gaussian perplexity
   sampling) → shards
5. ``report``: ``stats.json``

Layout of ``output_dir``: ``shards/*.jsonl.gz`` (or ``.parquet``; one object per
document with ``text``, ``id``, ``metadata``), ``rejects/<step>/`` (every dropped
document or unreadable line, with ``metadata.filter_reason``), ``stats.json``,
``logs/<stage>/`` (datatrove's logs, per-task stats and completion markers: a rerun
skips finished tasks; delete ``logs/`` or pick a new ``output_dir`` to start over),
``work/`` (intermediate files and dedup signatures; safe to delete after a run).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datatrove.data import Document
from datatrove.executor.base import PipelineExecutor
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.dedup import (
    MinhashConfig,
    MinhashDedupBuckets,
    MinhashDedupCluster,
    MinhashDedupFilter,
)
from datatrove.pipeline.dedup.exact_dedup import (
    ExactDedupConfig,
    ExactDedupFilter,
    ExactDedupSignature,
    ExactFindDedups,
)
from datatrove.pipeline.writers import JsonlWriter, ParquetWriter

from seq2seq_es.corpus.config import CorpusConfig
from seq2seq_es.corpus.executors import make_executor
from seq2seq_es.corpus.language import LanguageIdFilter
from seq2seq_es.corpus.minhash import CompiledMinhashSignature
from seq2seq_es.corpus.perplexity import GaussianPerplexitySampler, PerplexityScorer
from seq2seq_es.corpus.quality import (
    LineCleaningFilter,
    SpanishGopherQuality,
    SpanishGopherRepetition,
)
from seq2seq_es.corpus.readers import (
    RankFileReader,
    local_files,
    make_reader,
    source_kind,
    source_name,
)
from seq2seq_es.corpus.report import WriteReport
from seq2seq_es.corpus.shards import GzipJsonlWriter, document_record
from seq2seq_es.corpus.steps import LengthFilter, NormalizeText, RejectWriter, Tally
from seq2seq_es.errors import DataError
from seq2seq_es.progress import progress_bar

__all__ = ["CorpusConfig", "build_stages", "run_corpus"]


@dataclass
class Stage:
    name: str
    pipeline: list[PipelineStep]
    tasks: int


def document_text(doc: Document) -> str:
    """What exact dedup hashes: the normalized text."""
    return doc.text


def _rejects(out: Path, step: str, reason: str | None = None) -> RejectWriter:
    return RejectWriter(str(out / "rejects" / step), reason=reason or step)


def _intermediate_writer(folder: Path) -> JsonlWriter:
    return JsonlWriter(
        str(folder), output_filename="${rank}.jsonl", compression=None, adapter=document_record
    )


def _filter_steps(config: CorpusConfig, out: Path) -> list[PipelineStep]:
    """Readers and per-document filters of stage 1, each followed by its ``Tally``."""
    steps: list[PipelineStep] = [
        make_reader(source, _rejects(out / "rejects" / "read", source_name(source), "unreadable"))
        for source in config.resolved_sources()
    ]
    steps.append(Tally("read"))
    if config.normalize:
        steps += [NormalizeText(), Tally("normalize")]
    steps += [
        LengthFilter(config.length.min_chars, config.length.max_chars, _rejects(out, "length")),
        Tally("length"),
    ]
    if config.language.enabled:
        lid = config.language
        steps += [
            LanguageIdFilter(
                lid.language, lid.min_confidence, lid.prefix_chars, _rejects(out, "language")
            ),
            Tally("language"),
        ]
    if config.lines.enabled:
        steps += [LineCleaningFilter(config.lines, _rejects(out, "lines")), Tally("lines")]
    if config.repetition.enabled:
        steps += [
            SpanishGopherRepetition(config.repetition, _rejects(out, "repetition")),
            Tally("repetition"),
        ]
    if config.quality.enabled:
        steps += [SpanishGopherQuality(config.quality, _rejects(out, "quality")), Tally("quality")]
    return steps


def _final_steps(config: CorpusConfig, out: Path) -> list[PipelineStep]:
    """Perplexity scoring and sampling (when a model is given), then the shard writer."""
    steps: list[PipelineStep] = []
    ppl = config.perplexity
    if ppl.model is not None:
        steps += [
            PerplexityScorer(
                ppl.model,
                ppl.sentencepiece_model,
                ppl.cc_net_normalize,
                values_folder=str(out / "work" / "perplexity"),
            ),
            Tally("perplexity"),
        ]
        if ppl.sampling:
            assert ppl.median is not None  # checked by PerplexityConfig
            sampled = {source_name(s) for s in config.resolved_sources() if s.perplexity_sampling}
            steps += [
                GaussianPerplexitySampler(
                    ppl.median, ppl.width, ppl.factor, ppl.seed, sampled, _rejects(out, "sampling")
                ),
                Tally("sampling"),
            ]
    if config.output_format == "parquet":
        steps.append(ParquetWriter(str(out / "shards"), output_filename="${rank}.parquet"))
    else:
        steps.append(GzipJsonlWriter(str(out / "shards"), "${rank}.jsonl.gz", config.gzip_level))
    return steps


def count_tasks(config: CorpusConfig) -> int:
    """Tasks for the per-document stages.

    JSONL files and Hub datasets split across any number of tasks (``corpus/pieces.py``);
    Parquet and text sources are read a whole file per task, so more tasks than their
    files would idle.
    """
    kinds = [(source, source_kind(source)) for source in config.resolved_sources()]
    if any(kind in ("jsonl", "hf") for _, kind in kinds):
        return config.tasks
    most_files = max(len(local_files(source, kind)) for source, kind in kinds)
    return max(1, min(config.tasks, most_files))


def build_stages(config: CorpusConfig, out: Path) -> list[Stage]:
    """The stage list for ``config``; every path lives under ``out``.

    With dedup, the filter stage writes the kept documents to ``work/filtered/`` once;
    later stages read them back. MinHash signatures are taken after exact dedup, so the
    signature stage applies the exact-duplicate list (an index lookup) on the fly, and
    the write stage applies it again, with the MinHash list, instead of an extra copy
    of the corpus on disk between them.
    """
    work = out / "work"
    tasks = count_tasks(config)
    body = _filter_steps(config, out)
    if not (config.dedup.exact or config.dedup.minhash):
        return _with_report(
            config, out, [Stage("filter", [*body, *_final_steps(config, out)], tasks)]
        )
    filtered = work / "filtered"
    stages = [Stage("filter", [*body, _intermediate_writer(filtered)], tasks)]
    final: list[PipelineStep] = [RankFileReader(str(filtered))]
    exact = ExactDedupConfig(content_getter=document_text)

    def drop_exact(rejects: RejectWriter | None) -> ExactDedupFilter:
        return ExactDedupFilter(str(work / "exact_dups"), config=exact, exclusion_writer=rejects)

    if config.dedup.exact:
        stages[0].pipeline.append(ExactDedupSignature(str(work / "exact_sigs"), config=exact))
        stages.append(
            Stage(
                "exact_find",
                [ExactFindDedups(str(work / "exact_sigs"), str(work / "exact_dups"), config=exact)],
                1,
            )
        )
        final += [drop_exact(_rejects(out, "exact_dedup", "exact_duplicate")), Tally("exact_dedup")]
    if config.dedup.minhash:
        d = config.dedup
        minhash = MinhashConfig(
            n_grams=d.n_grams,
            num_buckets=d.num_buckets,
            hashes_per_bucket=d.hashes_per_bucket,
            seed=d.seed,
        )
        signatures = CompiledMinhashSignature(str(work / "minhash_sigs"), config=minhash)
        if config.dedup.exact:
            stages.append(
                Stage(
                    "minhash_signatures",
                    [RankFileReader(str(filtered)), drop_exact(None), signatures],
                    tasks,
                )
            )
        else:
            stages[0].pipeline.append(signatures)
        stages.append(
            Stage(
                "minhash_buckets",
                [
                    MinhashDedupBuckets(
                        str(work / "minhash_sigs"), str(work / "minhash_buckets"), config=minhash
                    )
                ],
                d.num_buckets,
            )
        )
        stages.append(
            Stage(
                "minhash_cluster",
                [
                    MinhashDedupCluster(
                        str(work / "minhash_buckets"),
                        str(work / "minhash_clusters"),
                        config=minhash,
                    )
                ],
                1,
            )
        )
        final += [
            MinhashDedupFilter(
                str(work / "minhash_clusters"),
                exclusion_writer=_rejects(out, "minhash_dedup", "near_duplicate"),
            ),
            Tally("minhash_dedup"),
        ]
    stages.append(Stage("write", [*final, *_final_steps(config, out)], tasks))
    return _with_report(config, out, stages)


def _with_report(config: CorpusConfig, out: Path, stages: list[Stage]) -> list[Stage]:
    """``stages`` and the last one, which sums their stats into ``stats.json``."""
    logs = out / "logs"
    report = WriteReport(
        [(s.name, str(logs / s.name)) for s in stages],
        str(out / "stats.json"),
        str(out / "work" / "perplexity") if config.perplexity.model else None,
    )
    stages.append(Stage("report", [report], 1))
    return stages


def chain_executors(
    config: CorpusConfig, stages: list[Stage], out: Path, quiet: bool = True
) -> list[PipelineExecutor]:
    """One executor per stage, each depending on the one before (its logs in
    ``out/logs/<stage>``)."""
    executors: list[PipelineExecutor] = []
    for stage in stages:
        executors.append(
            make_executor(
                config,
                stage.pipeline,
                stage.name,
                stage.tasks,
                str(out / "logs" / stage.name),
                executors[-1] if executors else None,
                quiet,
            )
        )
    return executors


def _run_with_progress(stages: list[Stage], executors: list[PipelineExecutor]) -> None:
    """Run the local stages in order under one bar (a stage's ``run`` then finds the one it
    depends on finished). Redrawn per stage, without a refresh thread: the tasks are forked."""
    with progress_bar(auto_refresh=False) as bar:
        task = bar.add_task("corpus stages", total=len(stages), status="")
        for stage, executor in zip(stages, executors, strict=True):
            bar.update(task, status=stage.name, refresh=True)
            executor.run()
            bar.update(task, advance=1, refresh=True)
        bar.update(task, status="done", refresh=True)


def run_corpus(config: CorpusConfig, quiet: bool = True) -> dict[str, Any]:
    """Run (or resume) the pipeline; return the ``stats.json`` report.

    With ``executor: slurm`` the jobs are submitted and this returns ``{}``: the report
    stage writes ``stats.json`` when the last job ends.
    """
    out = Path(config.output_dir)
    stages = build_stages(
        config, out
    )  # builds readers: fails early, with a clear message, on a bad path
    out.mkdir(parents=True, exist_ok=True)
    executors = chain_executors(config, stages, out, quiet)
    try:
        if config.executor == "local":
            _run_with_progress(stages, executors)
        else:  # submitted: the last stage's executor submits the chain it depends on
            executors[-1].run()
    except Exception as exc:
        raise DataError(
            f"The corpus pipeline failed ({type(exc).__name__}: {exc}). Task logs: "
            f"{out / 'logs'}/<stage>/logs/. Fix the cause and rerun the same command: "
            "finished tasks are skipped."
        ) from exc
    stats_path = out / "stats.json"
    if config.executor == "slurm" or not stats_path.is_file():
        return {}
    stats: dict[str, Any] = json.loads(stats_path.read_text(encoding="utf-8"))
    return stats
