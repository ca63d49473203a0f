"""Tokenizer stage: train BARTO's byte-level BPE and T5S's unigram vocabularies, and report their
quality.

Modules: ``bpe`` and ``unigram`` (the two trainers), ``sampling`` and ``normalization``
(what both train on), ``save`` (the Hugging Face folder), ``train`` (the ``tokenizer``
command), ``quality`` and ``report`` (the ``tokenizer-report`` command).
"""
