"""Inference: batched generation into predictions.jsonl."""
