"""Per-vocabulary tables the noise functions need, computed once from a tokenizer.

Why tables: the noise runs in DataLoader workers on every batch, so anything that
depends on the *text* of a token (does it begin a word? is it special? is it a
period?) is looked up in a boolean array indexed by token id, never by decoding.
The tables are plain numpy arrays, so collators holding them pickle cheaply into
workers (the tokenizer itself is not kept).

Two notions of word start, one per noise variant:

* ``fairseq_word_start`` is fairseq's ``get_whole_word_mask``: a token begins a word
  when its text begins with a space (``Ġ`` in byte-level BPE, ``▁`` in SentencePiece)
  or it is one of the special tokens (``<s>``, ``<pad>``, ``</s>``, ``<unk>``,
  ``<mask>``...), and nothing else: the first word of a document (no space before
  it) continues the word of the ``</s>`` before it.
* ``word_starts()`` (the ``exact-ratio`` variant) also treats the token after a line
  break or a special token, and position 0, as a word start, so a paragraph's first
  word is its own word.

``full_stop_id`` is the token ``.`` alone: fairseq's sentence permutation with the
GPT-2 BPE cuts sentences after it (``full_stop_index``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from transformers import PreTrainedTokenizerBase

from seq2seq_es.objectives.sentence_split import TokenSentenceSplitter

WORD_MARKERS = ("Ġ", "▁")  # byte-level BPE space, SentencePiece space


@dataclass(frozen=True, repr=False)
class TokenTables:
    """Boolean tables indexed by token id (length = vocabulary size)."""

    begins_word: np.ndarray  # the token's text begins with whitespace
    ends_with_space: np.ndarray  # the token's text ends with whitespace (e.g. a newline token)
    special: (
        np.ndarray
    )  # <s>, </s>, <pad>, <mask>, sentinels...: never masked, always a word boundary
    random_ids: (
        np.ndarray
    )  # ids a masked token may be replaced by (BART's random_ratio): not special
    sentences: TokenSentenceSplitter
    fairseq_word_start: (
        np.ndarray
    )  # fairseq's mask_whole_words: text begins with a space, or any special
    full_stop_id: int  # the id of the token ".", -1 when the vocabulary has none

    @classmethod
    def from_tokenizer(cls, tokenizer: PreTrainedTokenizerBase) -> TokenTables:
        size = len(tokenizer)
        pieces = [str(piece) for piece in tokenizer.convert_ids_to_tokens(list(range(size)))]
        texts = tokenizer.batch_decode(
            [[i] for i in range(size)], clean_up_tokenization_spaces=False
        )
        special = np.zeros(size, dtype=bool)
        special[[i for i in tokenizer.all_special_ids if i != tokenizer.unk_token_id]] = True
        unknown = np.zeros(size, dtype=bool)
        if tokenizer.unk_token_id is not None:
            unknown[tokenizer.unk_token_id] = True
        return cls.from_texts(texts, special, pieces, unknown)

    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        special: np.ndarray,
        pieces: list[str] | None = None,
        unknown: np.ndarray | None = None,
    ) -> TokenTables:
        """Tables from the decoded text of every id (``pieces``: the raw vocabulary strings;
        ``unknown``: ``<unk>``, a word start for fairseq though we never treat it as special)."""
        pieces = pieces if pieces is not None else texts
        special = np.asarray(special, dtype=bool)
        unknown = np.zeros_like(special) if unknown is None else np.asarray(unknown, dtype=bool)
        begins = np.array(
            [
                p.startswith(WORD_MARKERS) or t[:1].isspace()
                for p, t in zip(pieces, texts, strict=True)
            ]
        )
        ends = np.array([t[-1:].isspace() for t in texts])
        space = np.array(
            [
                p.startswith(WORD_MARKERS) or t.startswith(" ")
                for p, t in zip(pieces, texts, strict=True)
            ]
        )
        full_stops = [i for i, t in enumerate(texts) if t == "." and not special[i]]
        return cls(
            begins_word=begins & ~special,
            ends_with_space=ends & ~special,
            special=special,
            random_ids=np.flatnonzero(~special),
            sentences=TokenSentenceSplitter(texts, special),
            fairseq_word_start=space | special | unknown,
            full_stop_id=full_stops[0] if full_stops else -1,
        )

    def word_starts(self, ids: np.ndarray) -> np.ndarray:
        """Which tokens of ``ids`` begin a word (position 0 always does)."""
        starts = self.begins_word[ids] | self.special[ids]
        if len(ids):
            starts[1:] |= self.ends_with_space[ids[:-1]] | self.special[ids[:-1]]
            starts[0] = True
        return starts
