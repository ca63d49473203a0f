"""Corpus stage: raw Spanish text → clean, sharded JSONL.gz with stats and rejects."""
