"""Metrics that are correct for Spanish, with signatures, bootstrap CIs and paired tests.

See ``README.md`` in this folder for what every metric computes and which reference
implementation it is tested against; ``scoring.METRICS`` is the registry.
"""
