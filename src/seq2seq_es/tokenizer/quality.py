"""How well a tokenizer fits a language: fertility, split words, ``<unk>`` rate, round trip.

Definitions (after Rust et al. 2021, "How Good is Your Tokenizer?", ACL):

* a *word* is a maximal run of Unicode word characters (regex ``\\w+``: letters, digits,
  underscore), so ``¿Dónde`` holds the word ``Dónde`` and punctuation is not a word;
* a token *covers* a word when their character spans overlap (token offsets from the fast
  tokenizer, so a byte-level token for half of ``ñ`` counts, and a leading ``Ġ``/``▁`` does
  not make a token overlap the previous word);
* **fertility** = tokens covering words / words; **split share** = share of words covered
  by two tokens or more (1 - split share is the share kept whole);
* **unk rate** = ``<unk>`` tokens / all tokens; **round trip** = share of texts with
  ``decode(encode(text)) == text`` exactly (no special tokens, no clean-up of spaces);
* **chars per token** = characters / all tokens (compression, punctuation and spaces included).

All statistics are micro-averages over the whole text set.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from transformers import PreTrainedTokenizerBase

WORD = re.compile(r"\w+")
QUALITY_DEFINITIONS = {
    "word": "maximal run of \\w characters (letters, digits, underscore); punctuation is not a "
    "word",
    "fertility": "tokens overlapping a word / words",
    "split_share": "words overlapped by 2 or more tokens / words",
    "unk_rate": "<unk> tokens / all tokens",
    "round_trip": "texts with decode(encode(text)) == text exactly / texts",
    "chars_per_token": "characters / all tokens",
}


@dataclass(frozen=True)
class TokenizerQuality:
    texts: int
    chars: int
    words: int
    tokens: int
    word_tokens: int
    split_words: int
    unk_tokens: int
    exact_round_trips: int

    @property
    def fertility(self) -> float:
        return self.word_tokens / self.words if self.words else 0.0

    @property
    def split_share(self) -> float:
        return self.split_words / self.words if self.words else 0.0

    @property
    def unk_rate(self) -> float:
        return self.unk_tokens / self.tokens if self.tokens else 0.0

    @property
    def round_trip(self) -> float:
        return self.exact_round_trips / self.texts if self.texts else 0.0

    @property
    def chars_per_token(self) -> float:
        return self.chars / self.tokens if self.tokens else 0.0

    def to_dict(self) -> dict[str, Any]:
        rates = {
            name: round(getattr(self, name), 6)
            for name in ("fertility", "split_share", "unk_rate", "round_trip", "chars_per_token")
        }
        return {**rates, **asdict(self)}


def tokens_per_word(text: str, offsets: Sequence[tuple[int, int]]) -> list[int]:
    """How many tokens (given by their character ``offsets`` in ``text``) cover each word of
    ``text``."""
    words = [match.span() for match in WORD.finditer(text)]
    counts = [0] * len(words)
    first = 0
    for start, end in sorted(offsets):
        if end <= start:
            continue
        while first < len(words) and words[first][1] <= start:
            first += 1
        index = first
        while index < len(words) and words[index][0] < end:
            counts[index] += 1
            index += 1
    return counts


def measure_quality(
    tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], batch_size: int = 256
) -> TokenizerQuality:
    """Encode ``texts`` (batched, fast tokenizer) and compute the statistics defined above."""
    totals = dict.fromkeys(
        (
            "chars",
            "words",
            "tokens",
            "word_tokens",
            "split_words",
            "unk_tokens",
            "exact_round_trips",
        ),
        0,
    )
    unk_id = tokenizer.unk_token_id
    for begin in range(0, len(texts), batch_size):
        batch = list(texts[begin : begin + batch_size])
        encoded = tokenizer(batch, add_special_tokens=False, return_offsets_mapping=True)
        for text, ids, offsets in zip(
            batch, encoded["input_ids"], encoded["offset_mapping"], strict=True
        ):
            counts = tokens_per_word(text, offsets)
            totals["chars"] += len(text)
            totals["words"] += len(counts)
            totals["tokens"] += len(ids)
            totals["word_tokens"] += sum(counts)
            totals["split_words"] += sum(count > 1 for count in counts)
            totals["unk_tokens"] += sum(token_id == unk_id for token_id in ids)
            decoded = tokenizer.decode(
                ids, skip_special_tokens=False, clean_up_tokenization_spaces=False
            )
            totals["exact_round_trips"] += decoded == text
    return TokenizerQuality(texts=len(texts), **totals)
