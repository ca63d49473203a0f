"""Per-vocabulary tables the noise functions need, computed once from a tokenizer.

Why tables: the noise runs in DataLoader workers on every batch, so anything that
depends on the *text* of a token (does it begin a word? is it special? is it a
period?) is looked up in a boolean array indexed by token id, never by decoding.
The tables are plain numpy arrays, so collators holding them pickle cheaply into
workers (the tokenizer itself is not kept).

Word starts follow fairseq's ``get_whole_word_mask`` for the GPT-2 byte-level BPE
(a token begins a word when its text begins with a space, ``Ġ``); we also count the
SentencePiece marker ``▁`` and, unlike fairseq, treat the token after a line break
or a special token as a word start, so a paragraph's first word is its own word.
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
    special: np.ndarray  # <s>, </s>, <pad>, <mask>, sentinels...: never masked, always a word boundary
    random_ids: np.ndarray  # ids a masked token may be replaced by (BART's random_ratio): not special
    sentences: TokenSentenceSplitter

    @classmethod
    def from_tokenizer(cls, tokenizer: PreTrainedTokenizerBase) -> TokenTables:
        size = len(tokenizer)
        pieces = [str(piece) for piece in tokenizer.convert_ids_to_tokens(list(range(size)))]
        texts = tokenizer.batch_decode([[i] for i in range(size)], clean_up_tokenization_spaces=False)
        special = np.zeros(size, dtype=bool)
        special[[i for i in tokenizer.all_special_ids if i != tokenizer.unk_token_id]] = True
        return cls.from_texts(texts, special, pieces)

    @classmethod
    def from_texts(cls, texts: list[str], special: np.ndarray, pieces: list[str] | None = None) -> TokenTables:
        """Tables from the decoded text of every id (``pieces``: the raw vocabulary strings)."""
        pieces = pieces if pieces is not None else texts
        special = np.asarray(special, dtype=bool)
        begins = np.array([p.startswith(WORD_MARKERS) or t[:1].isspace() for p, t in zip(pieces, texts, strict=True)])
        ends = np.array([t[-1:].isspace() for t in texts])
        return cls(begins_word=begins & ~special, ends_with_space=ends & ~special, special=special,
                   random_ids=np.flatnonzero(~special), sentences=TokenSentenceSplitter(texts, special))

    def word_starts(self, ids: np.ndarray) -> np.ndarray:
        """Which tokens of ``ids`` begin a word (position 0 always does)."""
        starts = self.begins_word[ids] | self.special[ids]
        if len(ids):
            starts[1:] |= self.ends_with_space[ids[:-1]] | self.special[ids[:-1]]
            starts[0] = True
        return starts
