"""Metrics that are correct for Spanish, with signatures saying how they were computed."""
