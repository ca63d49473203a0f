"""Downstream tasks: a registry of data sets, preprocessing, and decoding settings."""
