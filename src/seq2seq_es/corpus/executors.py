"""Run one pipeline stage with the executor the config names: local, Slurm or Ray.

The same stage list runs on a laptop (``LocalPipelineExecutor``, the default), on a
Slurm cluster (``SlurmPipelineExecutor``: one job array per stage, chained with
``depends``) or on a Ray cluster (``RayPipelineExecutor``, needs ``pip install
'seq2seq-es[ray]'``). All three skip tasks whose completion marker exists in the
stage's logging folder, which is what makes a rerun resume.
"""

from __future__ import annotations

import contextlib
import functools
import shlex
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from datatrove.executor import LocalPipelineExecutor, SlurmPipelineExecutor
from datatrove.executor.base import PipelineExecutor
from datatrove.pipeline.base import PipelineStep
from loguru import logger

from seq2seq_es.corpus.config import CorpusConfig, SlurmConfig
from seq2seq_es.errors import ConfigError

LOG_FORMAT = "{time:YYYY-MM-DD HH:mm:ss.SSS} | {level: <8} | {name}:{function}:{line} - {message}"


@contextlib.contextmanager
def quiet_task_logs() -> Iterator[None]:
    """Send datatrove's per-task logs to their log file only (no stderr, no progress bars).

    datatrove's ``add_task_logger`` re-adds a stderr sink at INFO level for every task
    and prints a stats block per task, whatever the caller configured; the CLI wants a
    clean terminal and prints its own summary. The log files keep everything.
    """
    import datatrove.executor.base as base
    import tqdm
    from datatrove.pipeline.dedup import exact_dedup, minhash

    def add_task_logger(
        logging_dir: Any, rank: int, local_rank: int = 0, node_rank: int = -1
    ) -> Any:
        logger.remove()
        logfile = logging_dir.open(f"logs/task_{rank:05d}.log", "w")
        logger.add(logfile, colorize=False, level="DEBUG", format=LOG_FORMAT)
        logger.info(f"Launching pipeline for {rank=}")
        return logfile

    def close_task_logger(logfile: Any) -> None:
        logger.complete()
        logger.remove()
        logfile.close()

    # tqdm reads TQDM_DISABLE at import time, so silence the dedup modules' bars directly.
    bars = {module: module.tqdm for module in (exact_dedup, minhash)}
    saved = base.add_task_logger, base.close_task_logger
    base.add_task_logger, base.close_task_logger = add_task_logger, close_task_logger
    for module in bars:
        module.tqdm = functools.partial(tqdm.tqdm, disable=True)
    try:
        yield
    finally:
        base.add_task_logger, base.close_task_logger = saved
        for module, bar in bars.items():
            module.tqdm = bar


@contextlib.contextmanager
def logs_off(module: str) -> Iterator[None]:
    """No loguru records from ``module`` inside the block."""
    logger.disable(module)
    try:
        yield
    finally:
        logger.enable(module)


class QuietLocalExecutor(LocalPipelineExecutor):
    """``LocalPipelineExecutor`` whose tasks log to files only when ``quiet``."""

    def __init__(self, *args: Any, quiet: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.quiet = quiet

    def _run_for_rank(self, rank: int, local_rank: int = 0, node_rank: int = -1) -> Any:
        with quiet_task_logs() if self.quiet else contextlib.nullcontext():
            return super()._run_for_rank(rank, local_rank, node_rank)


class SlurmStageExecutor(SlurmPipelineExecutor):
    """datatrove's ``SlurmPipelineExecutor`` without its ``merge_stats`` job after each stage.

    That job sums a stage's per-task stats into ``logs/<stage>/stats.json``; nothing reads
    it (the ``report`` stage sums the per-task files into ``stats.json`` itself), and each
    one is a job start of a few seconds competing with the next stage for a CPU.
    """

    def launch_merge_stats(self) -> None:
        return None


def job_environment(slurm: SlurmConfig) -> str | None:
    """The shell line a Slurm job runs before the pipeline (``None``: activate ``venv_path``).

    datatrove's jobs start ``launch_pickled_pipeline``, a script of the environment that
    has datatrove installed; a job's shell starts from the submitting shell's environment,
    whose ``PATH`` need not hold it (``python -m`` from a venv that was never activated).
    Unless the config says how to get an environment, the jobs put the submitting
    Python's folder first on ``PATH``: they run the same interpreter and packages, which
    on a cluster's shared filesystem is what the user means.
    """
    if slurm.env_command or slurm.venv_path:
        return slurm.env_command
    return f"export PATH={shlex.quote(str(Path(sys.executable).parent))}:$PATH"


def make_executor(
    config: CorpusConfig,
    pipeline: list[PipelineStep | Callable[..., Any]],
    stage: str,
    tasks: int,
    logging_dir: str,
    depends: PipelineExecutor | None,
    quiet: bool,
) -> PipelineExecutor:
    """The executor for one stage, chained after ``depends``."""
    if config.executor == "local":
        # fork, not datatrove's default forkserver: a forkserver worker re-imports numba,
        # datatrove and our steps for every stage (~1 s per stage here); the tasks use no
        # threads or locks of the parent (they log to files and touch no console).
        return QuietLocalExecutor(
            pipeline=pipeline,
            tasks=tasks,
            workers=min(config.workers, tasks),
            start_method="fork",
            logging_dir=logging_dir,
            depends=depends,
            quiet=quiet,
        )
    if config.executor == "slurm":
        slurm = config.slurm
        return SlurmStageExecutor(
            pipeline=pipeline,
            tasks=tasks,
            time=slurm.time,
            partition=slurm.partition,
            cpus_per_task=slurm.cpus_per_task,
            mem_per_cpu_gb=slurm.mem_per_cpu_gb,
            qos=slurm.qos,
            job_name=f"{slurm.job_name}-{stage}",
            venv_path=slurm.venv_path,
            env_command=job_environment(slurm),
            sbatch_args=dict(slurm.sbatch_args) or None,
            logging_dir=logging_dir,
            slurm_logs_folder=f"{logging_dir}/slurm_logs",
            depends=depends,
        )
    try:
        import ray  # noqa: F401
    except ImportError:
        raise ConfigError(
            "executor: ray needs the `ray` package: pip install 'seq2seq-es[ray]' "
            "(or use executor: local / slurm)."
        ) from None
    from datatrove.executor.ray import RayPipelineExecutor

    # Each stage's executor warns that a local logging folder must be shared with the Ray
    # workers; once (the first stage's) is enough.
    with contextlib.nullcontext() if depends is None else logs_off("datatrove.executor.ray"):
        return RayPipelineExecutor(
            pipeline=pipeline,
            tasks=tasks,
            workers=config.workers,
            logging_dir=logging_dir,
            depends=depends,
            cpus_per_task=config.ray.cpus_per_task,
            mem_per_cpu_gb=config.ray.mem_per_cpu_gb,
        )
