"""Pretraining objectives: the noise functions that turn clean text into (input, label) pairs."""
