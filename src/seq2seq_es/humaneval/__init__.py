"""Blind human evaluation of generated text: studies, an annotation web app, agreement statistics.

Automatic metrics are weak judges of generated Spanish (ROUGE cannot tell a faithful summary
from a fluent hallucination); this package turns two or more ``predictions.jsonl`` files into
a blind, randomized study, serves it to annotators, and analyzes what they said.
"""
