"""Experiment grids: models × tasks × seeds run as CLI steps, cached, resumable; leaderboards and
plots.

``seq2seq-es bench -c configs/bench/<grid>.yaml`` (``--dry-run`` lists the cells). Modules:
``config`` (the schema), ``grid`` (expansion, step hashes), ``status`` (each job's
status.json), ``job`` (one job's steps as subprocesses), ``runner`` (a whole grid, locally),
``executors`` (submitit / commands file), ``leaderboard``, ``plots``, ``network``.
"""
