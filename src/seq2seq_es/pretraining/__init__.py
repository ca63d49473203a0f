"""Pretraining recipes: the denoising objectives applied to corpus shards with the training engine.

A recipe layer of its own, beside ``tasks`` (fine-tuning recipes), so that ``training``
stays the engine (loop, checkpoints, optimizers) and knows no model family or noise.
``config`` holds the ``pretrain`` schema (light); ``pretrain`` runs it.
"""
