"""Tokenizer stage: train BARTO's byte-level BPE (and later T5S's unigram) vocabularies."""
