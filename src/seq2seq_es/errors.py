"""The project's exception types.

Every error a user can cause (bad config, missing file, broken data) is a
``Seq2SeqEsError`` carrying a message that says what went wrong *and what to do*.
The CLI prints that message without a traceback and exits with code 2; anything
else is a bug and keeps its traceback.
"""

from __future__ import annotations


class Seq2SeqEsError(Exception):
    """Base class for errors caused by user input (config, data, paths)."""

    exit_code = 2


class ConfigError(Seq2SeqEsError):
    """A config file is missing, unreadable, or does not validate."""


class DataError(Seq2SeqEsError):
    """Input data is missing, unreadable or malformed (names file and line)."""


class CheckpointError(Seq2SeqEsError):
    """A checkpoint is missing, partial, corrupt, or incompatible with the config."""


class DivergenceError(Seq2SeqEsError):
    """The training loss became NaN or infinite (the message names the step and the
    checkpoint)."""


class TokenizerError(DataError):
    """A tokenizer folder is missing or holds no usable tokenizer (every stage raises this one)."""
