"""seq2seq-es: Spanish sequence-to-sequence language models, end to end."""

__version__ = "0.1.0"
