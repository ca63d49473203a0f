"""Experiment grids: models × tasks × seeds run as CLI steps, cached, resumable; leaderboards and plots."""
