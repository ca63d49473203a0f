"""The one text normalization every tokenizer of the project applies, in one place.

Why NFC by default: Spanish text arrives both composed (``ñ`` = U+00F1) and decomposed
(``n`` + U+0303); NFC makes them the same bytes without touching case, accents or
compatibility characters (NFKC would turn ``ª``/``º`` into ``a``/``o`` and ``²`` into ``2``,
and T5's default ``nmt_nfkc`` also rewrites whitespace). The same form is applied to the
training sample (here, in Python) and at encoding time (the tokenizer's own normalizer,
saved in ``tokenizer.json``), so training and use see identical text.
"""

from __future__ import annotations

import unicodedata
from typing import Literal

from tokenizers import normalizers

Normalization = Literal["nfc", "nfkc", "none"]


def normalize_text(text: str, form: Normalization) -> str:
    """``text`` in Unicode normal form ``form`` (unchanged for ``"none"``)."""
    if form == "none":
        return text
    return unicodedata.normalize("NFC" if form == "nfc" else "NFKC", text)


def tokenizers_normalizer(form: Normalization) -> normalizers.Normalizer | None:
    """The ``tokenizers`` normalizer doing what ``normalize_text(text, form)`` does."""
    if form == "none":
        return None
    return normalizers.NFC() if form == "nfc" else normalizers.NFKC()
