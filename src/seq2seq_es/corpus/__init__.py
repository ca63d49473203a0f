"""Corpus stage: raw Spanish text → clean, deduplicated, sharded JSONL.gz/Parquet, with stats and
rejects.

Run it with ``seq2seq-es corpus --config configs/corpus/local.yaml`` (or ``paper-mix.yaml``).
The pipeline is a list of datatrove stages (see ``pipeline.py``); ``executor:`` picks
where they run, with no other change to the config:

- ``local`` (default): ``LocalPipelineExecutor``, ``workers`` processes on this machine.
- ``slurm``: ``SlurmPipelineExecutor``, one job array per stage chained with job
  dependencies; set ``slurm.partition``, ``slurm.time``, ``slurm.venv_path`` (or
  ``slurm.env_command``), ``slurm.sbatch_args``. The command returns once the jobs are
  submitted; the last job writes ``stats.json``. Rerunning the command resubmits only
  unfinished tasks.
- ``ray``: ``RayPipelineExecutor`` on the Ray cluster of the current environment
  (``ray start`` / ``RAY_ADDRESS``); needs ``pip install 'seq2seq-es[ray]'``.

Every executor skips tasks with a completion marker under ``output_dir/logs/<stage>/``,
so an interrupted run resumes where it stopped. Later stages read the shards through
``text_files.iter_texts``.
"""
